"""Every link of every mail leads somewhere real: the mail-link crawl over a happy, a failing and a canceled run.

Portal links are loaded in a signed-in browser and must show the linked offer on the linked screen (the
support link with its form open); preview and live links must answer 200 with the offer's title. Preview
links are treated as opaque URLs: they only have to work while the preview is open.
"""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect
from stack import Stack

from tests.e2e.client import Api, offer_doc, unique
from tests.images.builder import build_linux_vhd
from tests.portal.browser import Portal
from tests.portal.conftest import browser, portal  # noqa: F401  (browser fixtures, shared with tests/portal)

pytestmark = pytest.mark.e2e

M = "microsoft-azure-marketplace."
URL = re.compile(r"https?://[^\s<>\"']+")


@pytest.fixture
def api(stack: Stack, e2e_token: str) -> Api:
    return Api(stack.api_url, e2e_token)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v for k, v in attrs if tag == "a" and k == "href" and v]


def mails(stack: Stack, address: str) -> list[EmailMessage]:
    out = []
    for path in sorted(stack.mail_dir.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        if address in str(msg.get("To") or ""):
            out.append(msg)
    return out


def wait_mails(stack: Stack, address: str, *subjects: str, timeout: float = 60) -> list[EmailMessage]:
    """The mails to ``address`` once one subject contains each of ``subjects`` (case-insensitive)."""
    deadline = time.monotonic() + timeout
    got: list[EmailMessage] = []
    while time.monotonic() < deadline:
        got = mails(stack, address)
        have = [str(m["Subject"]).lower() for m in got]
        if all(any(s.lower() in h for h in have) for s in subjects):
            return got
        time.sleep(0.3)
    raise AssertionError(f"mails to {address}: {[str(m['Subject']) for m in got]}, wanted {subjects}")


def links(msg: EmailMessage) -> list[str]:
    """Every link of both parts; the HTML part's anchors and the text part's URLs must be the same set."""
    html_part, text_part = msg.get_body(("html",)), msg.get_body(("plain",))
    assert html_part is not None and text_part is not None
    anchors = _Anchors()
    anchors.feed(html_part.get_content())
    in_text = set(URL.findall(text_part.get_content()))
    assert set(anchors.hrefs) == in_text, (msg["Subject"], anchors.hrefs, in_text)
    assert in_text, f"{msg['Subject']} has no link"
    return sorted(in_text)


def signed_in_tab(p: Portal) -> Page:
    page = p.open("/offers")
    expect(page.get_by_role("heading", name="All offers")).to_be_visible()
    return page


def check_portal_link(page: Page, stack: Stack, link: str, offer: str, title: str, run_id: str) -> None:
    """The link answers 200 and, in the signed-in tab, shows ``offer`` on the screen its route names."""
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == stack.api_url and parts.path == "/portal/", link
    r = httpx.get(link, follow_redirects=False)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"], (link, r.status_code)
    route, _, query = parts.fragment.partition("?")
    segments = [unquote(s) for s in route.strip("/").split("/")]
    assert segments[:2] == ["offers", offer], link
    screen = segments[2]
    asked = parse_qs(query)

    page.goto("about:blank")  # a full load of the deep link, as a click from a mail client does
    page.goto(link)
    expect(page.locator(".page-head .id")).to_have_text(f"Offer ID {offer}")
    expect(page.locator(".page-head h1")).to_have_text(title)
    expect(page.locator(".subnav-link[aria-current=page]")).to_have_text(screen.capitalize())
    if screen == "status":
        expect(page.locator(".overview .badge")).to_be_visible()
        expect(page.locator(".overview")).to_contain_text(run_id)
    if "support" in asked:
        dialog = page.get_by_role("dialog", name="Open a support request")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(asked["run"][0])
        step = asked["support"][0]
        step_name = page.locator(f"li.step[data-step='{step}'] .step-name").inner_text()
        expect(dialog.get_by_label("Title")).to_have_value(re.compile(re.escape(step_name)))


def check_page_link(link: str, title: str) -> None:
    r = httpx.get(link, follow_redirects=True)
    assert r.status_code == 200, (link, r.status_code)
    assert f"<h1>{title}</h1>" in r.text, link


def crawl(page: Page, stack: Stack, msgs: list[EmailMessage], offer: str, title: str, run_id: str) -> set[str]:
    seen: set[str] = set()
    for msg in msgs:
        assert msg["X-Offerflow-Offer"] == offer
        for link in links(msg):
            if link in seen:
                continue
            seen.add(link)
            if link.startswith(f"{stack.api_url}/portal/"):
                check_portal_link(page, stack, link, offer, title, run_id)
            else:
                check_page_link(link, title)
    return seen


def new_offer(api: Api, tmp_path: Path, prefix: str, *, valid: bool = True) -> tuple[str, str, str]:
    offer = unique(prefix)
    title = f"Links {offer}"
    doc = offer_doc(build_linux_vhd(tmp_path / f"{offer}.vhd"))
    doc["definition"]["displayText"] = title
    doc["definition"]["offer"][M + "title"] = title
    if not valid:
        del doc["definition"]["offer"][M + "summary"]
    assert api.put(offer, doc).status_code == 201
    owner = f"{offer}@e2e.example"
    r = api.publish(offer, owner)
    assert r.status_code == 202, r.text
    return offer, title, owner


@pytest.fixture
def tab(portal: Portal) -> Iterator[Page]:  # noqa: F811
    yield signed_in_tab(portal)


def test_every_mail_link_of_happy_failing_and_canceled_runs_opens_the_offer(
    stack: Stack, api: Api, portal: Portal, tab: Page, tmp_path: Path  # noqa: F811
) -> None:
    happy, happy_title, happy_owner = new_offer(api, tmp_path, "links-happy")
    failing, failing_title, failing_owner = new_offer(api, tmp_path, "links-fail", valid=False)
    canceled, canceled_title, canceled_owner = new_offer(api, tmp_path, "links-cancel")

    # The failing run: its step_failed mail links the Editor and the support form of the failed step.
    doc = api.wait_status(failing, lambda d: d["status"] == "failed", timeout=180)
    msgs = wait_mails(stack, failing_owner, "publish accepted", "failed")
    seen = crawl(tab, stack, msgs, failing, failing_title, doc["runId"])
    support = [u for u in seen if "support=displaydummycertify" in u]
    assert len(support) == 1 and any(u.endswith("/editor") for u in seen), seen
    # A signed-out browser gets the sign-in screen, then the support form the link asked for.
    out = portal.open_signed_out("/offers")
    out.goto(support[0])
    expect(out.get_by_role("heading", name="Sign in")).to_be_visible()
    out.get_by_label("Publisher ID").fill(portal.publisher)
    out.get_by_label("API token").fill(portal.token)
    out.get_by_role("button", name="Sign in").click()
    dialog = out.get_by_role("dialog", name="Open a support request")
    expect(dialog).to_contain_text(doc["runId"])
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_contain_text("is open")
    # The acknowledgement mail is crawled too.
    msgs = wait_mails(stack, failing_owner, "support request")
    crawl(tab, stack, [m for m in msgs if "support request" in str(m["Subject"]).lower()],
          failing, failing_title, doc["runId"])

    # Happy and canceled runs at sign-off: the preview links work while the preview is open.
    previews: dict[str, set[str]] = {}
    for offer, title, owner in ((happy, happy_title, happy_owner), (canceled, canceled_title, canceled_owner)):
        doc = api.wait_status(offer, lambda d: d["status"] in ("waitingForPublisherReview", "failed"), timeout=240)
        assert doc["status"] == "waitingForPublisherReview", doc
        msgs = wait_mails(stack, owner, "publish accepted", "preview ready")
        previews[offer] = {u for u in crawl(tab, stack, msgs, offer, title, doc["runId"])
                           if not u.startswith(f"{stack.api_url}/portal/")}
        assert previews[offer], f"no preview link in the mails of {offer}"

    assert api.post(happy, "golive").status_code == 202
    r = api.post(canceled, "cancel")
    assert r.status_code == 200, r.text

    doc = api.wait_status(happy, lambda d: d["status"] in ("succeeded", "failed"), timeout=120)
    assert doc["status"] == "succeeded", doc
    msgs = wait_mails(stack, happy_owner, "is live")
    live = crawl(tab, stack, [m for m in msgs if "is live" in str(m["Subject"]).lower()],
                 happy, happy_title, doc["runId"])
    assert any(not u.startswith(f"{stack.api_url}/portal/") for u in live), live

    msgs = wait_mails(stack, canceled_owner, "canceled")
    run_id = api.status(canceled).get("runId") or ""
    crawl(tab, stack, [m for m in msgs if "canceled" in str(m["Subject"]).lower()], canceled, canceled_title,
          run_id)


def test_old_path_links_redirect_to_the_portal_route(stack: Stack) -> None:
    """Mails sent before the fragment routes linked /portal/offers/...: they now redirect instead of 404."""
    r = httpx.get(f"{stack.api_url}/portal/offers/vm-1/support?run=r-1", follow_redirects=False)
    assert r.status_code == 308
    assert r.headers["location"] == "/portal/#/offers/vm-1/status?support=failed&run=r-1"
    r = httpx.get(f"{stack.api_url}/portal/offers/vm-1", follow_redirects=True)
    assert r.status_code == 200 and "js/main.js" in r.text
