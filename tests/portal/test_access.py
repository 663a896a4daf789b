"""The portal's doors: signing in, the offer list with its filter, a new offer, and a narrow screen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.client import Api, offer_doc, unique
from tests.images.builder import build_linux_vhd
from tests.portal.browser import Portal, open_tab, shot

pytestmark = pytest.mark.e2e


def test_new_offer_list_filter_and_narrow_screen(portal: Portal, api: Api, tmp_path: Path) -> None:
    offer = unique("portal-new")
    page = portal.open("/offers", width=360, height=780)
    page.get_by_role("button", name="New offer").click()
    dialog = page.get_by_role("dialog", name="New offer")
    dialog.get_by_label("Offer ID").fill(offer)
    dialog.get_by_label("Offer name").fill("Brand new offer")
    dialog.get_by_role("button", name="Create").click()
    expect(page).to_have_url(re.compile(f"#/offers/{offer}/editor$"))
    plans = open_tab(page, "Plans and images")
    expect(plans.locator(".problem")).to_contain_text("At least one plan is required")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "12-narrow-editor-new-offer")

    page.get_by_role("link", name="All offers").first.click()
    page.get_by_label("Filter").fill(offer)
    rows = page.locator("table.offers tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Brand new offer")
    expect(rows.first).to_contain_text("Never published")
    page.get_by_label("Status", exact=True).select_option("running")
    expect(rows).to_have_count(0)
    page.get_by_label("Status", exact=True).select_option("")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "13-narrow-all-offers")

    rows.first.get_by_role("link", name=re.compile("Status of")).click()
    expect(page.locator(".overview .badge")).to_have_text("Never published")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "14-narrow-status")


def test_sign_in_with_a_token(portal: Portal, api: Api, tmp_path: Path) -> None:
    offer = unique("portal-signin")
    assert api.put(offer, offer_doc(build_linux_vhd(tmp_path / "os.vhd"))).status_code == 201
    page = portal.open_signed_out(f"/offers/{offer}/status")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Publisher ID").fill(portal.publisher)
    page.get_by_label("API token").fill("ofp_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Sign-in failed")
    assert page.evaluate("sessionStorage.length") == 0
    shot(page, "00-sign-in-refused")
    page.get_by_label("API token").fill(portal.token)
    page.get_by_role("button", name="Sign in").click()
    # Back where the publisher was going, and the token never appears in the address.
    expect(page).to_have_url(re.compile(f"#/offers/{offer}/status$"))
    expect(page.locator(".overview .badge")).to_have_text("Never published")
    assert portal.token not in page.url
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
