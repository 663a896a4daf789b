"""The portal's sign-in against the real API: a link never signs anyone in, the form does, and no URL the
browser loads or keeps carries the token (issue 13, sessions)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from tests.e2e.client import Api, offer_doc, unique
from tests.images.builder import build_linux_vhd
from tests.portal.browser import Portal, shot

pytestmark = pytest.mark.e2e

WARNING = "Links never sign you in"


def recorded(page: Page) -> list[Request]:
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))
    return requests


def fresh_tab(portal: Portal) -> Page:
    """A tab of a new browser context whose first navigation is the link (as when it is clicked in a mail)."""
    context = portal.browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("pageerror", lambda e: portal.errors.append(str(e)))
    portal.pages.append(page)
    return page


LINKS = [
    "/portal/#publisher={publisher}&token={token}&next=/offers/{offer}/status",  # what `make up` used to print
    "/portal/#/offers/{offer}/status?token={token}&publisher={publisher}",
    "/portal/?token={token}&publisher={publisher}#/offers/{offer}/status",
]


@pytest.mark.parametrize("already_open", [False, True], ids=["new-tab", "portal-open"])
@pytest.mark.parametrize("link", LINKS, ids=["fragment", "route-query", "query-string"])
def test_a_link_with_a_token_signs_no_one_in_and_leaves_the_address_bar(
    portal: Portal, api: Api, tmp_path: Path, link: str, already_open: bool
) -> None:
    offer = unique("portal-link")
    assert api.put(offer, offer_doc(build_linux_vhd(tmp_path / "os.vhd"))).status_code == 201
    page = portal.open_signed_out("/signin") if already_open else fresh_tab(portal)
    requests = recorded(page)
    page.goto(portal.base + link.format(publisher=portal.publisher, token=portal.token, offer=offer))

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(WARNING)
    assert portal.token not in page.url and "token=" not in page.url, page.url
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert not [r.url for r in requests if "/api/" in r.url], "the link made the portal call the API"
    # Going back and forth finds no entry with the token: the one the link made was replaced, not kept.
    page.go_back()
    assert portal.token not in page.url, page.url
    page.go_forward()
    expect(page).to_have_url(re.compile(rf"/portal/#/signin\?link=1&next=%2Foffers%2F{offer}%2Fstatus$"))
    expect(page.get_by_role("alert")).to_contain_text(WARNING)
    shot(page, f"15-link-with-token-refused-{LINKS.index(link)}-{int(already_open)}")

    # The form signs in, and the route the link asked for is where the publisher lands.
    portal.sign_in(page)
    expect(page).to_have_url(re.compile(f"/portal/#/offers/{offer}/status$"))
    expect(page.locator(".overview .badge")).to_have_text("Never published")
    assert portal.token not in page.url


def test_the_form_signs_in_and_no_request_url_carries_the_token(portal: Portal, api: Api, tmp_path: Path) -> None:
    offer = unique("portal-form")
    assert api.put(offer, offer_doc(build_linux_vhd(tmp_path / "os.vhd"))).status_code == 201
    page = portal.open_signed_out(f"/offers/{offer}/status")
    requests = recorded(page)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    portal.sign_in(page)
    expect(page).to_have_url(re.compile(f"#/offers/{offer}/status$"))
    # The status tab follows the stream: it must be open (the page says so) before the requests are checked.
    expect(page.get_by_text("Live: this page updates by itself")).to_be_visible()
    page.goto(f"{portal.base}/portal/#/offers/{offer}/editor")
    expect(page.get_by_role("tab", name="Plans and images")).to_be_visible()
    page.goto(f"{portal.base}/portal/#/offers")
    expect(page.get_by_role("heading", name="All offers")).to_be_visible()

    urls = [r.url for r in requests]
    api_calls = [r for r in requests if "/api/" in r.url]
    stream = [r for r in api_calls if r.url.split("?")[0].endswith("/status/stream")]
    assert stream, urls
    assert len(api_calls) >= 4, urls
    for r in requests:
        assert portal.token not in r.url, r.url
        assert "token" not in r.url.lower(), r.url
    for r in api_calls:
        # Every API call, the stream included, carries the token in the header and nowhere else.
        assert r.all_headers().get("authorization") == f"Bearer {portal.token}", r.url
        assert re.fullmatch(r"[^?]*\?api-version=[0-9-]+", r.url), r.url
    assert page.evaluate("localStorage.length") == 0 and page.evaluate("document.cookie") == ""
    assert portal.token in page.evaluate("JSON.stringify(sessionStorage)")
    assert portal.token not in page.url

    # A fresh tab of the same browser knows nothing: sessionStorage is per tab.
    other = page.context.new_page()
    other.goto(f"{portal.base}/portal/#/offers")
    expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
    other.close()


def test_a_wrong_token_in_the_form_is_refused(portal: Portal) -> None:
    page = portal.open_signed_out("/offers")
    portal.sign_in(page, token="ofp_not-a-token")
    expect(page.get_by_role("alert")).to_contain_text("Sign-in failed")
    assert page.evaluate("sessionStorage.length") == 0
    assert "ofp_not-a-token" not in page.url
