"""`offerflow stage`: exit 2 for input that cannot be booted at all, 1 for a disk that fails a check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offerflow_cli import main as cli_main

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    cli_main._register()
    result = runner.invoke(cli_main.app, ["stage", *args])
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_unreadable_or_not_a_disk_exits_2(tmp_path: Path) -> None:
    code, out = invoke(str(tmp_path / "absent.vhd"), "--json")
    assert code == 2 and "not a file" in json.loads(out)["error"]
    text = tmp_path / "notes.txt"
    text.write_text("not a disk\n")
    code, out = invoke(str(text))
    assert code == 2 and "not a disk" in out


def test_a_disk_without_boot_signature_exits_1(tmp_path: Path) -> None:
    image = tmp_path / "blank.raw"
    image.write_bytes(bytes(1024 * 1024))
    code, out = invoke(str(image), "--json")
    report = json.loads(out)
    assert code == 1 and report["first_missing"] == "boot-loader" and "55aa" in report["checks"][0]["actual"]


def test_missing_qemu_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = tmp_path / "loader.raw"
    image.write_bytes(b"\xeb\xfe" + bytes(508) + b"\x55\xaa" + bytes(1024 * 1024))  # boot code: a jump to itself
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, out = invoke(str(image), "--json")
    assert code == 2 and "not installed" in json.loads(out)["error"]
