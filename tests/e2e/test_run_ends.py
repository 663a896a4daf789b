"""Every run ends: a stage that gives up on a run's input fails the run, mails the publisher, and Publish works again.

The failure is a real one, armed through the runtime's fault injection (``<run_dir>/faults/<service>``), not a mock.
"""

from __future__ import annotations

import asyncio
import email
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from stack import Stack

from offerflow_cli.ops_kafka import read_to_end
from offerflow_contract.codec import decode
from offerflow_contract.events import CertificationFailed
from tests.e2e.client import Api, offer_doc, unique
from tests.images.builder import build_linux_vhd

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(stack: Stack, e2e_token: str) -> Api:
    return Api(stack.api_url, e2e_token)


def steps(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in doc["steps"]}


class Fault:
    """Arms the certification fault for one offer by adding it to the service's fault file; disarms by removing it."""

    def __init__(self, stack: Stack, service: str, offer: str) -> None:
        self.path = stack.run_dir / "faults" / service
        self.offer = offer

    def _lines(self) -> list[str]:
        return self.path.read_text().splitlines() if self.path.exists() else []

    def arm(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join([*self._lines(), self.offer]) + "\n")

    def disarm(self) -> None:
        self.path.write_text("".join(f"{ln}\n" for ln in self._lines() if ln.strip() != self.offer))


@pytest.fixture
def fault(stack: Stack) -> Iterator[Any]:
    armed: list[Fault] = []

    def arm(service: str, offer: str) -> Fault:
        f = Fault(stack, service, offer)
        f.arm()
        armed.append(f)
        return f

    yield arm
    for f in armed:
        f.disarm()


def mail_text(msg: email.message.Message) -> str:
    parts = msg.walk() if msg.is_multipart() else [msg]
    out = []
    for part in parts:
        raw = part.get_payload(decode=True)
        if isinstance(raw, bytes):
            out.append(raw.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(out)


def failure_mails(stack: Stack, address: str, timeout: float = 30) -> list[email.message.Message]:
    deadline = time.monotonic() + timeout
    found: list[email.message.Message] = []
    while time.monotonic() < deadline:
        found = []
        for path in sorted(stack.mail_dir.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes())
            if address in (msg.get("To") or "") and "fail" in str(msg["Subject"]).lower():
                found.append(msg)
        if found:
            return found
        time.sleep(0.3)
    return found


def publish_when_allowed(api: Api, offer: str, owner: str, timeout: float = 30) -> httpx.Response:
    """Publish; a run that has just ended may still read as running for a moment on the command side."""
    deadline = time.monotonic() + timeout
    while True:
        r = api.publish(offer, owner)
        if r.status_code != 409 or time.monotonic() > deadline:
            return r
        time.sleep(0.5)


def test_a_step_that_gives_up_ends_the_run_with_a_mail_and_publish_works_again(
        stack: Stack, api: Api, fault: Any, tmp_path: Path) -> None:
    offer = unique("ends")
    owner = f"{offer}@e2e.example"
    image = build_linux_vhd(tmp_path / "os.vhd")
    assert api.put(offer, offer_doc(image)).status_code == 201
    armed = fault("certification", offer)

    assert api.publish(offer, owner).status_code == 202
    doc = api.wait_status(offer, lambda d: d["status"] == "failed")
    st = steps(doc)
    assert st["displaydummycertify"]["status"] == "complete"
    assert st["displaycertify"]["status"] == "failed", st["displaycertify"]
    assert st["displayprovision"]["status"] == "notStarted"
    errors = " ".join(m["messageHtml"] for m in st["displaycertify"]["messages"] if m["level"] == "error")
    assert "on our side" in errors and "Publish again" in errors and "support request" in errors, errors
    assert "InjectedFault" not in errors and "fault injected" not in errors  # no internals for the publisher
    first_run = doc["runId"]

    # Ops find the dead letter from the failure event; the publisher gets the failure mail.
    records = asyncio.run(read_to_end(stack.kafka_bootstrap, ["offerflow.certification",
                                                               "offerflow.validation.dlq"]))
    mine = [r for r in records if r.key == offer.encode()]
    letters = [r for r in mine if r.topic == "offerflow.validation.dlq"]
    assert len(letters) == 1 and letters[0].header("offerflow.dlq.consumer") == "certification"
    [failed] = [e for e in (decode(r.value) for r in mine if r.topic == "offerflow.certification")
                if e.event_type == CertificationFailed.event_type]
    event = failed.event()
    assert isinstance(event, CertificationFailed)
    assert event.reasons[0].code == "internal-error" and event.notification_emails == [owner]
    assert event.dead_letter is not None and event.dead_letter.startswith("offerflow.validation.dlq <- ")
    mails = failure_mails(stack, owner)
    assert len(mails) == 1, [m["Subject"] for m in mails]
    assert "on our side" in mail_text(mails[0])

    # Once the fault is gone, Publish starts a new run that gets past certification.
    armed.disarm()
    r = publish_when_allowed(api, offer, owner)
    assert r.status_code == 202, r.text
    doc = api.wait_status(offer, lambda d: d.get("runId") != first_run
                          and steps(d)["displaycertify"]["status"] in ("complete", "failed"))
    assert steps(doc)["displaycertify"]["status"] == "complete", doc
