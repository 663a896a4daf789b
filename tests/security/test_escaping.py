"""Markup planted in every publisher-controlled field never comes out as markup.

Where it can come out: the status JSON (`messageHtml`, escaped text), the mails (HTML part escaped, text
part verbatim), the portal (text nodes only: shown literally, never double-escaped) and the product pages
(escaped, the description sanitised). The first test renders a product page directly (no stack); the
others plant the markup through the public API and read everything the real stack produces.
"""

from __future__ import annotations

import email
import email.policy
import json
import time
from collections.abc import Iterator
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect
from stack import Stack

from offerflow_contract.events import OfferSnapshot
from offerflow_packaging.assets import Assets
from offerflow_packaging.listing import build_listing
from offerflow_packaging.render import render_page
from tests.e2e.client import Api, offer_doc, unique
from tests.images.builder import build_linux_vhd
from tests.offers.factory import IMAGES, VM, M
from tests.portal.browser import Portal
from tests.portal.conftest import browser, portal  # noqa: F401  (browser fixtures, shared with tests/portal)

IMG = "<img src=x onerror=alert(1)>"  # 28 characters: fits the 50-character fields
BREAK = '"><script>alert(2)</script>'
HOSTILE = IMG + BREAK
ESCAPED_IMG = "&lt;img src=x onerror=alert(1)&gt;"
# The validation message that quotes a SAS permission (no spaces: the URL must stay a URL).
SAS_MARKUP = "<svg/onload=alert(3)>"


