"""`pip install offerflow-cli` is a light publisher tool; the certifier and ops tools come with extras."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI_DIR = Path(__file__).resolve().parents[1]
HEAVY = {"faust-streaming", "asyncpg", "fastapi", "uvicorn", "libfsntfs-python", "aiokafka", "offerflow-shared",
         "offerflow-certification", "offerflow-status-api"}


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "uv is needed to install the CLI into a fresh environment"
    return found


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("cli") / "venv"
    subprocess.run([_uv(), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run([_uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(CLI_DIR)],
                   check=True, timeout=300)
    return venv


def test_the_plain_install_has_no_runtime_libraries(plain_install: Path) -> None:
    listed = subprocess.run([_uv(), "pip", "list", "--format", "freeze", "--python",
                             str(plain_install / "bin" / "python")], check=True, capture_output=True, text=True)
    names = {line.split("==")[0].lower() for line in listed.stdout.splitlines() if "==" in line}
    assert "offerflow-contract" in names and "typer" in names
    assert not names & HEAVY, names & HEAVY


def test_publisher_commands_work_and_extra_commands_say_what_to_install(plain_install: Path) -> None:
    exe = str(plain_install / "bin" / "offerflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERFLOW_")}
    shown = subprocess.run([exe, "offers", "--help"], capture_output=True, text=True, env=env)
    assert shown.returncode == 0 and "publish" in shown.stdout
    for argv, extra in ((["certify", "disk.vhd", "--json"], "certify"), (["dlq", "list", "--all"], "ops"),
                        (["projection", "rebuild"], "ops"), (["trace", "offer-1"], "ops")):
        done = subprocess.run([exe, *argv], capture_output=True, text=True, env=env)
        assert done.returncode == 2, (argv, done.stdout, done.stderr)
        assert f"pip install 'offerflow-cli[{extra}]'" in done.stderr, done.stderr
