"""The publisher portal in a real browser, against the whole running pipeline.

Each test drives the portal the way a publisher would (clicks and typing), and checks the API only to
prove that what the page shows is what happened.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.client import Api, offer_doc, unique
from tests.images.builder import build_linux_vhd, build_variant
from tests.portal.browser import Portal, open_tab, shot

pytestmark = pytest.mark.e2e

M = "microsoft-azure-marketplace."
PIPELINE = 150_000  # ms: a whole run to sign-off on a busy two-core machine


def step(page: Page, step_id: str) -> Locator:
    return page.locator(f'li.step[data-step="{step_id}"]')


def watch_steps(page: Page) -> None:
    """Records every step status the page shows, and marks the document so a reload would be noticed."""
    page.evaluate("""() => {
        window.__notReloaded = true;
        window.__seen = new Set();
        const note = () => document.querySelectorAll('li.step').forEach(
            (li) => window.__seen.add(li.dataset.step + ':' + li.dataset.status));
        note();
        new MutationObserver(note).observe(document.querySelector('main'), {subtree: true, childList: true});
    }""")


def seen(page: Page) -> set[str]:
    return set(page.evaluate("[...window.__seen]"))


def incomplete_offer(tmp_path: Path, image: Path | None = None) -> dict[str, Any]:
    doc = offer_doc(image or build_linux_vhd(tmp_path / "os.vhd"))
    offer = doc["definition"]["offer"]
    del offer[M + "title"], offer[M + "summary"]
    offer[M + "supportContactEmail"] = ""
    return doc


def publish_from_editor(page: Page, emails: str) -> None:
    page.get_by_role("button", name="Publish", exact=True).click()
    dialog = page.get_by_role("dialog", name="Publish offer")
    dialog.get_by_label("Notification emails").fill(emails)
    dialog.get_by_role("button", name="Publish").click()


def test_publish_to_live_by_clicking(portal: Portal, api: Api, tmp_path: Path) -> None:
    offer = unique("portal")
    assert api.put(offer, incomplete_offer(tmp_path)).status_code == 201
    page = portal.open(f"/offers/{offer}/editor")

    # Validation's findings sit next to their fields, counted on each section's tab.
    expect(page.locator("details.summary summary")).to_have_text("3 fields to fix before publishing")
    expect(page.get_by_role("tab", name=re.compile("^Marketplace"))).to_contain_text("2")
    market = open_tab(page, "Marketplace")
    title = market.get_by_label(re.compile(r"^Title"))
    expect(title).to_have_attribute("aria-invalid", "true")
    field = market.locator(".field").filter(has=page.get_by_role("textbox", name=re.compile("^Title")))
    expect(field.locator(".problem")).to_contain_text("Title is required")
    shot(page, "01-editor-warnings")

    title.fill("Portal Demo Linux")
    market.get_by_label(re.compile(r"^Summary")).fill("A small Linux image published from the portal.")
    support = open_tab(page, "Support")
    support.get_by_label("Customer support contact email").fill("help@portal.example")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".alert-ok")).to_have_text("No problems found: the offer is ready to publish.")
    expect(page.locator("[aria-invalid=true]")).to_have_count(0)
    assert api.http.get(api.offer_url(offer), params={"api-version": "2017-10-31"}).json()[
        "definition"]["offer"][M + "title"] == "Portal Demo Linux"
    shot(page, "02-editor-fixed")

    # Publish asks for the notification emails and refuses a bad one.
    page.get_by_role("button", name="Publish", exact=True).click()
    dialog = page.get_by_role("dialog", name="Publish offer")
    dialog.get_by_label("Notification emails").fill("owner@portal.example, not-an-address")
    dialog.get_by_role("button", name="Publish").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Not an email address: not-an-address")
    shot(page, "03-publish-dialog")
    dialog.get_by_label("Notification emails").fill("owner@portal.example, team@portal.example")
    dialog.get_by_role("button", name="Publish").click()

    # The Status tab opens and follows the run live, without a reload.
    expect(page).to_have_url(re.compile(f"#/offers/{offer}/status$"))
    expect(page.locator(".live-state")).to_have_attribute("data-state", "live")
    watch_steps(page)
    expect(step(page, "publisher-signoff")).to_have_attribute("data-status", "waitingForPublisherReview",
                                                              timeout=PIPELINE)
    assert page.evaluate("window.__notReloaded") is True
    states = seen(page)
    assert "displaycertify:complete" in states and "publisher-signoff:waitingForPublisherReview" in states, states
    assert len(states) >= 3, f"the page should have shown the run advancing, saw only {states}"
    for sid in ("displaydummycertify", "displaycertify", "displayprovision", "displaystaging", "displaypackage"):
        expect(step(page, sid)).to_have_attribute("data-status", "complete")
        expect(step(page, sid).locator("progress")).to_have_attribute("value", "100")
    expect(step(page, "displaydummycertify").locator(".step-facts")).to_contain_text("Estimated time")
    expect(page.locator("#report-h")).to_contain_text("Pass")
    expect(page.locator(".preview-links a")).to_have_count(1)
    expect(page.locator(".timeline li").first).to_be_visible()
    expect(page.get_by_role("button", name="Go live")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel publication")).to_be_visible()
    shot(page, "04-status-signoff")

    page.get_by_role("button", name="Go live").click()
    expect(step(page, "live")).to_have_attribute("data-status", "complete", timeout=PIPELINE)
    expect(page.locator(".overview .badge")).to_have_text("Live")
    expect(page.get_by_role("button", name="Go live")).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True
    shot(page, "05-status-live")

    live_link = page.locator(".live-links a").first
    with page.expect_popup() as popup:
        live_link.click()
    live = popup.value
    live.wait_for_load_state()
    expect(live.locator("body")).to_contain_text("Portal Demo Linux")
    assert httpx.get(live.url).status_code == 200
    shot(live, "06-live-page")
    live.close()

    # Compare: a draft change shows against the live version, field by field.
    page.get_by_role("link", name="Editor").click()
    title = open_tab(page, "Marketplace").get_by_label(re.compile(r"^Title"))
    title.fill("Portal Demo Linux 2")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".save-state")).to_have_text("Saved")
    page.get_by_role("link", name="Compare").click()
    row = page.locator("table.compare tr", has=page.locator("code", has_text=f"/offer/{M}title"))
    expect(row).to_contain_text("Portal Demo Linux 2")
    expect(row.locator("td").nth(2)).to_have_text("Portal Demo Linux")
    expect(row.locator("td.differs")).to_have_count(3)
    shot(page, "07-compare")


def test_failed_certification_shows_report_next_steps_and_support(portal: Portal, api: Api,
                                                                   tmp_path: Path) -> None:
    offer = unique("portal-fail")
    bad = build_variant(tmp_path / "bad.vhd", "dynamic")
    assert api.put(offer, offer_doc(bad)).status_code == 201
    page = portal.open(f"/offers/{offer}/editor")
    expect(page.locator(".alert-ok")).to_be_visible()
    publish_from_editor(page, "owner@portal.example")
    expect(page).to_have_url(re.compile("/status$"))

    cert = step(page, "displaycertify")
    expect(cert).to_have_attribute("data-status", "failed", timeout=PIPELINE)
    expect(page.locator(".overview .badge")).to_have_text("Failed")
    failure = cert.locator(".failure")
    expect(failure).to_contain_text("Certification failed")
    expect(failure).to_contain_text("Next steps:")
    expect(cert.locator(".msg-error").first).to_be_visible()
    expect(step(page, "displayprovision")).to_have_attribute("data-status", "notStarted")
    expect(page.locator("#report-h")).to_contain_text("Fail")
    expect(page.locator("table.tests tr.test-fail").first).to_be_visible()
    expect(page.get_by_role("button", name="Go live")).to_have_count(0)
    shot(page, "08-status-failed")

    # The support dialog: Esc closes it and gives focus back; sending it opens a request.
    opener = failure.get_by_role("button", name="Open support request")
    opener.click()
    dialog = page.get_by_role("dialog", name="Open a support request")
    expect(dialog.get_by_label("Title")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()
    opener.click()
    dialog.get_by_label("Description").fill("The image is a dynamic VHD; how do I convert it?")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_contain_text(re.compile(r"Support request sr-[0-9a-f]+ is open"))
    shot(page, "09-support-request")
    history = api.http.get(api.offer_url(offer, "/history"), params={"api-version": "2017-10-31"}).json()
    assert any(e["action"] == "support" and e["outcome"] == "opened" for e in history)


def test_cancel_at_signoff(portal: Portal, api: Api, tmp_path: Path) -> None:
    offer = unique("portal-cancel")
    assert api.put(offer, offer_doc(build_linux_vhd(tmp_path / "os.vhd"))).status_code == 201
    page = portal.open(f"/offers/{offer}/status")
    expect(page.locator(".overview .badge")).to_have_text("Never published")
    expect(page.get_by_role("button", name="Cancel publication")).to_have_count(0)
    assert api.publish(offer, "owner@portal.example").status_code == 202

    expect(step(page, "publisher-signoff")).to_have_attribute("data-status", "waitingForPublisherReview",
                                                              timeout=PIPELINE)
    page.get_by_role("button", name="Cancel publication").click()
    dialog = page.get_by_role("dialog", name="Cancel publication?")
    dialog.get_by_role("button", name="Cancel publication").click()
    expect(page.locator(".overview .badge")).to_have_text("Canceled")
    # Back at step 1 (issue 10): every step not started, and step 1 says why and what to do.
    for sid in ("displaydummycertify", "publisher-signoff", "live"):
        expect(step(page, sid)).to_have_attribute("data-status", "notStarted")
    expect(step(page, "displaydummycertify").locator(".msg-text")).to_contain_text("back at step 1")
    expect(page.get_by_role("button", name="Go live")).to_have_count(0)
    expect(page.locator(".preview-links")).to_have_count(0)
    assert api.status(offer)["status"] == "canceled"
    shot(page, "10-status-canceled")


def test_stale_save_is_a_conflict_not_an_overwrite(portal: Portal, api: Api, tmp_path: Path) -> None:
    offer = unique("portal-etag")
    doc = offer_doc(build_linux_vhd(tmp_path / "os.vhd"))
    assert api.put(offer, doc).status_code == 201
    page = portal.open(f"/offers/{offer}/editor")
    expect(page.locator(".alert-ok")).to_be_visible()

    # Keyboard: arrow keys move between the section tabs.
    first = page.get_by_role("tab", name="Offer settings")
    first.focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name=re.compile("^Plans and images"))).to_be_focused()
    expect(page.get_by_role("tab", name=re.compile("^Plans and images"))).to_have_attribute("aria-selected", "true")

    theirs = api.http.get(api.offer_url(offer), params={"api-version": "2017-10-31"}).json()
    theirs["definition"]["offer"][M + "summary"] = "Changed by a script meanwhile."
    assert api.put(offer, theirs, "*").status_code == 200

    open_tab(page, "Marketplace").get_by_label(re.compile(r"^Summary")).fill("Changed in the portal.")
    page.get_by_role("button", name="Save").click()
    alert = page.locator(".conflict")
    expect(alert).to_contain_text("someone else changed this offer")
    expect(page.locator(".save-state")).to_have_text("Not saved")
    stored = api.http.get(api.offer_url(offer), params={"api-version": "2017-10-31"}).json()
    assert stored["definition"]["offer"][M + "summary"] == "Changed by a script meanwhile."
    shot(page, "11-editor-conflict")

    alert.get_by_role("button", name=re.compile("^Load their version")).click()
    expect(open_tab(page, "Marketplace").get_by_label(re.compile(r"^Summary"))).to_have_value(
        "Changed by a script meanwhile.")
