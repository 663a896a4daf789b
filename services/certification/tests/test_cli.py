"""`offerflow certify`: the same certifier, exit codes 0 / 1 / 2, every broken test named."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from offerflow_cli import main as cli_main
from tests.images.builder import build_linux_vhd, build_variant

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    cli_main._register()
    result = runner.invoke(cli_main.app, ["certify", *args])
    return result.exit_code, result.output


def test_a_good_image_passes_with_exit_0(tmp_path: Path) -> None:
    code, out = invoke(str(build_linux_vhd(tmp_path / "ok.vhd")), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["TestResult"] == "Pass"
    assert doc["OSName"] == "Ubuntu 22.04.4 LTS"
    assert set(doc["Tests"][0]) == {"TestID", "TestKey", "TestCaseName", "Description", "Result", "ActualValue",
                                    "RequiredValue"}
    numbers = {t["TestKey"]: t["TestID"] for t in doc["Tests"]}
    assert numbers["linux.bash_history"] == 48 and numbers["linux.security_threats"] == 50
    assert numbers["vhd.cookie"] == 1002


def test_a_broken_image_names_each_broken_test_with_exit_1(tmp_path: Path) -> None:
    image = build_linux_vhd(tmp_path / "bad.vhd", tree_overrides={
        "/etc/waagent.conf": b"AutoUpdate.Enabled=n\n", "/etc/machine-id": b"abc\n",
        "/root/.ssh/authorized_keys": b"ssh-ed25519 AAAA x\n"})
    code, out = invoke(str(image), "--json")
    failed = {t["TestKey"] for t in json.loads(out)["Tests"] if t["Result"] == "Failed"}
    assert code == 1
    assert failed == {"linux.auto_update", "linux.generalized", "linux.default_credentials"}
    code, text = invoke(str(image))
    assert code == 1
    assert "TestResult: Fail: Auto Update, Default Credentials, Generalized Image" in " ".join(text.split())


def test_a_dynamic_disk_fails_and_an_unreadable_one_exits_2(tmp_path: Path) -> None:
    code, out = invoke(str(build_variant(tmp_path / "d.vhd", "dynamic")), "--json")
    assert code == 1 and [t["TestKey"] for t in json.loads(out)["Tests"] if t["Result"] == "Failed"] == [
        "vhd.disk_type"]
    code, _ = invoke(str(tmp_path / "absent.vhd"))
    assert code == 2
    code, out = invoke(str(build_variant(tmp_path / "t.vhd", "tiny-file")), "--json")
    assert code == 2 and "shorter than" in json.loads(out)["Error"]
