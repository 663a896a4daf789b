"""Preview links are credentials: one per whitelisted subscription, revoked when it leaves the list or the run ends.

On the real stack: the status lists one link per subscription; each shows the preview (and its images);
a subscription id alone, someone else's link or an altered link shows nothing; PUT without a subscription
revokes its link at once while the others keep working; after Cancel or Go live no preview link works,
and the live page is public.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from stack import Stack

from tests.e2e.client import Api, offer_doc, unique
from tests.images.builder import build_linux_vhd

pytestmark = pytest.mark.e2e

SUBS = ["11111111-1b2c-4d5e-8f90-123456789abc", "22222222-1b2c-4d5e-8f90-123456789abc",
        "33333333-1b2c-4d5e-8f90-123456789abc"]
OUTSIDER = "99999999-1b2c-4d5e-8f90-123456789abc"


@pytest.fixture
def api(stack: Stack, e2e_token: str) -> Api:
    return Api(stack.api_url, e2e_token)


def at_signoff(doc: dict[str, Any]) -> bool:
    return doc["status"] in ("waitingForPublisherReview", "failed", "canceled")


def links_by_subscription(doc: dict[str, Any]) -> dict[str, str]:
    out = {}
    for link in doc["previewLinks"]:
        (sub,) = parse_qs(urlsplit(link).query)["subscriptionId"]
        out[sub] = link
    return out


def with_query(link: str, **params: str) -> str:
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(params)
    return parts._replace(query=urlencode({k: v for k, v in query.items() if v})).geturl()


def shows_preview(link: str) -> bool:
    r = httpx.get(link, timeout=10)
    assert r.status_code in (200, 403, 404), (link, r.status_code)
    if r.status_code != 200:
        assert "Preview" not in r.text and "<img" not in r.text  # a plain page, never the preview
        return False
    assert "Preview — visible only to the whitelisted subscriptions" in r.text
    return True


def eventually(check: Callable[[], bool], timeout: float = 15) -> bool:
    """True once ``check`` holds (the revoking event is consumed asynchronously), False at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


def publish_to_signoff(api: Api, offer: str, doc: dict[str, Any]) -> dict[str, Any]:
    assert api.put(offer, doc).status_code == 201
    assert api.publish(offer).status_code == 202
    status = api.wait_status(offer, at_signoff, timeout=180)
    assert status["status"] == "waitingForPublisherReview", status
    return status


def test_each_link_is_a_credential_for_one_subscription_until_it_leaves_the_list_or_cancel(
    stack: Stack, api: Api, tmp_path: Path
) -> None:
    offer = unique("preview")
    doc = offer_doc(build_linux_vhd(tmp_path / "os.vhd"), subscriptions=SUBS)
    links = links_by_subscription(publish_to_signoff(api, offer, doc))
    assert sorted(links) == SUBS  # one link per whitelisted subscription

    for sub, link in links.items():
        assert shows_preview(link), sub
    # The page's images are served on the same credential, and only on it.
    page = httpx.get(links[SUBS[0]]).text
    image = html.unescape(re.findall(r'src="(/preview/[^"]+/assets/[^"]+)"', page)[0])
    base = f"http://127.0.0.1:{stack.ports.storefront}"
    assert httpx.get(base + image).status_code == 200
    assert httpx.get(base + image.split("&access=")[0]).status_code == 404

    first, second = links[SUBS[0]], links[SUBS[1]]
    token = parse_qs(urlsplit(first).query)["access"][0]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for refused in (
        with_query(first, access=""),  # a whitelisted subscription id alone
        with_query(first, subscriptionId=OUTSIDER),  # someone else presenting a leaked link
        with_query(first, subscriptionId=SUBS[1]),  # another whitelisted subscription with this token
        with_query(second, access=token),  # another subscription's token
        with_query(first, access=flipped),  # an altered signature
        with_query(first, access=token.split(".")[0]),  # a payload without signature
    ):
        assert not shows_preview(refused), refused

    # Removing a subscription from the audience (PUT) revokes its link at once; the others keep working.
    doc["definition"]["offer"]["microsoft-azure-marketplace.allowedSubscriptions"] = [SUBS[0], SUBS[2]]
    assert api.put(offer, doc).status_code == 200
    assert eventually(lambda: not shows_preview(second)), "the removed subscription still sees the preview"
    assert shows_preview(first) and shows_preview(links[SUBS[2]])
    # The status lists one link per subscription still on the list.
    status = api.wait_status(offer, lambda d: len(d["previewLinks"]) == 2, timeout=30)
    assert sorted(status["previewLinks"]) == sorted([first, links[SUBS[2]]])

    r = api.post(offer, "cancel")
    assert r.status_code == 200, r.text
    assert eventually(lambda: not any(shows_preview(link) for link in links.values())), "preview after cancel"


def test_go_live_spends_the_preview_links_and_the_live_page_is_for_everyone(
    stack: Stack, api: Api, tmp_path: Path
) -> None:
    offer = unique("prevlive")
    doc = offer_doc(build_linux_vhd(tmp_path / "os.vhd"), subscriptions=SUBS[:2])
    links = links_by_subscription(publish_to_signoff(api, offer, doc))
    assert sorted(links) == SUBS[:2] and all(shows_preview(link) for link in links.values())

    assert api.post(offer, "golive").status_code == 202
    status = api.wait_status(offer, lambda d: d["status"] in ("succeeded", "failed"))
    assert status["status"] == "succeeded", status
    assert eventually(lambda: not any(shows_preview(link) for link in links.values())), "preview after Go live"
    (live,) = status["liveLinks"]
    page = httpx.get(live)  # no credential, no subscription: public
    assert page.status_code == 200 and "Preview —" not in page.text
