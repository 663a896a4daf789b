"""``offerflow dlq list`` and ``offerflow dlq replay``: dead letters, and sending them back where they failed.

Replay re-produces each dead letter's original key, value and headers (without the error headers) to its
original topic. What was replayed is recorded in the consumer group ``offerflow-dlq-replay`` on the dead-letter
topic: its committed offset is where every earlier letter was replayed, and the commit's metadata lists the
letters replayed past it (those a ``--consumer`` filter replayed while skipping others). A second replay never
resends a letter.

A dead letter of a stage whose run has ended is skipped (reported with the reason, left in place): replaying it
would start that step again for a run the publisher was told is over. The topics are the source of truth: a
stage that gave up on an input emitted its failed event caused by that input (``causation_id`` = the letter's
event id, ``dead_letter`` set), and a run has ended once any stage failed it, it was canceled or it went live.
``--force`` replays them anyway.
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
    reachable,
    read_to_end,
    run_async,
)
from offerflow_cli.output import Out
from offerflow_contract.codec import decode
from offerflow_contract.envelope import ContractError, Envelope
from offerflow_contract.events import (
    CertificationPassed,
    GoLiveRequested,
    ProvisioningPassed,
    PublishRequested,
    StageFailed,
    StagingPassed,
    ValidationPassed,
)
from offerflow_contract.topics import (
    ALL,
    CERTIFICATION,
    DLQ_SUFFIX,
    PACKAGING,
    PROVISIONING,
    PUBLISHING,
    STAGING,
    VALIDATION,
)

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


# Inputs that start or continue work for a run, by the stage consuming them: replaying one for an ended run
# would reopen it. Everything else (mails, the read model, withdrawing a canceled preview) is always replayed.
RUN_INPUTS = {
    "validation": {PublishRequested.event_type},
    "certification": {ValidationPassed.event_type},
    "provisioning": {CertificationPassed.event_type},
    "staging": {ProvisioningPassed.event_type},
    "packaging": {StagingPassed.event_type, GoLiveRequested.event_type},
}
RUN_TOPICS = [PUBLISHING.name, VALIDATION.name, CERTIFICATION.name, PROVISIONING.name, STAGING.name, PACKAGING.name]
ENDS_RUN = {"offer.publish_canceled", "offer.went_live"}


def _envelope(value: bytes | None) -> Envelope | None:
    try:
        return decode(value)
    except ContractError:
        return None


def _is_failure(env: Envelope) -> bool:
    try:
        return isinstance(env.event(), StageFailed)
    except ContractError:
        return False


def ended_runs(letters: Iterable[Record], history: Iterable[Record]) -> dict[tuple[str, int, int], str]:
    """Why each stage letter whose run has ended must not be replayed, keyed by (dlq topic, partition, offset)."""
    stage_letters = []
    for r in letters:
        env = _envelope(r.value)
        if env is not None and env.event_type in RUN_INPUTS.get(r.header("offerflow.dlq.consumer") or "", ()):
            stage_letters.append((r, env))
    if not stage_letters:
        return {}
    failed_for: dict[tuple[str, str], Envelope] = {}  # (cause event id, stage) -> the failure it caused
    ended: dict[str, Envelope] = {}  # run id -> what ended it
    for h in history:
        env = _envelope(h.value)
        if env is None or env.run_id is None:
            continue
        failure = _is_failure(env)
        if failure and env.causation_id:
            failed_for.setdefault((env.causation_id, env.producer), env)
        if failure or env.event_type in ENDS_RUN:
            ended.setdefault(env.run_id, env)
    skipped = {}
    for r, env in stage_letters:
        key = (r.topic, r.partition, r.offset)
        own = failed_for.get((str(env.event_id), r.header("offerflow.dlq.consumer") or ""))
        if own is not None:
            skipped[key] = (f"run {env.run_id} already failed for this dead letter "
                            f"({own.event_type} {own.event_id})")
        elif env.run_id is not None and env.run_id in ended:
            end = ended[env.run_id]
            skipped[key] = f"run {env.run_id} has ended ({end.event_type} {end.event_id})"
    return skipped


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


def wanted(r: Record, consumer_name: str | None, offer: str | None = None) -> bool:
    return r.header(ERRORS + "topic") is not None and (
        consumer_name is None or r.header("offerflow.dlq.consumer") == consumer_name) and (
        offer is None or r.key == offer.encode())


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
        records = await read_to_end(await reachable(kafka_bootstrap(bootstrap), out), dlq_topics(topic))
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
           offer: Annotated[str | None, typer.Option("--offer", help="Only the dead letters of this offer "
                                                     "(the record key).")] = None,
           force: Annotated[bool, typer.Option("--force", help="Also replay letters of runs that have ended "
                                               "(restarts that step of the run).")] = False,
           bootstrap: Bootstrap = None, as_json: Json = False) -> None:
    """Send dead letters back to their original topic, each once (a second replay sends nothing again).

    Letters of a stage whose run has ended are skipped with the reason, unless --force.
    """
    out = Out(as_json=as_json)

    async def body() -> int:
        server = await reachable(kafka_bootstrap(bootstrap), out)
        records = await read_to_end(server, dlq_topics(topic))
        c = consumer(server, group=GROUP)
        await c.start()
        try:
            tps = await partitions(server, dlq_topics(topic))
            c.assign(tps)  # the group only records progress: nothing is read through it
            book = await ledgers(server, tps)
            todo = [r for r in records if wanted(r, consumer_name, offer)
                    and not book[TopicPartition(r.topic, r.partition)].done(r.offset)]
            todo.sort(key=lambda r: (r.topic, r.partition, r.offset))
            reasons = {} if force or not todo else ended_runs(todo, await read_to_end(server, RUN_TOPICS))
            skipped = [{**dead_letter_info(r), "skipped": reasons[(r.topic, r.partition, r.offset)]}
                       for r in todo if (r.topic, r.partition, r.offset) in reasons]
            for s in skipped:
                out.note(f"skipped {s['topic']}[{s['partition']}]@{s['offset']}: {s['skipped']}")
            todo = [r for r in todo if (r.topic, r.partition, r.offset) not in reasons]
            if not todo:
                out.note("Nothing to replay.")
                if as_json:
                    out.doc(skipped)
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
                out.doc(done + skipped)
            else:
                tail = f", skipped {len(skipped)} of ended runs" if skipped else ""
                sys.stdout.write(f"Replayed {len(done)} dead letter(s){tail}.\n")
            return Exit.OK
        finally:
            await c.stop()

    run_async(out, body)


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, help="Dead letters (<topic>.dlq): list and replay.")
    app.command("list")(list_letters)
    app.command("replay")(replay)
    return app
