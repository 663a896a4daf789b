"""The publisher's side of a chaos run: offers of every kind, and an API client that survives the faults.

A command whose answer is lost (connection refused, 5xx while the broker or database restarts) is
ambiguous: the event may already be on Kafka. The client never repeats such a command blindly — it first
waits for the read model to show whether it took effect, as a careful publisher tool would.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.client import V, offer_doc
from tests.images.builder import MIB, build_linux_vhd, build_variant, vhd_footer

# What each kind of offer must end as, which step fails, and which mails its owner gets.
PASS, GOLIVE, CERT_FAIL, VALIDATION_FAIL = "pass", "golive", "cert-fail", "validation-fail"
FINAL = {PASS: "waitingForPublisherReview", GOLIVE: "succeeded", CERT_FAIL: "failed", VALIDATION_FAIL: "failed"}
FAILED_STEP = {CERT_FAIL: "displaycertify", VALIDATION_FAIL: "displaydummycertify"}
MAILS = {PASS: {"publish_accepted", "preview_ready"}, GOLIVE: {"publish_accepted", "preview_ready", "live"},
         CERT_FAIL: {"publish_accepted", "step_failed"}, VALIDATION_FAIL: {"publish_accepted", "step_failed"}}
_PASSING = ("offer.publish_requested", "validation.started", "validation.passed", "certification.started",
            "certification.passed", "provisioning.started", "provisioning.passed", "staging.started", "staging.passed",
            "packaging.started", "packaging.passed", "offer.preview_ready")
TRANSITIONS = {
    PASS: set(_PASSING),
    GOLIVE: {*_PASSING, "offer.golive_requested", "offer.went_live"},
    CERT_FAIL: {*_PASSING[:4], "certification.failed"},
    VALIDATION_FAIL: {*_PASSING[:2], "validation.failed"},
}
WEIGHTS = {PASS: 5, GOLIVE: 2, CERT_FAIL: 2, VALIDATION_FAIL: 1}
IMAGE_MIB = 20  # the smallest size certification accepts: replicas of 200 offers stay a few GiB


@dataclass
class Offer:
    offer_id: str
    kind: str
    image: Path
    image_sha256: str
    owner: str
    doc: dict[str, Any]
    published: bool = False
    golive_at: float | None = None  # when Go live was last attempted
    golive_done: bool = False


def distinct_images(directory: Path, count: int, *, variant: str = "compliant") -> list[tuple[Path, str]]:
    """``count`` images that differ only in their footer's unique id: same content, distinct SHA-256.

    Built once and copied, because mkfs for every image would dominate a run; a distinct hash keeps
    certification from reusing an earlier report, so every image is really read and tested.
    """
    directory.mkdir(parents=True, exist_ok=True)
    base = directory / f"{variant}-base.vhd"
    if variant == "compliant":
        build_linux_vhd(base, size_mib=IMAGE_MIB)
    else:
        build_variant(base, variant, size_mib=IMAGE_MIB)
    raw = base.read_bytes()
    size = IMAGE_MIB * MIB
    out = []
    for i in range(count):
        path = directory / f"{variant}-{i:03d}.vhd"
        footer = vhd_footer(size, {"unique_id": uuid.uuid4().bytes,
                                   **({"disk_type": 3} if variant == "dynamic" else {})})
        data = raw[:size] + footer
        path.write_bytes(data)
        out.append((path, hashlib.sha256(data).hexdigest()))
    return out


def make_offers(directory: Path, kinds: list[str], prefix: str) -> list[Offer]:
    good = distinct_images(directory / "good", max(1, min(8, sum(k in (PASS, GOLIVE) for k in kinds))))
    bad = distinct_images(directory / "bad", 2, variant="dynamic")
    offers = []
    for i, kind in enumerate(kinds):
        image, sha = (bad if kind == CERT_FAIL else good)[i % (len(bad) if kind == CERT_FAIL else len(good))]
        doc = offer_doc(image, publisher="chaos")
        if kind == VALIDATION_FAIL:
            del doc["definition"]["offer"]["microsoft-azure-marketplace.title"]
        offer_id = f"{prefix}-{i:03d}-{uuid.uuid4().hex[:6]}"
        offers.append(Offer(offer_id, kind, image, sha, f"{offer_id}@chaos.example", doc))
    return offers


@dataclass
class Client:
    base: str
    token: str
    publisher: str
    ambiguous: int = 0  # commands whose answer was lost and had to be resolved from the read model
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base, timeout=30, headers={"Authorization": f"Bearer {self.token}"})

    def _url(self, offer: str, suffix: str = "") -> str:
        return f"/api/publishers/{self.publisher}/offers/{offer}{suffix}"

    def _call(self, method: str, url: str, **kw: Any) -> httpx.Response | None:
        """The response, or None when there was none or the server failed (the command's fate is unknown)."""
        try:
            r = self.http.request(method, url, params=V, **kw)
        except httpx.HTTPError:
            return None
        return None if r.status_code >= 500 else r

    def put(self, offer: Offer, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # PUT with If-Match * is idempotent: repeating it is safe
            r = self._call("PUT", self._url(offer.offer_id), json=offer.doc, headers={"If-Match": "*"})
            if r is not None and r.status_code in (200, 201):
                return
            if r is not None:
                raise AssertionError(f"PUT {offer.offer_id}: {r.status_code} {r.text}")
            time.sleep(1)
        raise AssertionError(f"PUT {offer.offer_id} never succeeded")

    def status(self, offer_id: str) -> dict[str, Any] | None:
        r = self._call("GET", self._url(offer_id, "/status"))
        return r.json() if r is not None and r.status_code == 200 else None

    def listing(self) -> dict[str, str] | None:
        r = self._call("GET", f"/api/publishers/{self.publisher}/offers")
        if r is None or r.status_code != 200:
            return None
        return {o["id"]: o["status"] for o in r.json()}

    def publish(self, offer: Offer, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        body = {"metadata": {"notification-emails": offer.owner}}
        while time.monotonic() < deadline:
            r = self._call("POST", self._url(offer.offer_id, "/publish"), json=body)
            if r is not None and r.status_code == 202:
                offer.published = True
                return
            if r is not None and r.status_code == 409 and "OperationInProgress" in r.text:
                offer.published = True  # an earlier, unanswered attempt went through
                return
            if r is not None:
                raise AssertionError(f"publish {offer.offer_id}: {r.status_code} {r.text}")
            self.ambiguous += 1
            if self._took_effect(offer.offer_id, lambda s: s.get("runId") is not None, deadline):
                offer.published = True
                return
        raise AssertionError(f"publish {offer.offer_id} never accepted")

    def golive(self, offer: Offer) -> None:
        """One attempt; an unanswered one is retried by the caller only once the read model says it is needed."""
        offer.golive_at = time.monotonic()
        r = self._call("POST", self._url(offer.offer_id, "/golive"), json={})
        if r is None:
            self.ambiguous += 1
            return
        if r.status_code == 202 or (r.status_code == 409 and "InvalidState" in r.text):
            offer.golive_done = True  # 409: no longer at sign-off, so an earlier attempt was recorded
            return
        raise AssertionError(f"golive {offer.offer_id}: {r.status_code} {r.text}")

    def _took_effect(self, offer_id: str, pred: Any, deadline: float, settle: float = 20.0) -> bool:
        """Waits up to ``settle`` seconds for the read model to show the command; False if it never does."""
        until = min(deadline, time.monotonic() + settle)
        while time.monotonic() < until:
            s = self.status(offer_id)
            if s is not None and pred(s):
                return True
            time.sleep(1)
        return False
