"""The staging step on the portal's Status tab: each plan's checks and its console log, as text, with a download.

The run is published for real; its staging outcome is put on the staging topic (tests/api/staging_seed.py), the
way the staging service writes it, and the page shows it live.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, expect
from stack import Stack

from tests.api.staging_seed import (
    CONSOLE,
    HOSTILE_LINE,
    failed_report,
    produce_staging,
    published_to_staging,
    staging_failure,
    staging_paused,
)
from tests.e2e.client import Api, unique
from tests.portal.browser import Portal, shot

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def _no_real_staging(stack: Stack) -> Iterator[None]:
    with staging_paused(stack):
        yield


def test_the_status_tab_shows_the_staging_checks_and_the_console_as_text(
        stack: Stack, portal: Portal, api: Api, tmp_path: Path) -> None:
    from tests.images.builder import build_linux_vhd

    offer = unique("portal-staging")
    run_id = published_to_staging(api, offer, build_linux_vhd(tmp_path / "os.vhd"), "owner@e2e.example")
    page = portal.open(f"/offers/{offer}/status")
    alerts: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        alerts.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    step = page.locator('li.step[data-step="displaystaging"]')
    expect(step.locator(".step-name")).to_have_text("Staging deployment")

    # The outcome arrives while the page is open: the stream brings it, no reload.
    produce_staging(stack, api, offer, run_id, staging_failure(["owner@e2e.example"], failed_report("standard")))
    expect(step).to_have_attribute("data-status", "failed", timeout=60_000)
    plan = step.locator('.staging-plan[data-plan="standard"]')
    expect(plan.locator(".staging-summary")).to_have_text("the kernel started; the root file system was not mounted")
    rows = plan.locator("table.staging-checks tbody tr")
    expect(rows).to_have_count(4)
    kernel = plan.locator('tr[data-check="kernel"]')
    expect(kernel.locator("th")).to_have_text("Kernel started")
    expect(kernel.locator("td").nth(0)).to_have_text("Passed")
    expect(kernel.locator("td").nth(1)).to_have_text("Linux version 6.1.0")
    expect(kernel.locator("td.seconds")).to_have_text("2.4 s")
    root = plan.locator('tr[data-check="root-fs"]')
    expect(root.locator("td").nth(0)).to_have_text("Failed")
    expect(root.locator("td.seconds")).to_have_text("—")
    expect(step.locator(".failure")).to_contain_text("Read the failed check and the console log")

    # The console: the whole text in a <pre> that scrolls by itself; the planted markup is characters, not nodes.
    pre = plan.locator("pre.console")
    expect(pre).to_contain_text("probing device 59")
    assert pre.evaluate("e => e.textContent") == CONSOLE
    assert pre.evaluate("e => e.children.length") == 0
    assert page.locator("pre.console img").count() == 0
    assert pre.evaluate("e => e.scrollHeight > e.clientHeight && getComputedStyle(e).overflowY === 'auto'")
    assert HOSTILE_LINE.split(" ")[0] in pre.inner_text()

    # The download gives the console route's text.
    link = plan.get_by_role("link", name="Download the console log")
    expect(link).to_be_visible()
    with page.expect_download() as got:
        link.click()
    download = got.value
    assert download.suggested_filename == f"{run_id}-standard-console.txt"
    assert Path(download.path()).read_text() == CONSOLE
    shot(page, "20-staging-failed-console")
    assert not alerts