class Tags(HTMLParser):
    """What a browser would build from a document: every element and attribute that could run script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "svg", "iframe", "object", "embed"):
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.bad.append(f"<{tag} {name}>")
            if name in ("href", "src") and (value or "").strip().lower().startswith("javascript:"):
                self.bad.append(f"<{tag} {name}={value}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.bad.append("<img src=x>")


def assert_inert(document: str, where: str) -> None:
    tags = Tags()
    tags.feed(document)
    assert not tags.bad, f"{where}: {tags.bad}"


def hostile_definition(doc: dict[str, Any]) -> dict[str, Any]:
    """Markup in every free-text field an offer has (each within its length limit)."""
    d = doc["definition"]
    o = d["offer"]
    d["displayText"] = IMG
    o[M + "title"] = IMG
    o[M + "summary"] = HOSTILE
    o[M + "longSummary"] = HOSTILE
    o[M + "description"] = f"<p>kept</p>{HOSTILE}"
    o[M + "termsOfUse"] = HOSTILE
    o[M + "publisherDisplayName"] = IMG
    o[M + "usefulLinks"] = [{"linkTitle": IMG, "linkUrl": "https://example.com/docs"}]
    for key in ("engineeringContactName", "supportContactName"):
        o[M + key] = IMG
    plan = d["plans"][0]
    plan[VM + "skuTitle"] = IMG
    plan[VM + "skuSummary"] = HOSTILE
    plan[VM + "skuDescription"] = HOSTILE
    plan[VM + "operationSystem"] = IMG
    return doc


def test_product_page_escapes_every_listing_value(tmp_path: Path) -> None:
    doc = hostile_definition(offer_doc(build_linux_vhd(tmp_path / "os.vhd")))
    doc["definition"]["offer"][M + "privacyURL"] = f"https://example.com/p?{BREAK}"
    doc["definition"]["plans"][0][VM + "recommendedVMSizes"] = [IMG]
    snapshot = OfferSnapshot(offer_version=1, definition=doc["definition"], notification_emails=["a@b.test"])
    listing = build_listing("pub", "vm", snapshot, [], Assets())
    for preview in (True, False):
        page = render_page(listing, preview=preview, audience_size=1)
        assert_inert(page, f"page preview={preview}")
        assert f"<h1>{ESCAPED_IMG}</h1>" in page  # shown as text, not dropped
        assert "<p>kept</p>" in page  # the description keeps its simple HTML


# --- the real stack ----------------------------------------------------------------------------------------


@pytest.fixture
def api(stack: Stack, e2e_token: str) -> Api:
    return Api(stack.api_url, e2e_token)


@pytest.fixture
def tab(portal: Portal) -> Iterator[Page]:  # noqa: F811
    page = portal.open("/offers")
    alerts: list[str] = []
    def on_dialog(dialog: Dialog) -> None:
        alerts.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page
    assert not alerts, f"planted script ran: {alerts}"


def mails_to(stack: Stack, address: str, count: int, timeout: float = 60) -> list[EmailMessage]:
    deadline = time.monotonic() + timeout
    got: list[EmailMessage] = []
    while time.monotonic() < deadline:
        got = []
        for path in sorted(stack.mail_dir.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            if address in str(msg.get("To") or ""):
                got.append(msg)
        if len(got) >= count:
            return got
        time.sleep(0.3)
    raise AssertionError(f"{len(got)} mails to {address}, wanted {count}")


def check_mails(msgs: list[EmailMessage]) -> tuple[str, str]:
    """Every HTML part is inert; returns all HTML and all text, to look for the planted values."""
    htmls, texts = [], []
    for msg in msgs:
        html_part, text_part = msg.get_body(("html",)), msg.get_body(("plain",))
        assert html_part is not None and text_part is not None
        assert_inert(html_part.get_content(), str(msg["Subject"]))
        htmls.append(html_part.get_content())
        texts.append(text_part.get_content())
    return "\n".join(htmls), "\n".join(texts)


def check_status_json(api: Api, offer: str) -> list[dict[str, Any]]:
    doc = api.status(offer)
    messages = [m for s in doc["steps"] for m in s["messages"]]
    for m in messages:
        assert "<" not in m["messageHtml"] and ">" not in m["messageHtml"], m
    assert "<" not in json.dumps(doc.get("previewLinks", [])), doc["previewLinks"]
    return messages


def check_portal_dom(page: Page, base: str, offer: str) -> None:
    for screen in ("status", "editor", "compare"):
        page.goto("about:blank")
        page.goto(f"{base}/portal/#/offers/{offer}/{screen}")
        expect(page.locator(".page-head h1")).to_have_text(IMG)  # the title shown literally
        page.wait_for_timeout(500)
        bad = page.evaluate("""() => [...document.querySelectorAll('*')].flatMap((el) =>
            [...el.attributes].filter((a) => a.name.startsWith('on')).map((a) => `${el.tagName} ${a.name}`)
            .concat(el.tagName === 'IMG' && el.getAttribute('src') === 'x' ? ['IMG src=x'] : [])
            .concat(el.tagName === 'SCRIPT' && el.type !== 'module' ? ['SCRIPT'] : []))""")
        assert not bad, (screen, bad)
        assert "&lt;" not in page.locator("main").inner_text(), f"{screen} shows escaped text"


@pytest.mark.e2e
def test_planted_markup_stays_text_in_status_mails_portal_and_pages(
    stack: Stack, api: Api, portal: Portal, tab: Page, tmp_path: Path  # noqa: F811
) -> None:
    offer = unique("escape")
    owner = f"{offer}@e2e.example"
    doc = hostile_definition(offer_doc(build_linux_vhd(tmp_path / "os.vhd")))
    assert api.put(offer, doc).status_code == 201, "markup is text: the API stores it"
    r = api.publish(offer, f"{owner},{BREAK.replace(' ', '')}@e2e.example")
    assert r.status_code in (202, 400), r.text  # an address with markup is either refused or kept as text
    if r.status_code == 400:
        assert api.publish(offer, owner).status_code == 202
    status = api.wait_status(offer, lambda d: d["status"] in ("waitingForPublisherReview", "failed"), timeout=240)
    assert status["status"] == "waitingForPublisherReview", status
    check_status_json(api, offer)

    # The product page (as the whitelisted subscription sees it) and in a browser: nothing runs.
    link = status["previewLinks"][0]
    page = httpx.get(link)
    assert page.status_code == 200
    assert_inert(page.text, "preview page")
    assert ESCAPED_IMG in page.text
    tab.goto(link)
    expect(tab.locator("h1")).to_have_text(IMG)
    check_portal_dom(tab, stack.api_url, offer)

    # A support request with markup in its title and description: the acknowledgement mail escapes it.
    r = api.http.post(api.offer_url(offer, "/support"), params={"api-version": "2017-10-31"},
                      json={"title": HOSTILE, "description": HOSTILE, "runId": status["runId"]})
    assert r.status_code == 201, r.text
    html, text = check_mails(mails_to(stack, owner, 3))  # accepted, preview ready, support request
    assert ESCAPED_IMG in html and HOSTILE in text


@pytest.mark.e2e
def test_a_message_quoting_markup_is_escaped_once_and_shown_literally(
    stack: Stack, api: Api, portal: Portal, tab: Page, tmp_path: Path  # noqa: F811
) -> None:
    """Validation quotes the publisher's value in its message: the value must come out as text everywhere."""
    offer = unique("escape-msg")
    owner = f"{offer}@e2e.example"
    doc = hostile_definition(offer_doc(build_linux_vhd(tmp_path / "os.vhd")))
    sas = f"https://example.com/c/os.vhd?sv=2020-08-04&sr=c&sp={SAS_MARKUP}&sig=x"
    for image in doc["definition"]["plans"][0][IMAGES].values():
        image["osVhdUrl"] = sas
    assert api.put(offer, doc).status_code == 201
    assert api.publish(offer, owner).status_code == 202
    status = api.wait_status(offer, lambda d: d["status"] == "failed", timeout=180)
    messages = check_status_json(api, offer)
    quoted = [m for m in messages if "&lt;svg/onload=alert(3)&gt;" in m["messageHtml"]]
    assert quoted, [m["messageHtml"] for m in messages]
    assert not any("&amp;lt;" in m["messageHtml"] for m in messages), "escaped twice"

    html, text = check_mails(mails_to(stack, owner, 2))  # accepted, validation failed
    assert "&lt;svg/onload=alert(3)&gt;" in html and SAS_MARKUP in text

    tab.goto(f"{stack.api_url}/portal/#/offers/{offer}/status")
    failed = tab.locator("li.step[data-step=displaydummycertify]")
    expect(failed.locator(".msg-text", has_text=SAS_MARKUP).first).to_be_visible()
    check_portal_dom(tab, stack.api_url, offer)
    assert status["runId"]
