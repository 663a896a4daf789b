"""``offerflow dlq list`` and ``offerflow dlq replay``: dead letters, and sending them back where they failed.

Replay re-produces each dead letter's original key, value and headers (without the error headers) to its
original topic. What was replayed is recorded in the consumer group ``offerflow-dlq-replay`` on the dead-letter
topic: its committed offset is where every earlier letter was replayed, and the commit's metadata lists the
letters replayed past it (those a ``--consumer`` filter replayed while skipping others). A second replay never
resends a letter.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

import typer
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError

from offerflow_cli.config import ConfigError, kafka_bootstrap
from offerflow_cli.exits import Exit
from offerflow_cli.ops_kafka import (
    ERRORS,
    Bootstrap,
    Json,
    Record,
    consumer,
    dead_letter_info,
    line,
    partitions,
    read_to_end,
    run_async,
)
from offerflow_cli.output import Out
from offerflow_shared.topics import ALL, DLQ_SUFFIX

GROUP = "offerflow-dlq-replay"
REPLAYED_FROM = "offerflow.replayed-from"
COORDINATOR_ATTEMPTS = 10
_DROP = ("offerflow.dlq.consumer",)

TopicOpt = Annotated[list[str] | None, typer.Option("--topic", help="Only the dead letters of this topic "
                                                    "(repeatable; with or without .dlq).")]


def dlq_topics(topics: Iterable[str] | None) -> list[str]:
    if not topics:
        return [t.dlq for t in ALL]
    return [t if t.endswith(DLQ_SUFFIX) else t + DLQ_SUFFIX for t in topics]


def original_headers(r: Record) -> list[tuple[str, bytes]]:
    """The headers the record had before it was dead-lettered, plus where this copy was replayed from."""
    kept = [(k, v) for k, v in r.headers if not k.startswith(ERRORS) and k not in _DROP and k != REPLAYED_FROM]
    return [*kept, (REPLAYED_FROM, f"{r.topic}/{r.partition}/{r.offset}".encode())]


@dataclass
class Ledger:
    """Replay progress of one dead-letter partition: all below ``committed`` done, plus ``beyond``."""

    committed: int
    beyond: set[int] = field(default_factory=set)

    @classmethod
    def parse(cls, offset: int, metadata: str | None) -> Ledger:
        try:
            beyond = {int(o) for o in json.loads(metadata or "[]")}
        except (ValueError, TypeError):
            beyond = set()
        return cls(max(0, offset), {o for o in beyond if o >= offset})

    def done(self, offset: int) -> bool:
        return offset < self.committed or offset in self.beyond

    def mark(self, offset: int) -> None:
        self.beyond.add(offset)
        while self.committed in self.beyond:
            self.beyond.discard(self.committed)
            self.committed += 1

    def metadata(self) -> str:
        return json.dumps(sorted(self.beyond))


def wanted(r: Record, consumer_name: str | None) -> bool:
    return r.header(ERRORS + "topic") is not None and (
        consumer_name is None or r.header("offerflow.dlq.consumer") == consumer_name)


async def ledgers(bootstrap: str, tps: list[TopicPartition]) -> dict[TopicPartition, Ledger]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for attempt in range(COORDINATOR_ATTEMPTS):
            try:
                got = await admin.list_consumer_group_offsets(GROUP, partitions=tps)
                break
            except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
                # A cluster that never had a consumer group creates its offsets topic on first use.
                if attempt == COORDINATOR_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))
    finally:
        await admin.close()
    out = {tp: Ledger(0) for tp in tps}
    for tp, meta in got.items():
        key = TopicPartition(tp.topic, tp.partition)
        if key in out and meta.offset >= 0:
            out[key] = Ledger.parse(meta.offset, meta.metadata)
    return out


def list_letters(topic: TopicOpt = None, bootstrap: Bootstrap = None, as_json: Json = False) -> None:
    """List the dead letters: original topic/partition/offset, the error, and the consumer that gave up."""
    out = Out(as_json=as_json)

    async def body() -> int:
        records = await read_to_end(kafka_bootstrap(bootstrap), dlq_topics(topic))
        records.sort(key=lambda r: (r.timestamp_ms, r.topic, r.partition, r.offset))
        if as_json:
            out.doc([dead_letter_info(r) for r in records])
        else:
            for r in records:
                sys.stdout.write(line(r) + "\n")
            out.note(f"{len(records)} dead letter(s).")
        return 0

    run_async(out, body)


def replay(topic: TopicOpt = None,
           consumer_name: Annotated[str | None, typer.Option("--consumer", help="Only letters this service "
                                                             "dead-lettered (e.g. certification).")] = None,
           yes: Annotated[bool, typer.Option("--yes", help="Replay without asking.")] = False,
           bootstrap: Bootstrap = None, as_json: Json = False) -> None:
    """Send dead letters back to their original topic, each once (a second replay sends nothing again)."""
    out = Out(as_json=as_json)

    async def body() -> int:
        server = kafka_bootstrap(bootstrap)
        records = await read_to_end(server, dlq_topics(topic))
        c = consumer(server, group=GROUP)
        await c.start()
        try:
            tps = await partitions(server, dlq_topics(topic))
            c.assign(tps)  # the group only records progress: nothing is read through it
            book = await ledgers(server, tps)
            todo = [r for r in records if wanted(r, consumer_name)
                    and not book[TopicPartition(r.topic, r.partition)].done(r.offset)]
            todo.sort(key=lambda r: (r.topic, r.partition, r.offset))
            if not todo:
                out.note("Nothing to replay.")
                if as_json:
                    out.doc([])
                return Exit.OK
            if not yes:
                for r in todo:
                    sys.stderr.write(line(r) + "\n")
                if not sys.stdin.isatty():
                    raise ConfigError(f"{len(todo)} dead letter(s) would be replayed; pass --yes to replay them.")
                if not typer.confirm(f"Replay {len(todo)} dead letter(s)?"):
                    return Exit.USAGE
            producer = AIOKafkaProducer(bootstrap_servers=server, acks="all", enable_idempotence=True)
            await producer.start()
            done = []
            try:
                for r in todo:
                    target = r.header(ERRORS + "topic")
                    assert target is not None  # wanted() checked it
                    await producer.send_and_wait(target, r.value, key=r.key, headers=original_headers(r))
                    tp = TopicPartition(r.topic, r.partition)
                    book[tp].mark(r.offset)
                    # Committed after each send: an interrupted replay resends at most the one in flight.
                    await c.commit({tp: (book[tp].committed, book[tp].metadata())})
                    done.append({**dead_letter_info(r), "replayedTo": target})
                    out.note(f"replayed {r.topic}[{r.partition}]@{r.offset} -> {target}")
            finally:
                await producer.stop()
            if as_json:
                out.doc(done)
            else:
                sys.stdout.write(f"Replayed {len(done)} dead letter(s).\n")
            return Exit.OK
        finally:
            await c.stop()

    run_async(out, body)


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, help="Dead letters (<topic>.dlq): list and replay.")
    app.command("list")(list_letters)
    app.command("replay")(replay)
    return app
