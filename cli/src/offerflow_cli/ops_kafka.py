"""What the operations commands share: reading topics with a plain consumer and describing records."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from offerflow_cli.config import ConfigError, brokers
from offerflow_cli.exits import Exit
from offerflow_cli.output import Out
from offerflow_contract.codec import decode
from offerflow_contract.envelope import ContractError, Envelope

Bootstrap = Annotated[str | None, typer.Option("--bootstrap", envvar="OFFERFLOW_KAFKA_BOOTSTRAP", show_envvar=True,
                                               help="Kafka bootstrap HOST:PORT, or several separated by commas "
                                               "(default: .run/endpoints.json).")]
Json = Annotated[bool, typer.Option("--json", help="One JSON document per record.")]
ERRORS = "__connect.errors."
PROBE_SECONDS = 5.0


class BrokersUnreachable(Exception):
    """No broker of the bootstrap list answered."""

    def __init__(self, failures: Mapping[str, str]) -> None:
        self.failures = dict(failures)
        super().__init__("No Kafka broker answered: " + "; ".join(f"{b}: {why}" for b, why in failures.items()))


class _SaidAlready(logging.Filter):
    """aiokafka logs every bootstrap address it cannot connect to; :func:`reachable` says it in plainer words."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Unable connect to")


logging.getLogger("aiokafka.client").addFilter(_SaidAlready())


def _why(exc: BaseException) -> str:
    errno = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and isinstance(errno, int) and errno > 0:
        return os.strerror(errno).lower()
    return str(exc) or type(exc).__name__


async def probe(broker: str, seconds: float = PROBE_SECONDS) -> str | None:
    """None when ``broker`` (``HOST:PORT``) answers a Kafka metadata request, else why not, in words."""
    host, _, port = broker.rpartition(":")
    host = host[1:-1] if host.startswith("[") else host
    # A plain connection first: its error says what is wrong (refused, unknown host), which aiokafka only logs.
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), seconds)
    except TimeoutError:
        return f"no answer within {seconds:g} s"
    except OSError as exc:
        return _why(exc)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    client = AIOKafkaClient(bootstrap_servers=broker, request_timeout_ms=int(seconds * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), seconds * 2)
    except (KafkaError, OSError, TimeoutError) as exc:
        return f"accepts connections but did not answer as a Kafka broker ({_why(exc)})"
    finally:
        await client.close()
    return None


async def reachable(bootstrap: str, out: Out) -> str:
    """The brokers of ``bootstrap`` that answer, as a bootstrap list; those that do not are named on stderr.

    The clients then bootstrap from a broker known to answer (the cluster's metadata names the others), so a
    dead first entry costs one quick probe instead of a timeout per client.
    """
    listed = brokers(bootstrap)
    answers = await asyncio.gather(*(probe(b) for b in listed))
    failures = {b: why for b, why in zip(listed, answers, strict=True) if why is not None}
    alive = [b for b in listed if b not in failures]
    if not alive:
        raise BrokersUnreachable(failures)
    if failures:
        # On stderr even under --json: which brokers are down is worth knowing whatever the output format.
        out.error("Kafka broker(s) unreachable: " + "; ".join(f"{b} ({why})" for b, why in failures.items())
                  + f". Using {', '.join(alive)}.")
    return ",".join(alive)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v.decode(errors="replace")
        return None

    def envelope(self) -> Envelope | None:
        try:
            return decode(self.value)
        except ContractError:
            return None

    @property
    def kafka_time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)


def _record(m: Any) -> Record:
    return Record(m.topic, m.partition, m.offset, m.timestamp, m.key, m.value, list(m.headers or []))


def consumer(bootstrap: str, group: str | None = None) -> AIOKafkaConsumer:
    # No group unless one is asked for: reading must never move a service's committed offsets.
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                            auto_offset_reset="earliest", request_timeout_ms=15000)


