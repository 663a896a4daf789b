"""``changedTime`` on the real stack: every offer document says when the offer last changed, each write moves
it forward, and the list and the documents say the same."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.client import Api, V, offer_doc, unique

pytestmark = pytest.mark.e2e


def at(value: Any) -> datetime:
    """An ISO-8601 time in UTC, as the API writes every ``changedTime``."""
    assert isinstance(value, str), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0, value  # type: ignore[union-attr]
    return parsed


def listed(api: Api, offer: str) -> dict[str, Any]:
    r = api.http.get(f"/api/publishers/{api.publisher}/offers", params=V)
    assert r.status_code == 200, r.text
    return next(o for o in r.json() if o["id"] == offer)


def settled(api: Api, offer: str, after: datetime, timeout: float = 30) -> tuple[datetime, str]:
    """The offer's ``changedTime`` once the list and the document agree on a time not before ``after`` (the read
    model shows a write once the projection has read it); with the document's ETag."""
    deadline = time.monotonic() + timeout
    seen: list[Any] = []
    while time.monotonic() < deadline:
        doc = api.http.get(api.offer_url(offer), params=V)
        assert doc.status_code == 200, doc.text
        row = listed(api, offer)
        seen = [doc.json().get("changedTime"), row.get("changedTime")]
        if seen[0] is not None and seen[0] == seen[1] and at(seen[0]) >= after:
            return at(seen[0]), doc.headers["ETag"]
        time.sleep(0.2)
    raise AssertionError(f"the document and the list never agreed on a time from {after}: {seen}")


def test_each_write_moves_changed_time_forward_and_the_list_and_the_document_agree(api: Api) -> None:
    offer = unique("changed")
    created = api.put(offer, {"definition": {"displayText": offer}})
    assert created.status_code == 201, created.text
    t_created = at(created.json()["changedTime"])

    t_read, etag = settled(api, offer, t_created)
    draft = api.http.get(api.offer_url(offer, "/slot/Draft"), params=V)
    assert draft.status_code == 200 and at(draft.json()["changedTime"]) == t_read

    updated = api.put(offer, {"definition": {"displayText": offer + " renamed"}}, if_match=etag)
    assert updated.status_code == 200, updated.text
    t_updated = at(updated.json()["changedTime"])
    assert t_updated > t_read  # the answer to the write already says it

    t_read_again, _ = settled(api, offer, t_updated)
    assert t_read_again > t_read
    assert listed(api, offer)["definition"]["displayText"] == offer + " renamed"


def test_a_publish_and_its_steps_move_changed_time_and_a_version_says_the_offers(api: Api, image: Path) -> None:
    offer = unique("changed-run")
    assert api.put(offer, offer_doc(image)).status_code == 201
    t_saved, _ = settled(api, offer, datetime(2000, 1, 1, tzinfo=UTC))
    assert api.publish(offer).status_code == 202
    # The run's steps are events of the offer too: its changedTime follows them.
    doc = api.wait_status(offer, lambda d: any(s["id"] == "displaydummycertify" and s["status"] == "complete"
                                               for s in d["steps"]), timeout=120)
    t_run, _ = settled(api, offer, t_saved)
    assert t_run > t_saved
    # A published version is a document of the same offer: the same changedTime as the offer (read together,
    # since the run goes on meanwhile).
    deadline = time.monotonic() + 30
    while True:
        version = api.http.get(api.offer_url(offer, f"/versions/{doc['offerVersion']}"), params=V)
        assert version.status_code == 200, version.text
        current = api.http.get(api.offer_url(offer), params=V).json()["changedTime"]
        if version.json()["changedTime"] == current:
            break
        assert time.monotonic() < deadline, (version.json()["changedTime"], current)
    assert version.json()["version"] == doc["offerVersion"] and at(current) >= t_run
