"""Every Deployment's probes ask for paths its process really serves: liveness /healthz, readiness /readyz.

The process is started through its own console script with the Deployment's environment, the way its container
starts it, except that the server at the end (uvicorn for the API, the Faust worker for the others) is replaced by
a recorder; the paths are then read from the app the script built and would have served."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import faust
import pytest
from cryptography.fernet import Fernet

from offerflow_shared import logs

from .manifests import settings_from, with_files
from .test_k8s import DEPLOYMENTS, OFFERFLOW, container, env_of, mounted_files, script_of

PROBES = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}


def deployment_env(name: str, where: Path) -> dict[str, str]:
    """The container's env with its mounted files; the Secret template's placeholder key replaced by a real key of
    the same kind, as the real Secret holds (the process builds its cipher from it at start)."""
    env = with_files(env_of(container(name)), mounted_files(name), where)
    if "OFFERFLOW_SECRETS_KEY" in env:
        env["OFFERFLOW_SECRETS_KEY"] = Fernet.generate_key().decode()
    return env


def served_paths(script: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The HTTP paths ``script`` serves when started with exactly ``env``."""
    settings_from(script, env, monkeypatch)  # sets the env (and fails clearly if it does not validate)
    built: list[Any] = []

    class Recorder:  # stands in for faust.Worker: the app is complete by the time the worker would run it
        def __init__(self, app: Any, **_: Any) -> None:
            built.append(app)

        def execute_from_commandline(self) -> None:
            return None

    import uvicorn

    monkeypatch.setattr(faust, "Worker", Recorder)  # offerflow_shared.worker.run starts faust.Worker
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: built.append(app))
    monkeypatch.setattr(logs, "configure", lambda *_, **__: None)  # the test run keeps its own logging
    (target,) = [ep for ep in entry_points(group="console_scripts") if ep.name == script]
    target.load()()
    (app,) = built
    if hasattr(app, "routes"):  # FastAPI
        return {str(getattr(route, "path", "")) for route in app.routes}
    return {str(path) for path in app.web.views}


@pytest.mark.parametrize("name", OFFERFLOW)
def test_probes_ask_for_paths_the_process_serves(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = container(name)
    for probe, path in PROBES.items():
        assert c[probe]["httpGet"]["path"] == path, f"{name} {probe}"
    assert c["startupProbe"]["httpGet"]["path"] == PROBES["livenessProbe"], name
    caplog.set_level(logging.WARNING)
    paths = served_paths(script_of(c), deployment_env(name, tmp_path), monkeypatch)
    assert set(PROBES.values()) <= paths, f"{name} serves {sorted(paths)}"


def test_the_recorder_sees_only_what_is_served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The check above can fail: a path no process serves is not found in the recorded app."""
    c = container("validation")
    paths = served_paths(script_of(c), deployment_env("validation", tmp_path), monkeypatch)
    assert "/metrics" in paths and "/nonexistent" not in paths and "/" not in paths


def test_mailpit_is_probed_on_its_own_paths() -> None:
    """Mailpit (not built here) has no /healthz: its probes are the /livez and /readyz its server registers
    (server/server.go of the pinned release), both open without the UI's basic auth."""
    c = container("mailpit")
    assert (c["livenessProbe"]["httpGet"]["path"], c["readinessProbe"]["httpGet"]["path"]) == ("/livez", "/readyz")
    assert set(DEPLOYMENTS) == {*OFFERFLOW, "mailpit"}
