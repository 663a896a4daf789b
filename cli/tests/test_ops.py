"""trace / tail / dlq against a real broker (``make test`` provides one)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from offerflow_cli import ops_kafka
from offerflow_cli.main import _register, app
from offerflow_contract.codec import decode, encode, headers_for
from offerflow_contract.dlq import DeadLetter
from offerflow_contract.envelope import Envelope, wrap
from offerflow_contract.events import (
    CertificationFailed,
    CertificationProgressed,
    CertificationStarted,
    OfferSnapshot,
    PublishRequested,
    Reason,
    ValidationPassed,
    ValidationStarted,
)
from offerflow_contract.topics import CERTIFICATION, PUBLISHING, VALIDATION
from offerflow_shared.kafka import KafkaSink, ensure_topics

pytestmark = pytest.mark.integration
BOOTSTRAP = os.environ.get("OFFERFLOW_KAFKA_BOOTSTRAP")
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
SNAP = OfferSnapshot(offer_version=1, definition={}, notification_emails=["a@b.example"])


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if not BOOTSTRAP:
        pytest.skip("needs the broker of `make test` (OFFERFLOW_KAFKA_BOOTSTRAP)")
    monkeypatch.chdir(tmp_path)  # no stray .run/endpoints.json
    asyncio.run(ensure_topics(BOOTSTRAP))
    yield BOOTSTRAP


def cli(*args: str) -> Result:
    _register()
    return CliRunner().invoke(app, list(args))


async def send(bootstrap: str, records: list[tuple[str, Envelope]], letters: list[DeadLetter]) -> None:
    sink = KafkaSink(bootstrap)
    await sink.start()
    try:
        for topic, env in records:
            await sink.send(topic, env.offer_id.encode(), encode(env), headers_for(env))
        for letter in letters:
            await sink.send(letter.dlq_topic, letter.key, letter.value, [("ce_id", b"x"), *letter.headers()])
    finally:
        await sink.stop()


def story(offer: str) -> list[tuple[str, Envelope]]:
    """A run whose causes and effects share a timestamp, sent in the wrong order across topics."""
    req = wrap(PublishRequested(offer=SNAP, requested_by="p"), offer_id=offer, publisher_id="p", run_id="run-" + offer,
               producer="status-api", occurred_at=T0)
    started = req.follow(ValidationStarted(), producer="validation").model_copy(update={"occurred_at": T0})
    passed = started.follow(ValidationPassed(offer=SNAP), producer="validation").model_copy(
        update={"occurred_at": T0 + timedelta(seconds=1)})
    cert = passed.follow(CertificationStarted(), producer="certification").model_copy(
        update={"occurred_at": T0 + timedelta(seconds=2)})
    prog = cert.follow(CertificationProgressed(percentage=40, message="Reading the VHD footer"),
                       producer="certification").model_copy(update={"occurred_at": T0 + timedelta(seconds=3)})
    return [(CERTIFICATION.name, prog), (CERTIFICATION.name, cert), (VALIDATION.name, passed),
            (VALIDATION.name, started), (PUBLISHING.name, req)]


def test_trace_tells_the_story_in_order(broker: str) -> None:
    offer = "trace-" + uuid.uuid4().hex[:8]
    other = "trace-" + uuid.uuid4().hex[:8]
    letter = DeadLetter(topic=CERTIFICATION.name, partition=0, offset=7, key=offer.encode(), value=b"{not json",
                        error_class="ContractError", error_message="not JSON", consumer="status-projection")
    asyncio.run(send(broker, story(offer) + story(other)[:1], [letter]))

    r = cli("trace", offer, "--bootstrap", broker)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    types = [ln.split()[3] for ln in lines if "DEAD LETTER" not in ln]
    assert types == ["offer.publish_requested", "validation.started", "validation.passed",
                     "certification.started", "certification.progressed"]
    assert other not in r.stdout
    assert "step=displaycertify 40% \"Reading the VHD footer\"" in lines[4]
    assert f"run=run-{offer}"[:12] in lines[0]
    dead = [ln for ln in lines if "DEAD LETTER" in ln]
    assert len(dead) == 1 and "offerflow.certification[0]@7" in dead[0] and "ContractError: not JSON" in dead[0]

    j = cli("trace", offer, "--bootstrap", broker, "--json")
    docs = json.loads(j.stdout)
    assert [d["kind"] for d in docs].count("event") == 5
    assert docs[0]["envelope"]["event_type"] == "offer.publish_requested"


def test_trace_without_bootstrap_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OFFERFLOW_KAFKA_BOOTSTRAP", raising=False)
    assert cli("trace", "x").exit_code == 2


def test_trace_finds_the_bootstrap_in_endpoints_json(broker: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OFFERFLOW_KAFKA_BOOTSTRAP", raising=False)
    (tmp_path / ".run").mkdir()
    (tmp_path / ".run/endpoints.json").write_text(json.dumps({"kafka_bootstrap": broker}))
    r = cli("trace", "nobody-" + uuid.uuid4().hex[:6])
    assert r.exit_code == 0 and r.stdout == ""


def test_dlq_list_and_replay_once(broker: str) -> None:
    offer = "dlq-" + uuid.uuid4().hex[:8]
    who = "tester-" + uuid.uuid4().hex[:6]  # only this test's letters are replayed
    value = b'{"hello": "' + offer.encode() + b'"}'
    letters = [DeadLetter(topic=VALIDATION.name, partition=p, offset=o, key=offer.encode(), value=value,
                          error_class="KeyError", error_message="boom", consumer=c)
               for p, o, c in ((1, 10, who), (1, 11, "someone-else"), (2, 12, who))]
    asyncio.run(send(broker, [], letters))

    listed = json.loads(cli("dlq", "list", "--topic", VALIDATION.name, "--bootstrap", broker, "--json").stdout)
    mine = [d for d in listed if d["key"] == offer]
    assert len(mine) == 3
    assert {(d["original"]["partition"], d["original"]["offset"], d["consumer"]) for d in mine} == {
        ("1", "10", who), ("1", "11", "someone-else"), ("2", "12", who)}
    assert mine[0]["exceptionClass"] == "KeyError" and mine[0]["exceptionMessage"] == "boom"

    refused = cli("dlq", "replay", "--consumer", who, "--bootstrap", broker)
    assert refused.exit_code == 2, refused.output  # not a terminal and no --yes

    first = cli("dlq", "replay", "--consumer", who, "--yes", "--bootstrap", broker, "--json")
    assert first.exit_code == 0, first.output
    assert len(json.loads(first.stdout)) == 2
    again = cli("dlq", "replay", "--consumer", who, "--yes", "--bootstrap", broker, "--json")
    assert again.exit_code == 0 and json.loads(again.stdout) == []

    records = asyncio.run(ops_kafka.read_to_end(broker, [VALIDATION.name]))
    back = [r for r in records if r.key == offer.encode()]
    assert len(back) == 2 and all(r.value == value for r in back)
    for r in back:
        names = [k for k, _ in r.headers]
        assert "ce_id" in names and "offerflow.replayed-from" in names
        assert not any(k.startswith("__connect.errors.") or k == "offerflow.dlq.consumer" for k in names)


async def test_tail_follows_new_records(broker: str) -> None:
    offer = "tail-" + uuid.uuid4().hex[:8]
    env = story(offer)[-1][1]
    seen: list[ops_kafka.Record] = []

    async def watch() -> None:
        async for r in ops_kafka.follow(broker, [PUBLISHING.name, PUBLISHING.dlq], from_beginning=False):
            if r.key == offer.encode():
                seen.append(r)
                return

    task = asyncio.create_task(watch())
    await asyncio.sleep(2)  # the consumer has its end offsets before the record is sent
    await send(broker, [(PUBLISHING.name, env)], [])
    await asyncio.wait_for(task, 30)
    assert "offer.publish_requested" in ops_kafka.line(seen[0]) and offer in ops_kafka.line(seen[0])


def test_dlq_replay_skips_letters_of_runs_that_have_ended(broker: str) -> None:
    offer = "ended-" + uuid.uuid4().hex[:8]
    ended = wrap(ValidationPassed(offer=SNAP), offer_id=offer, publisher_id="p", run_id="run-a-" + offer,
                 producer="validation")
    running = wrap(ValidationPassed(offer=SNAP), offer_id=offer, publisher_id="p", run_id="run-b-" + offer,
                   producer="validation")
    # What certification emits when it gives up on ``ended``: the run's failure, caused by the dead letter.
    failure = ended.follow(CertificationFailed(summary="s", reasons=[Reason(code="internal-error", message="m")],
                                               dead_letter="offerflow.validation.dlq <- offerflow.validation[0]@1"),
                           producer="certification")
    letters = [DeadLetter(topic=VALIDATION.name, partition=0, offset=o, key=offer.encode(), value=encode(env),
                          error_class="KeyError", error_message="boom", consumer="certification")
               for o, env in ((1, ended), (2, running))]
    asyncio.run(send(broker, [(CERTIFICATION.name, failure)], letters))
    args = ("dlq", "replay", "--consumer", "certification", "--offer", offer, "--yes", "--bootstrap", broker)

    first = cli(*args, "--json")
    assert first.exit_code == 0, first.output
    docs = json.loads(first.stdout)
    assert [d.get("replayedTo") for d in docs if "skipped" not in d] == [VALIDATION.name]
    [skipped] = [d for d in docs if "skipped" in d]
    assert "already failed for this dead letter" in skipped["skipped"] and str(failure.event_id) in skipped["skipped"]

    again = json.loads(cli(*args, "--json").stdout)  # still reported, still not replayed
    assert [d["skipped"] for d in again] == [skipped["skipped"]]
    forced = json.loads(cli(*args, "--force", "--json").stdout)
    assert [d.get("replayedTo") for d in forced] == [VALIDATION.name]

    records = asyncio.run(ops_kafka.read_to_end(broker, [VALIDATION.name]))
    back = [decode(r.value) for r in records if r.key == offer.encode()]
    assert sorted(e.run_id or "" for e in back) == sorted([running.run_id or "", ended.run_id or ""])
