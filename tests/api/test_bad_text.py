"""Text the database cannot store and numbers JSON cannot carry are refused at the API, on the real stack:
400 naming the field, and nothing recorded (no draft, no run)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from stack import Stack

from tests.e2e.client import Api, V, unique

pytestmark = pytest.mark.e2e

TITLE = "microsoft-azure-virtualmachines.title"


@pytest.fixture
def api(stack: Stack, e2e_token: str) -> Api:
    return Api(stack.api_url, e2e_token)


def targets(r: httpx.Response) -> list[str]:
    assert r.status_code == 400, r.text
    body = r.json()["error"]
    assert body["code"] == "BadRequest"
    return [d["target"] for d in body["details"]]


def test_nul_in_a_notification_email_is_400_and_starts_no_run(api: Api) -> None:
    offer = unique("nul-mail")
    assert api.put(offer, {"definition": {"displayText": "Draft"}}).status_code in (200, 201)
    r = api.publish(offer, emails="owner@e2e.example\u0000")
    assert targets(r) == ["/metadata/notification-emails"]
    # An accepted publish shows as running at once (read-your-writes); a refused one leaves nothing behind.
    assert api.status(offer)["status"] == "neverPublished"


def test_nul_or_non_finite_numbers_in_an_offer_are_400_and_save_nothing(api: Api) -> None:
    offer = unique("bad-text")
    r = api.put(offer, {"definition": {"offer": {TITLE: "Demo\u0000"}}})
    assert targets(r) == [f"/definition/offer/{TITLE}"]
    for number in ("NaN", "Infinity", "1e999"):
        doc = '{"definition": {"offer": {"' + TITLE + '": ' + number + "}}}"
        r = api.http.put(api.offer_url(offer), params=V, content=doc.encode(),
                         headers={"If-Match": "*", "Content-Type": "application/json"})
        assert targets(r) == [f"/definition/offer/{TITLE}"], number
    assert api.http.get(api.offer_url(offer), params=V).status_code == 404


def test_nul_in_the_url_is_400(api: Api) -> None:
    assert targets(api.http.get(api.offer_url("x%00y", "/status"), params=V)) == ["path"]


def test_a_chunked_body_over_the_limit_is_413(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"definition": {"displayText": "'
        for _ in range(40):
            yield b"x" * 65536  # 2.5 MiB in all, never announced in Content-Length
        yield b'"}}'

    r = api.http.put(api.offer_url(unique("chunked")), params=V, content=chunks(),
                     headers={"If-Match": "*", "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "PayloadTooLarge"
