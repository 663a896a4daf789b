"""``offerflow trace OFFER`` (one offer's whole story across every topic) and ``offerflow tail``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import typer

from offerflow_cli.config import kafka_bootstrap
from offerflow_cli.ops_kafka import (
    Bootstrap,
    Json,
    Record,
    describe,
    follow,
    line,
    reachable,
    read_to_end,
    run_async,
)
from offerflow_cli.output import Out
from offerflow_contract.topics import all_topic_names


def story(records: Sequence[Record], offer_id: str) -> list[Record]:
    """The records keyed by ``offer_id``, in the order things happened.

    Ordered by the event's time; events with the same time by their place in the causation chain (a
    cause before its effects), then by topic and offset. Dead letters and undecodable records, which
    carry no event time, take the time Kafka stored them.
    """
    key = offer_id.encode()
    mine = [r for r in records if r.key == key]
    envs = {id(r): r.envelope() for r in mine}
    cause = {str(e.event_id): e.causation_id for e in envs.values() if e is not None}

    def depth(event_id: str | None) -> int:
        seen: set[str] = set()
        n = 0
        while event_id is not None and event_id in cause and event_id not in seen:
            seen.add(event_id)
            event_id = cause[event_id]
            n += 1
        return n

    def order(r: Record) -> tuple[datetime, int, str, int, int]:
        env = envs[id(r)]
        at = env.occurred_at if env is not None else r.kafka_time
        return at, depth(str(env.event_id)) if env is not None else 0, r.topic, r.partition, r.offset

    return sorted(mine, key=order)


def trace(offer: Annotated[str, typer.Argument(help="Offer id (the Kafka key of its records).")],
          bootstrap: Bootstrap = None, as_json: Json = False) -> None:
    """Print one offer's whole story across every topic (and the dead letters), in order."""
    out = Out(as_json=as_json)

    async def body() -> int:
        records = await read_to_end(await reachable(kafka_bootstrap(bootstrap), out), all_topic_names(with_dlq=True))
        found = story(records, offer)
        if as_json:
            out.doc([describe(r) for r in found])
        else:
            for r in found:
                sys.stdout.write(line(r) + "\n")
        if not found:
            out.note(f"No record is keyed by offer {offer!r}.")
        return 0

    run_async(out, body)


def tail(topic: Annotated[list[str] | None, typer.Option("--topic", help="Only this topic (repeatable); "
                                                        "its .dlq is followed too.")] = None,
         from_beginning: Annotated[bool, typer.Option("--from-beginning", help="Print the old records first.")]
         = False,
         bootstrap: Bootstrap = None, as_json: Json = False) -> None:
    """Follow every topic (and its dead letters) as records arrive, one readable line each; Ctrl-C stops."""
    out = Out(as_json=as_json)
    names = all_topic_names(with_dlq=True)
    if topic:
        names = [n for t in topic for n in (t, t + ".dlq")]

    async def body() -> int:
        async for r in follow(await reachable(kafka_bootstrap(bootstrap), out), names, from_beginning):
            text = json.dumps(describe(r)) if as_json else line(r)
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        return 0

    run_async(out, body)
