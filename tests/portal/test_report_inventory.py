"""The certification report in the portal: the original TestIDs, and the package inventory as a download."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.client import Api, offer_doc, unique
from tests.images import packages as pk
from tests.images.builder import build_linux_vhd
from tests.portal.browser import Portal, shot

pytestmark = pytest.mark.e2e
PIPELINE = 150_000


def test_report_shows_test_ids_and_downloads_the_inventory(portal: Portal, api: Api, tmp_path: Path) -> None:
    offer = unique("portal-inventory")
    image = build_linux_vhd(tmp_path / "os.vhd",
                            tree_overrides={"/var/lib/dpkg/status": pk.dpkg_status(pk.JAMMY_REGRESSHION)})
    assert api.put(offer, offer_doc(image)).status_code == 201
    assert api.publish(offer).status_code == 202
    page = portal.open(f"/offers/{offer}/status")
    expect(page.locator("#report-h")).to_contain_text("Fail", timeout=PIPELINE)

    row = page.locator('table.tests tr[data-test="linux.security_threats"]')
    expect(row.locator("td.test-id")).to_have_text("50")
    expect(row).to_contain_text("Security threats")
    expect(row).to_contain_text("openssh-server 1:8.9p1-3ubuntu0.6")
    expect(page.locator('table.tests tr[data-test="linux.bash_history"] td.test-id')).to_have_text("48")
    inventory = page.locator(".disk-report p.inventory")
    expect(inventory).to_contain_text(f"Installed packages: {len(pk.JAMMY_REGRESSHION)}")
    shot(page, "30-report-inventory")

    with page.expect_download() as got:
        inventory.get_by_role("button", name="Download CSV").click()
    assert re.fullmatch(r".+-packages\.csv", got.value.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text())))
    assert {(r["name"], r["version"], r["source"]) for r in rows} == {
        (p.name, p.version, p.source or p.name) for p in pk.JAMMY_REGRESSHION}

    with page.expect_download() as got:
        inventory.get_by_role("button", name="Download JSON").click()
    body = json.loads(Path(got.value.path()).read_text())
    assert body["total"] == len(pk.JAMMY_REGRESSHION) and body["format"] == "dpkg"
