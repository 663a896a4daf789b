"""The seed's flow end to end: six real services, the real broker and the real database."""

from __future__ import annotations

import email
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from stack import ROOT, Stack

from tests import replicas
from tests.e2e.client import Api, offer_doc, unique
from tests.images.builder import build_linux_vhd, build_variant

pytestmark = pytest.mark.e2e

STEP_IDS = ["displaydummycertify", "displaycertify", "displayprovision", "displaystaging", "displaypackage",
            "publisher-signoff", "live"]
SUBSCRIPTION = "6d8f2e3a-1b2c-4d5e-8f90-123456789abc"


def steps(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in doc["steps"]}


def at_signoff(doc: dict[str, Any]) -> bool:
    return doc["status"] in ("waitingForPublisherReview", "failed")


def mails_for(stack: Stack, address: str) -> list[email.message.Message]:
    out = []
    for path in sorted(stack.mail_dir.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes())
        if address in (msg.get("To") or ""):
            out.append(msg)
    return out


@pytest.fixture
def api(stack: Stack, e2e_token: str) -> Api:
    return Api(stack.api_url, e2e_token)


def test_happy_path_reaches_live_with_every_step_and_mail(stack: Stack, api: Api, tmp_path: Path) -> None:
    offer = unique("happy")
    owner = f"{offer}@e2e.example"
    image = build_linux_vhd(tmp_path / "os.vhd")
    assert api.put(offer, offer_doc(image)).status_code == 201
    assert api.status(offer)["status"] == "neverPublished"

    r = api.publish(offer, owner)
    assert r.status_code == 202, r.text
    assert "/operations/" in r.headers["Location"]

    doc = api.wait_status(offer, at_signoff)
    assert doc["status"] == "waitingForPublisherReview", doc
    assert [s["id"] for s in doc["steps"]] == STEP_IDS
    st = steps(doc)
    for sid in STEP_IDS[:5]:
        assert st[sid]["status"] == "complete" and st[sid]["progressPercentage"] == 100
    assert st["publisher-signoff"]["status"] == "waitingForPublisherReview"
    assert st["live"]["status"] == "notStarted"

    # The preview is real: only the whitelisted subscription sees it.
    assert doc["previewLinks"]
    link = doc["previewLinks"][0]
    assert httpx.get(link).status_code == 200
    other = link.split("subscriptionId=")[0] + "subscriptionId=00000000-0000-0000-0000-000000000000"
    assert httpx.get(other).status_code == 404

    # Replicas exist in every region's endpoint and match the certified image byte for byte.
    assert replicas.problems("e2e", offer, image) == []

    # Go live only at sign-off; then the live page appears.
    r = api.post(offer, "golive")
    assert r.status_code == 202, r.text
    doc = api.wait_status(offer, lambda d: d["status"] in ("succeeded", "failed"))
    assert doc["status"] == "succeeded", doc
    assert steps(doc)["live"]["status"] == "complete"
    assert httpx.get(doc["liveLinks"][0]).status_code == 200

    def subjects() -> list[str]:
        return sorted(str(m["Subject"]) for m in mails_for(stack, owner))

    import time

    deadline = time.monotonic() + 30
    while len(subjects()) < 3 and time.monotonic() < deadline:
        time.sleep(0.3)
    got = subjects()
    assert len(got) == 3, got  # accepted, preview ready, live — once each
    assert any("preview" in s.lower() for s in got) and any("live" in s.lower() for s in got)


def test_failure_stops_at_the_step_and_republish_restarts_at_step_one(stack: Stack, api: Api,
                                                                       tmp_path: Path) -> None:
    offer = unique("fix")
    owner = f"{offer}@e2e.example"
    bad = build_variant(tmp_path / "bad.vhd", "dynamic")
    assert api.put(offer, offer_doc(bad)).status_code == 201
    assert api.publish(offer, owner).status_code == 202
    doc = api.wait_status(offer, lambda d: d["status"] == "failed")
    st = steps(doc)
    assert st["displaydummycertify"]["status"] == "complete"
    assert st["displaycertify"]["status"] == "failed"
    assert st["displayprovision"]["status"] == "notStarted"
    errors = [m["messageHtml"] for m in st["displaycertify"]["messages"] if m["level"] == "error"]
    assert any("fixed" in e.lower() or "disk type" in e.lower() for e in errors), errors
    first_run = doc["runId"]

    # A failed run is over: the publisher fixes the image and publishes again, from step 1.
    good = build_linux_vhd(tmp_path / "good.vhd")
    assert api.put(offer, offer_doc(good)).status_code == 200
    assert api.publish(offer, owner).status_code == 202
    doc = api.wait_status(offer, lambda d: d.get("runId") != first_run and at_signoff(d))
    assert doc["status"] == "waitingForPublisherReview", doc
    assert doc["offerVersion"] > 1

    # The failure mail carries the step and next steps.
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        failed = [m for m in mails_for(stack, owner) if "fail" in str(m["Subject"]).lower()]
        if failed:
            break
        time.sleep(0.3)
    assert len(failed) == 1


def test_validation_lists_every_missing_field(stack: Stack, api: Api, tmp_path: Path) -> None:
    offer = unique("invalid")
    doc = offer_doc(build_linux_vhd(tmp_path / "os.vhd"))
    del doc["definition"]["offer"]["microsoft-azure-marketplace.title"]
    del doc["definition"]["offer"]["microsoft-azure-marketplace.summary"]
    assert api.put(offer, doc).status_code == 201
    assert api.publish(offer).status_code == 202
    status = api.wait_status(offer, lambda d: d["status"] == "failed")
    step = steps(status)["displaydummycertify"]
    assert step["status"] == "failed"
    fields = {m.get("field") for m in step["messages"]}
    assert "/offer/microsoft-azure-marketplace.title" in fields
    assert "/offer/microsoft-azure-marketplace.summary" in fields


