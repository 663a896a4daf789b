"""``make up`` runs with every guard on: the stack's environment switches none off, and every service's settings,
read from that environment exactly as the service reads them at start, keep every ``allow_*`` switch off.

A development stack that only works with private targets or ``file://`` allowed is a stack where an attacker
with a publisher account reaches our network and files (issue 13); the named endpoints of the dev object stores
are the only exceptions, and they are not a switch.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from stack import Ports, Stack

# An environment variable that turns a guard off, whatever its service prefix.
SWITCH = re.compile(r"ALLOW_(PRIVATE|FILE|UNSAFE|LOOPBACK|LOCAL|INSECURE|HTTP\b|ANY)|INSECURE|SKIP_VERIFY|NO_VERIFY")
SERVICES = ("validation", "certification", "provisioning", "staging", "packaging", "notifier", "status_api")


@pytest.fixture
def stack_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """What ``make up`` hands every process, without whatever the test runner's own shell happens to export."""
    for name in list(os.environ):
        if name.startswith("OFFERFLOW_"):
            monkeypatch.delenv(name)
    stack = Stack(run_dir=tmp_path / ".run", ports=Ports(), objectstores_file=tmp_path / ".run/objectstores.json")
    # The one file a service refuses to start without (the infrastructure writes it): a one-region map.
    stack.stores_dir.mkdir(parents=True, exist_ok=True)
    (stack.stores_dir / "regions.json").write_text(json.dumps(
        {"regions": [{"name": "us", "endpoint_url": "https://127.0.0.1:9000", "bucket": "replicas"}]}))
    env = {k: v for k, v in stack.env().items() if k.startswith("OFFERFLOW_")}
    assert env, "Stack.env() names no OFFERFLOW_ setting: the test would check nothing"
    return env


def test_the_stack_environment_sets_no_guard_switch(stack_env: dict[str, str]) -> None:
    switches = {k: v for k, v in stack_env.items() if SWITCH.search(k)}
    assert switches == {}, f"make up turns guards off: {switches}"


def _switches_on(model: BaseModel, where: str) -> list[str]:
    """Every ``allow_*`` switch that is on (a bool set, or a non-empty list like ALLOW_UNSAFE's).

    Named exceptions (``allowed_*``: the dev stack's own endpoints) are not switches and are not counted.
    """
    found = []
    for name in type(model).model_fields:
        value: Any = getattr(model, name)
        if isinstance(value, BaseModel):
            found += _switches_on(value, f"{where}.{name}")
        elif name.startswith("allow_") and value:
            found.append(f"{where}.{name}={value!r}")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_reads_its_guards_on_from_the_stack_environment(
        service: str, stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in stack_env.items():
        monkeypatch.setenv(name, value)
    settings_type = importlib.import_module(f"offerflow_{service}.settings").Settings
    settings = settings_type()
    on = _switches_on(settings, service)
    assert not on, f"{service} runs under make up with guards off: {on}"
