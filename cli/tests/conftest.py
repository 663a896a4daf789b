from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from offerflow_cli import client
from offerflow_cli.fakeapi import FakeApi
from offerflow_cli.main import _register, app

CONN = ["--api-url", "http://api.test", "--publisher", "demo", "--token", "tok"]
Invoke = Callable[..., Result]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeApi]:
    fake = FakeApi()
    monkeypatch.setattr(client, "TRANSPORT", fake.transport())
    monkeypatch.chdir(tmp_path)  # no stray .run/endpoints.json
    for var in [v for v in os.environ if v.startswith("OFFERFLOW_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("OFFERFLOW_POLL_INTERVAL", "0")
    yield fake


@pytest.fixture
def cli() -> Invoke:
    _register()
    runner = CliRunner()

    def invoke(*args: str, conn: bool = True, input: str | None = None) -> Result:
        argv = list(args) + (CONN if conn else [])
        return runner.invoke(app, argv, input=input)

    return invoke
