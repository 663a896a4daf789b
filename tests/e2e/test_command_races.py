"""Commands raced, repeated and retried on the real stack: one accepted per offer and state, the rest 409,
every request answered within seconds, the API ready throughout, and an end state that agrees with itself."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from stack import Stack

from tests.e2e.client import Api, V, offer_doc, unique
from tests.images.builder import build_linux_vhd

pytestmark = pytest.mark.e2e
ANSWER_WITHIN = 10.0  # seconds: a request that takes longer counts as frozen


@pytest.fixture
def api(stack: Stack, e2e_token: str) -> Api:
    return Api(stack.api_url, e2e_token)


class ReadinessProbe(threading.Thread):
    """Polls /readyz while a load runs; every answer must be 200 and quick."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.stop, self.answers = base, threading.Event(), []  # type: ignore[var-annotated]

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=ANSWER_WITHIN) as http:
            while not self.stop.is_set():
                t0 = time.monotonic()
                try:
                    status = http.get("/readyz").status_code
                except httpx.HTTPError as exc:
                    status = repr(exc)
                self.answers.append((status, time.monotonic() - t0))
                self.stop.wait(0.2)


def fire(stack: Stack, token: str, requests: list[tuple[str, str]]) -> list[tuple[str, str, Any, float]]:
    """Sends every (offer, action) at once from 50 threads; returns (offer, action, status or error, seconds)."""
    http = httpx.Client(base_url=stack.api_url, timeout=ANSWER_WITHIN, headers={"Authorization": f"Bearer {token}"},
                        limits=httpx.Limits(max_connections=60))

    def one(req: tuple[str, str]) -> tuple[str, str, Any, float]:
        offer, action = req
        body = {"metadata": {"notification-emails": "owner@e2e.example"}} if action == "publish" else {}
        t0 = time.monotonic()
        try:
            r = http.post(f"/api/publishers/e2e/offers/{offer}/{action}", params=V, json=body)
            return offer, action, r.status_code, time.monotonic() - t0
        except httpx.HTTPError as exc:
            return offer, action, repr(exc), time.monotonic() - t0

    with http, ThreadPoolExecutor(50) as pool:
        return list(pool.map(one, requests))


@contextlib.contextmanager
def paused(stack: Stack, service: str) -> Iterator[None]:
    pid = stack.procs[service].pid
    os.killpg(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(pid, signal.SIGCONT)


def under_load(stack: Stack, token: str, requests: list[tuple[str, str]]) -> list[tuple[str, str, Any, float]]:
    probe = ReadinessProbe(stack.api_url)
    probe.start()
    try:
        answers = fire(stack, token, requests)
    finally:
        probe.stop.set()
        probe.join()
    assert probe.answers and all(s == 200 and t < ANSWER_WITHIN for s, t in probe.answers), probe.answers
    assert all(isinstance(s, int) and t < ANSWER_WITHIN for *_, s, t in answers), answers
    return answers


def test_parallel_publishes_start_one_run_per_offer_and_never_freeze(stack: Stack, api: Api,
                                                                      e2e_token: str) -> None:
    # Drafts that fail validation: what is raced here is the command, not the pipeline behind it. Validation is
    # paused meanwhile, so every accepted run is still running (one state) while the requests arrive.
    offers = [unique("race-pub") for _ in range(21)]
    for offer in offers:
        assert api.put(offer, {"definition": {"displayText": offer, "offer": {}, "plans": []}}).status_code == 201
    requests = [(offers[0], "publish")] * 50 + [(o, "publish") for o in offers[1:] for _ in range(5)]
    with paused(stack, "validation"):
        answers = under_load(stack, e2e_token, requests)
    per_offer = {o: Counter(s for off, _, s, _ in answers if off == o) for o in offers}
    assert per_offer[offers[0]] == Counter({202: 1, 409: 49}), per_offer[offers[0]]
    assert all(c == Counter({202: 1, 409: 4}) for o, c in per_offer.items() if o != offers[0]), per_offer
    # The run that was accepted is the one the offer shows, and it ends (validation fails).
    for offer in offers[:3]:
        doc = api.wait_status(offer, lambda d: d["status"] == "failed", timeout=120)
        assert doc["steps"][0]["status"] == "failed"


@pytest.mark.timeout(600)  # three whole pipelines to sign-off first, on two shared cores
def test_go_live_and_cancel_raced_accept_one_and_the_end_state_agrees(stack: Stack, api: Api, e2e_token: str,
                                                                      tmp_path: Path) -> None:
    # One document for every offer: offer_doc writes its logos and screenshots beside the image, and
    # rewriting them while validation reads them for the previous offer would fail that offer.
    doc = offer_doc(build_linux_vhd(tmp_path / "os.vhd"))
    offers = [unique("race-signoff") for _ in range(3)]
    for offer in offers:
        assert api.put(offer, doc).status_code == 201
        assert api.publish(offer).status_code == 202
    for offer in offers:
        api.wait_status(offer, lambda d: d["status"] == "waitingForPublisherReview", timeout=450)
    requests = [(o, "golive" if i % 2 else "cancel") for o in offers for i in range(50)]
    answers = under_load(stack, e2e_token, requests)
    for offer in offers:
        got = Counter((a, s) for off, a, s, _ in answers if off == offer)
        went_live = got[("golive", 202)] == 1
        if went_live:  # Go live won: every Cancel and every other Go live is refused
            assert got == Counter({("golive", 202): 1, ("golive", 409): 24, ("cancel", 409): 25}), got
            doc = api.wait_status(offer, lambda d: d["status"] in ("succeeded", "failed"), timeout=180)
            assert doc["status"] == "succeeded" and doc["liveLinks"], doc
            assert all(httpx.get(link).status_code == 200 for link in doc["liveLinks"])
        else:  # Cancel won: every Cancel answers 200 (it is idempotent), every Go live 409
            assert got == Counter({("cancel", 200): 25, ("golive", 409): 25}), got
            doc = api.status(offer)
            assert doc["status"] == "canceled" and {s["status"] for s in doc["steps"]} == {"notStarted"}
            time.sleep(3)  # nothing promotes it later: the decision was recorded once
            assert api.status(offer)["status"] == "canceled" and not api.status(offer)["liveLinks"]
            slot = api.http.get(api.offer_url(offer, "/slot/Production"), params=V)
            assert slot.status_code == 404


def test_a_repeated_idempotency_key_gets_the_first_answer(stack: Stack, api: Api) -> None:
    offer = unique("idem")
    assert api.put(offer, {"definition": {"displayText": offer, "offer": {}, "plans": []}}).status_code == 201
    body = {"metadata": {"notification-emails": "owner@e2e.example"}}
    url = api.offer_url(offer, "/publish")
    first = api.http.post(url, params=V, json=body, headers={"Idempotency-Key": "k-1"})
    again = api.http.post(url, params=V, json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202
    assert first.headers["Location"] == again.headers["Location"]
    other = api.http.post(url, params=V, json={"metadata": {"notification-emails": "x@e2e.example"}},
                          headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "IdempotencyKeyReused"
    runs = api.http.get(api.offer_url(offer, "/submissions"), params=V)
    deadline = time.monotonic() + 30
    while len(runs.json()) < 1 and time.monotonic() < deadline:
        time.sleep(0.3)
        runs = api.http.get(api.offer_url(offer, "/submissions"), params=V)
    time.sleep(1)
    assert len(api.http.get(api.offer_url(offer, "/submissions"), params=V).json()) == 1
