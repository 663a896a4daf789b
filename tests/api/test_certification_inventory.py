"""The certification report and its package inventory, from the API of the real stack and from `offerflow certify`
on the same image: the same TestIDs and results, the same packages (JSON and CSV)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from stack import Stack
from typer.testing import CliRunner

from offerflow_cli import main as cli_main
from tests.e2e.client import Api, V, offer_doc, unique
from tests.images import packages as pk
from tests.images.builder import build_linux_vhd

pytestmark = pytest.mark.e2e
DPKG = "/var/lib/dpkg/status"


def _cli(image: Path, inventory: Path) -> dict[str, Any]:
    cli_main._register()
    result = CliRunner().invoke(cli_main.app, ["certify", str(image), "--json", "--inventory", str(inventory)])
    assert result.exit_code in (0, 1), result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _certified(api: Api, image: Path) -> str:
    """Publishes an offer of ``image`` and waits for its certification outcome; returns the operation URL."""
    offer = unique("inventory")
    api.put(offer, offer_doc(image))
    op = str(api.publish(offer).headers["Location"]).split("?")[0]
    api.wait_status(offer, lambda d: any(s["id"] == "displaycertify" and s["status"] in ("complete", "failed")
                                         for s in d["steps"]) or d["status"] == "failed")
    return op


def test_api_and_cli_report_the_same_tests_and_inventory(api: Api, tmp_path: Path) -> None:
    # openssh before its fix: test 50 fails, so the run stops at certification with the inventory attached.
    image = build_linux_vhd(tmp_path / "os.vhd", tree_overrides={DPKG: pk.dpkg_status(pk.JAMMY_REGRESSHION)})
    local = _cli(image, tmp_path / "local.json")
    _cli(image, tmp_path / "local.csv")
    op = _certified(api, image)

    body = api.http.get(f"{op}/certification", params=V).json()
    [disk] = body["reports"]
    assert disk["Tests"] == local["Tests"]  # same numbers, keys, results and values
    by_key = {t["TestKey"]: t for t in disk["Tests"]}
    assert by_key["linux.security_threats"]["TestID"] == 50 and by_key["linux.security_threats"]["Result"] == "Failed"
    assert by_key["linux.bash_history"]["TestID"] == 48 and by_key["vhd.cookie"]["TestID"] == 1002
    assert disk["packages"] == {"format": "dpkg", "database": DPKG, "total": len(pk.JAMMY_REGRESSHION),
                                "listed": len(pk.JAMMY_REGRESSHION)}

    inv = api.http.get(f"{op}/certification/inventory", params=V)
    assert inv.status_code == 200, inv.text
    assert inv.headers["X-Package-Total"] == str(len(pk.JAMMY_REGRESSHION))
    whole = json.loads((tmp_path / "local.json").read_text())
    assert inv.json()["packages"] == whole["packages"] and inv.json()["truncated"] is False
    assert ("openssh-server", "1:8.9p1-3ubuntu0.6", "openssh") in {
        (p["name"], p["version"], p["source"]) for p in inv.json()["packages"]}

    csv = api.http.get(f"{op}/certification/inventory", params={**V, "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    assert csv.content == (tmp_path / "local.csv").read_bytes()


def test_no_inventory_is_a_404_and_another_publisher_sees_nothing(api: Api, stack: Stack, tmp_path: Path) -> None:
    from stack import create_publisher

    image = build_linux_vhd(tmp_path / "os.vhd", tree_overrides={DPKG: None, "/etc/waagent.conf": None})
    op = _certified(api, image)
    r = api.http.get(f"{op}/certification/inventory", params=V)
    assert r.status_code == 404 and "No package inventory" in r.json()["error"]["message"]
    other = Api(stack.api_url, create_publisher(stack, "inventory-other"), publisher="inventory-other")
    r = other.http.get(f"{op}/certification/inventory".replace("/publishers/e2e/", "/publishers/inventory-other/"),
                       params=V)
    assert r.status_code == 404
