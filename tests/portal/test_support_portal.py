"""The publisher's support requests in the portal: the failure mail's support link opens the request made about
that run (the form when there is none), the conversation reads as text, a reply opens an answered request
again, and a closed one offers no reply."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from stack import Stack

from tests.e2e.client import Api, V, offer_doc, unique
from tests.images.builder import build_variant
from tests.portal.browser import Portal, shot

pytestmark = pytest.mark.e2e
HOSTILE = "<b>not bold</b> & <script>alert(1)</script>"


def failed_run(api: Api, tmp_path: Path) -> tuple[str, str]:
    offer = unique("portal-desk")
    api.put(offer, offer_doc(build_variant(tmp_path / "dyn.vhd", "dynamic")))
    assert api.publish(offer).status_code == 202
    return offer, api.wait_status(offer, lambda d: d["status"] == "failed", timeout=180)["runId"]


def test_the_support_link_opens_the_runs_request_where_the_publisher_replies_and_closes(
        stack: Stack, portal: Portal, api: Api, tmp_path: Path) -> None:
    offer, run_id = failed_run(api, tmp_path)
    link = f"/offers/{offer}/status?support=displaycertify&run={run_id}"

    # No request about the run yet: the link opens the form on the Status tab, as before.
    page = portal.open(link)
    expect(page.get_by_role("dialog", name="Open a support request")).to_be_visible()
    page.context.close()

    r = api.http.post(api.offer_url(offer, "/support"), params=V,
                      json={"title": "Disk refused", "description": HOSTILE, "runId": run_id})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    admin = httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {stack.admin_token}"})
    assert admin.post(f"/admin/support/{rid}/answer", json={"message": "Use a fixed-size VHD.",
                                                            "by": "alice"}).status_code == 200
    own = f"/api/publishers/e2e/support/{rid}"

    def shown(pred: Any) -> None:
        for _ in range(100):
            if pred(api.http.get(own, params=V).json()):
                return
            time.sleep(0.3)
        raise AssertionError("the read model never showed the change")

    shown(lambda d: d.get("status") == "answered")

    # Now the same link opens that request, not the form.
    page = portal.open(link)
    expect(page).to_have_url(re.compile(f"#/support/{rid}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Disk refused")
    talk = page.get_by_role("list", name="Conversation")
    expect(talk.locator("li")).to_have_count(2)
    expect(talk.locator("li").nth(0).locator(".msg-text")).to_have_text(HOSTILE)  # text, never markup
    expect(talk.locator("li").nth(1)).to_contain_text("Support (alice)")
    expect(talk.locator("li").nth(1).locator(".msg-text")).to_have_text("Use a fixed-size VHD.")
    expect(page.locator(".page-head .badge")).to_have_text("Answered: waiting for you")
    shot(page, "support-01-answered")

    # An empty reply is refused on the page; a real one opens the request again.
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("alert")).to_contain_text("Write a reply first")
    page.get_by_label(re.compile("Reply to support")).fill("It is fixed size already.")
    page.get_by_role("button", name="Send reply").click()
    expect(talk.locator("li")).to_have_count(3, timeout=30_000)
    expect(page.locator(".page-head .badge")).to_have_text("Open: waiting for support")

    page.get_by_role("button", name="Close request").click()
    expect(page.get_by_text("This request is closed.")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Send reply")).to_have_count(0)
    shot(page, "support-02-closed")
    assert api.http.get(own, params=V).json()["status"] == "closed"

    # The list: every request of the publisher, this one closed; the top bar leads there.
    page.get_by_role("link", name="Support", exact=True).click()
    row = page.locator(f'tr[data-request="{rid}"]')
    expect(row).to_contain_text("Closed")
    expect(row.get_by_role("link", name=offer)).to_be_visible()
    # A closed request is no longer what the link means: the form opens again.
    page.goto(f"{stack.api_url}/portal/#{link}")
    expect(page.get_by_role("dialog", name="Open a support request")).to_be_visible()


def test_another_publishers_request_is_not_shown(portal: Portal) -> None:
    page = portal.open("/support/sr-000000000000")
    expect(page.get_by_role("alert")).to_contain_text("There is no such support request")
