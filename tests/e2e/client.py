"""A tiny client of the public API for the end-to-end tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

V = {"api-version": "2017-10-31"}


class Api:
    def __init__(self, base: str, token: str | None, publisher: str = "e2e") -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base, timeout=60, headers=headers)
        self.publisher = publisher

    def offer_url(self, offer: str, suffix: str = "") -> str:
        return f"/api/publishers/{self.publisher}/offers/{offer}{suffix}"

    def put(self, offer: str, doc: dict[str, Any], if_match: str = "*") -> httpx.Response:
        return self.http.put(self.offer_url(offer), params=V, json=doc, headers={"If-Match": if_match})

    def publish(self, offer: str, emails: str = "owner@e2e.example") -> httpx.Response:
        return self.http.post(self.offer_url(offer, "/publish"), params=V,
                              json={"metadata": {"notification-emails": emails}})

    def status(self, offer: str) -> dict[str, Any]:
        r = self.http.get(self.offer_url(offer, "/status"), params=V)
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def post(self, offer: str, action: str) -> httpx.Response:
        return self.http.post(self.offer_url(offer, f"/{action}"), params=V, json={})

    def wait_status(self, offer: str, pred: Callable[[dict[str, Any]], bool], timeout: float = 120
                    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        doc: dict[str, Any] = {}
        while time.monotonic() < deadline:
            doc = self.status(offer)
            if pred(doc):
                return doc
            time.sleep(0.3)
        raise AssertionError(f"status of {offer} never matched; last: {doc}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def offer_doc(image: Path, *, subscriptions: list[str] | None = None, publisher: str = "e2e") -> dict[str, Any]:
    """A complete offer (real logos beside the image) that passes every validation rule; the image and logos sit
    in ``publisher``'s folder under the stack's file root, the only place the services read file:// from."""
    from tests.offers.factory import complete_offer, publisher_file

    image = publisher_file(image, publisher)
    doc = complete_offer(image.as_uri(), image.parent / f"assets-{image.stem}")
    if subscriptions is not None:
        doc["definition"]["offer"]["microsoft-azure-marketplace.allowedSubscriptions"] = subscriptions
    return doc