async def partitions(bootstrap: str, topics: Sequence[str]) -> list[TopicPartition]:
    """The partitions of those ``topics`` that exist (a topic is never created by looking at it)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t in existing]
        described = await admin.describe_topics(wanted) if wanted else []
    finally:
        await admin.close()
    return sorted(TopicPartition(d["topic"], p["partition"]) for d in described if d.get("error_code") == 0
                  for p in d.get("partitions") or [])


async def read_to_end(bootstrap: str, topics: Sequence[str]) -> list[Record]:
    """Every record of ``topics`` from the beginning up to the end offsets seen at the start."""
    c = consumer(bootstrap)
    await c.start()
    try:
        tps = await partitions(bootstrap, topics)
        if not tps:
            return []
        c.assign(tps)
        ends = await c.end_offsets(tps)
        starts = await c.beginning_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > starts[tp]}
        await c.seek_to_beginning(*tps)
        out: list[Record] = []
        while todo:
            batch = await c.getmany(*todo, timeout_ms=1000)
            for tp, msgs in batch.items():
                out += [_record(m) for m in msgs if m.offset < ends[tp]]
            for tp in list(todo):
                if await c.position(tp) >= ends[tp]:
                    todo.discard(tp)
        return out
    finally:
        await c.stop()


async def follow(bootstrap: str, topics: Sequence[str], from_beginning: bool) -> AsyncIterator[Record]:
    """Records of ``topics`` as they arrive (optionally the old ones first), until cancelled."""
    c = consumer(bootstrap)
    await c.start()
    try:
        tps = await partitions(bootstrap, topics)
        if not tps:
            return
        c.assign(tps)
        if from_beginning:
            await c.seek_to_beginning(*tps)
        else:
            await c.seek_to_end(*tps)
        while True:
            batch = await c.getmany(timeout_ms=1000)
            for msgs in batch.values():
                for m in msgs:
                    yield _record(m)
    finally:
        await c.stop()


def short(run_id: str | None) -> str:
    return (run_id or "-")[:8]


def summary(env: Envelope) -> str:
    """The few payload fields a person reads first: step, percentage, message, reasons, links."""
    p, parts = env.payload, []
    try:
        step = getattr(type(env.event()), "step", None)
    except ContractError:
        step = None
    if step is not None:
        parts.append(f"step={step.value if hasattr(step, 'value') else step}")
    if "percentage" in p:
        parts.append(f"{p['percentage']}%")
    for name in ("message", "summary", "reason", "subject"):
        if p.get(name):
            parts.append(json.dumps(str(p[name]), ensure_ascii=False))
    reasons = [str(r.get("message", r)) for r in p.get("reasons") or [] if isinstance(r, dict)]
    if reasons:
        parts.append("reasons: " + "; ".join(reasons))
    for name in ("preview_links", "live_links", "recipients"):
        if p.get(name):
            parts.append(f"{name}={','.join(map(str, p[name]))}")
    if "offer" in p and isinstance(p["offer"], dict) and "offer_version" in p["offer"]:
        parts.append(f"version={p['offer']['offer_version']}")
    return " ".join(parts)


def dead_letter_info(r: Record) -> dict[str, Any]:
    return {"topic": r.topic, "partition": r.partition, "offset": r.offset,
            "key": r.key.decode(errors="replace") if r.key is not None else None,
            "original": {"topic": r.header(ERRORS + "topic"), "partition": r.header(ERRORS + "partition"),
                         "offset": r.header(ERRORS + "offset")},
            "exceptionClass": r.header(ERRORS + "exception.class.name"),
            "exceptionMessage": r.header(ERRORS + "exception.message"),
            "consumer": r.header("offerflow.dlq.consumer"), "time": r.kafka_time.isoformat()}


def describe(r: Record) -> dict[str, Any]:
    """A record as one JSON-ready document (``--json``)."""
    if r.header(ERRORS + "topic") is not None:
        return {"kind": "deadLetter", **dead_letter_info(r)}
    env = r.envelope()
    if env is None:
        return {"kind": "undecodable", "topic": r.topic, "partition": r.partition, "offset": r.offset,
                "time": r.kafka_time.isoformat()}
    return {"kind": "event", "topic": r.topic, "partition": r.partition, "offset": r.offset,
            "envelope": json.loads(env.model_dump_json())}


def line(r: Record) -> str:
    """One readable line: time, topic, producer, event type, run, summary."""
    if r.header(ERRORS + "topic") is not None:
        d = dead_letter_info(r)
        o = d["original"]
        return (f"{d['time']}  {r.topic}  DEAD LETTER from {o['topic']}[{o['partition']}]@{o['offset']}  "
                f"key={d['key']}  by {d['consumer']}: {d['exceptionClass']}: {d['exceptionMessage']}")
    env = r.envelope()
    if env is None:
        return f"{r.kafka_time.isoformat()}  {r.topic}  (not an event: {len(r.value or b'')} bytes)"
    return (f"{env.occurred_at.isoformat()}  {r.topic}  {env.producer}  {env.event_type}  "
            f"offer={env.offer_id} run={short(env.run_id)}  {summary(env)}").rstrip()


def run_async(out: Out, body: Callable[[], Coroutine[Any, Any, int | None]]) -> None:
    """Run an async command body; a missing setting is exit 2, an unreachable broker 15."""
    try:
        code = asyncio.run(body())
    except ConfigError as exc:
        out.error(f"Error: {exc}")
        raise typer.Exit(Exit.USAGE) from exc
    except BrokersUnreachable as exc:
        out.error(f"{exc}. Check the bootstrap list; retrying later may help.")
        raise typer.Exit(Exit.UNAVAILABLE) from exc
    except (KafkaError, OSError) as exc:
        out.error(f"Kafka is not reachable or refused the request: {exc!r}. Retrying later may help.")
        raise typer.Exit(Exit.UNAVAILABLE) from exc
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(int(code or 0))
