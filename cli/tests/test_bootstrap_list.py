"""trace and dlq against a bootstrap list: bad entries are usage errors, a dead first broker is named and
skipped, no live broker at all is exit 15 naming each one."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from offerflow_cli import ops_kafka
from offerflow_cli.config import ConfigError, brokers, kafka_bootstrap
from offerflow_cli.main import _register, app
from offerflow_cli.output import Out
from offerflow_contract.codec import encode, headers_for
from offerflow_contract.dlq import DeadLetter
from offerflow_contract.envelope import wrap
from offerflow_contract.events import OfferSnapshot, PublishRequested
from offerflow_contract.topics import PUBLISHING, VALIDATION
from offerflow_shared.kafka import KafkaSink, ensure_topics

BOOTSTRAP = os.environ.get("OFFERFLOW_KAFKA_BOOTSTRAP")


def cli(*args: str) -> Result:
    _register()
    return CliRunner().invoke(app, list(args))


def dead_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_bootstrap_list_is_checked_entry_by_entry() -> None:
    assert brokers("h1:9092, h2:9093,[::1]:9094") == ("h1:9092", "h2:9093", "[::1]:9094")
    assert brokers("h1:9092,h1:9092") == ("h1:9092",)
    assert kafka_bootstrap(" h1:1 ,h2:2") == "h1:1,h2:2"
    for bad in ("h1", "h1:9092,", "h1:9092,h2", ":9092", "h1:0", "h1:99999", "h1:port", "[]:9092"):
        with pytest.raises(ConfigError, match="HOST:PORT"):
            brokers(bad)


def test_a_bad_entry_is_a_usage_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = cli("trace", "x", "--bootstrap", "127.0.0.1:9092,kafka-2")
    assert r.exit_code == 2 and "'kafka-2'" in r.stderr


async def test_probe_says_why_a_broker_does_not_answer() -> None:
    assert await ops_kafka.probe(f"127.0.0.1:{dead_port()}") == "connection refused"

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # accepts, never answers the Kafka handshake
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        why = await ops_kafka.probe(f"127.0.0.1:{port}", seconds=0.5)
    finally:
        server.close()
    assert why is not None and why.startswith("accepts connections but did not answer as a Kafka broker")


async def test_no_broker_answering_is_an_error_naming_each() -> None:
    a, b = f"127.0.0.1:{dead_port()}", f"127.0.0.1:{dead_port()}"
    with pytest.raises(ops_kafka.BrokersUnreachable) as caught:
        await ops_kafka.reachable(f"{a},{b}", Out())
    assert caught.value.failures == {a: "connection refused", b: "connection refused"}


def test_all_brokers_down_exits_15_naming_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a, b = f"127.0.0.1:{dead_port()}", f"127.0.0.1:{dead_port()}"
    monkeypatch.setenv("OFFERFLOW_KAFKA_BOOTSTRAP", f"{a},{b}")
    r = cli("dlq", "list")
    assert r.exit_code == 15
    assert f"{a}: connection refused; {b}: connection refused" in r.stderr


@pytest.fixture
def listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """OFFERFLOW_KAFKA_BOOTSTRAP = a dead port first, then the real broker."""
    if not BOOTSTRAP:
        pytest.skip("needs the broker of `make test` (OFFERFLOW_KAFKA_BOOTSTRAP)")
    monkeypatch.chdir(tmp_path)
    asyncio.run(ensure_topics(BOOTSTRAP))
    dead = f"127.0.0.1:{dead_port()}"
    monkeypatch.setenv("OFFERFLOW_KAFKA_BOOTSTRAP", f"{dead},{BOOTSTRAP}")
    yield dead, BOOTSTRAP


async def seed(bootstrap: str, offer: str, consumer: str) -> None:
    snapshot = OfferSnapshot(offer_version=1, definition={}, notification_emails=["a@b.example"])
    env = wrap(PublishRequested(offer=snapshot, requested_by="p"),
               offer_id=offer, publisher_id="p", run_id="run-" + offer, producer="status-api")
    letter = DeadLetter(topic=VALIDATION.name, partition=0, offset=3, key=offer.encode(), value=b'{"x": 1}',
                        error_class="KeyError", error_message="boom", consumer=consumer)
    sink = KafkaSink(bootstrap)
    await sink.start()
    try:
        await sink.send(PUBLISHING.name, offer.encode(), encode(env), headers_for(env))
        await sink.send(letter.dlq_topic, letter.key, letter.value, letter.headers())
    finally:
        await sink.stop()


@pytest.mark.integration
def test_trace_and_dlq_work_when_the_first_broker_is_down(listed: tuple[str, str]) -> None:
    dead, _ = listed
    offer, who = "listed-" + uuid.uuid4().hex[:8], "tester-" + uuid.uuid4().hex[:6]
    asyncio.run(seed(listed[1], offer, who))
    warning = f"Kafka broker(s) unreachable: {dead} (connection refused). Using {listed[1]}."

    r = cli("trace", offer)
    assert r.exit_code == 0, r.output
    assert "offer.publish_requested" in r.stdout and "DEAD LETTER" in r.stdout
    assert warning in r.stderr

    j = cli("trace", offer, "--json")  # said on stderr under --json too; stdout stays one JSON document
    assert j.exit_code == 0 and warning in j.stderr
    assert [d["kind"] for d in json.loads(j.stdout)] == ["event", "deadLetter"]

    listing = cli("dlq", "list", "--topic", VALIDATION.name, "--json")
    assert listing.exit_code == 0 and warning in listing.stderr
    assert [d["consumer"] for d in json.loads(listing.stdout) if d["key"] == offer] == [who]

    replayed = cli("dlq", "replay", "--consumer", who, "--yes", "--json")
    assert replayed.exit_code == 0, replayed.output
    assert [d["replayedTo"] for d in json.loads(replayed.stdout)] == [VALIDATION.name]
    assert warning in replayed.stderr