def test_cancel_only_at_signoff_returns_offer_to_step_one(stack: Stack, api: Api, tmp_path: Path) -> None:
    offer = unique("cancel")
    assert api.put(offer, offer_doc(build_linux_vhd(tmp_path / "os.vhd"))).status_code == 201
    r = api.post(offer, "cancel")
    assert r.status_code == 409 and r.json()["error"]["code"] == "InvalidState"
    assert api.publish(offer).status_code == 202
    second = api.publish(offer)
    assert second.status_code == 409 and second.json()["error"]["code"] == "OperationInProgress"

    doc = api.wait_status(offer, at_signoff)
    assert doc["status"] == "waitingForPublisherReview"
    link = doc["previewLinks"][0]
    r = api.post(offer, "cancel")
    assert r.status_code == 200, r.text
    canceled = r.json()
    # Back at step 1: every step not started, and a message on step 1 saying why and what to do.
    assert canceled["status"] == "canceled" and canceled["currentStep"] == "displaydummycertify"
    assert {s["status"] for s in canceled["steps"]} == {"notStarted"}
    assert "Publish starts again here" in canceled["steps"][0]["messages"][0]["messageHtml"]
    again = api.post(offer, "cancel")  # Cancel is idempotent: the same answer
    assert again.status_code == 200 and again.json() == canceled
    # Once the projection has the cancel, the status says the same (plus the ETAs it adds to every step).
    shown = api.wait_status(offer, lambda d: d["steps"][0]["messages"] == canceled["steps"][0]["messages"],
                            timeout=30)
    assert {k: v for k, v in shown.items() if k != "steps"} == {k: v for k, v in canceled.items() if k != "steps"}
    # The operation keeps the canceled run's history.
    deadline = time.monotonic() + 30
    operation = api.http.get(r.headers["Location"]).json()
    while steps(operation)["publisher-signoff"]["status"] != "canceled" and time.monotonic() < deadline:
        time.sleep(0.3)
        operation = api.http.get(r.headers["Location"]).json()
    assert steps(operation)["publisher-signoff"]["status"] == "canceled"
    assert steps(operation)["displaypackage"]["status"] == "complete"
    refused = api.post(offer, "golive")
    assert refused.status_code == 409 and "Cancel" in refused.json()["error"]["message"]
    # The withdrawn preview disappears, and the offer can be published again from step 1.
    deadline = time.monotonic() + 30
    while httpx.get(link).status_code != 404 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert httpx.get(link).status_code == 404
    assert api.publish(offer).status_code == 202


def test_topics_hold_readable_json_keyed_by_offer_id(stack: Stack, api: Api, tmp_path: Path) -> None:
    offer = unique("topics")
    assert api.put(offer, offer_doc(build_linux_vhd(tmp_path / "os.vhd"))).status_code == 201
    assert api.publish(offer).status_code == 202
    api.wait_status(offer, at_signoff)
    out = subprocess.run(
        [str(ROOT / "deploy/kafka/bin/kafka-console-consumer"), "--topic", "offerflow.validation",
         "--from-beginning", "--property", "print.key=true", "--property", "key.separator=|",
         "--timeout-ms", "15000"],
        env=stack.env(), capture_output=True, text=True, timeout=120)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith(offer + "|")]
    assert lines, out.stdout[-2000:] + out.stderr[-2000:]
    events = [json.loads(ln.split("|", 1)[1]) for ln in lines]
    assert {e["event_type"] for e in events} == {"validation.started", "validation.passed"}
    assert all(e["offer_id"] == offer for e in events)


def test_garbage_on_a_topic_is_dead_lettered_and_the_pipeline_keeps_going(stack: Stack, api: Api,
                                                                         tmp_path: Path) -> None:
    import asyncio

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    marker = unique("garbage").encode()

    async def inject_and_read() -> list[tuple[bytes | None, dict[str, bytes]]]:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        await producer.send_and_wait("offerflow.publishing", b"{not json " + marker, key=marker)
        await producer.send_and_wait("offerflow.publishing", json.dumps(
            {"event_type": "offer.exploded", "payload": {}}).encode(), key=marker)
        await producer.stop()
        consumer = AIOKafkaConsumer("offerflow.publishing.dlq", bootstrap_servers=stack.kafka_bootstrap,
                                    auto_offset_reset="earliest", group_id=None)
        await consumer.start()
        found: list[tuple[bytes | None, dict[str, bytes]]] = []
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while asyncio.get_running_loop().time() < deadline:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    found += [(r.key, dict(r.headers)) for r in records if r.key == marker]
                # every consumer of the topic dead-letters both messages: validation, notifier, packaging,
                # staging's control agent, projection
                if len(found) >= 10:
                    break
        finally:
            await consumer.stop()
        return found

    found = asyncio.run(inject_and_read())
    consumers = {h["offerflow.dlq.consumer"] for _, h in found}
    assert {"validation", "status-projection"} <= {c.decode() for c in consumers}, found
    assert all(h["__connect.errors.topic"] == b"offerflow.publishing" for _, h in found)
    messages = b" ".join(h["__connect.errors.exception.message"] for _, h in found)
    assert b"not JSON" in messages and b"not an event envelope" in messages

    # …and the services are still working.
    offer = unique("after-garbage")
    assert api.put(offer, offer_doc(build_linux_vhd(tmp_path / "os.vhd"))).status_code == 201
    assert api.publish(offer).status_code == 202
    assert api.wait_status(offer, at_signoff)["status"] == "waitingForPublisherReview"
