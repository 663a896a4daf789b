"""What a chaos run is judged on, read from the system's own records after the faults stopped.

* the read model (the API's status): every offer ended where its inputs say, failing at the right step;
* the event archive: one publish run per offer, and each step transition of that run exactly once
  (distinct event ids per run and transition type; progress events are not transitions);
* the mail sink: exactly the expected mails per offer, one each (a resent mail has the same Message-ID);
* the region stores: every replica of every passing offer present, its marker and content matching the image;
* the dead-letter topics: nothing keyed by one of these offers.
"""

from __future__ import annotations

import asyncio
import email
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from stack import Stack

from offerflow_contract.topics import PARTITIONS, all_topic_names
from tests import objectstores, replicas
from tests.chaos.traffic import FAILED_STEP, FINAL, MAILS, TRANSITIONS, Client, Offer

REGIONS = 8


# The step supervisor's warning that a step runs past twice its measured p90: faults make steps slow, so it
# may be said (once per step: its id derives from the run and step) without anything being lost or repeated.
OVERDUE = "offer.step_overdue"


@dataclass
class Findings:
    lost: list[str] = field(default_factory=list)  # an offer short of its expected end, or a transition missing
    duplicated: list[str] = field(default_factory=list)  # a second run, or a transition recorded twice
    missing_mails: list[str] = field(default_factory=list)
    duplicate_mails: list[str] = field(default_factory=list)
    missing_replicas: list[str] = field(default_factory=list)
    dlq: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, int]:
        return {"lost": len(self.lost), "duplicated": len(self.duplicated),
                "missing mails": len(self.missing_mails), "duplicate mails": len(self.duplicate_mails),
                "missing replicas": len(self.missing_replicas), "DLQ entries": len(self.dlq)}

    def problems(self) -> list[str]:
        return [*self.lost, *self.duplicated, *self.missing_mails, *self.duplicate_mails,
                *self.missing_replicas, *self.dlq]


def check_status(client: Client, offers: list[Offer], f: Findings) -> dict[str, str]:
    """The read model's verdict per offer; returns each offer's run id."""
    runs: dict[str, str] = {}
    for o in offers:
        doc = client.status(o.offer_id) or {}
        runs[o.offer_id] = str(doc.get("runId"))
        if doc.get("status") != FINAL[o.kind]:
            f.lost.append(f"{o.offer_id} ({o.kind}) is {doc.get('status')}, expected {FINAL[o.kind]}")
            continue
        if o.kind in FAILED_STEP:
            steps = {s["id"]: s["status"] for s in doc.get("steps", [])}
            if steps.get(FAILED_STEP[o.kind]) != "failed":
                f.lost.append(f"{o.offer_id} ({o.kind}) failed elsewhere: {steps}")
    return runs


async def check_archive(dsn: str, publisher: str, offers: list[Offer], f: Findings) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            # One notification.sent per mail: two for one (cause, recipient) would be a mail announced twice.
            """SELECT offer_id, run_id, count(DISTINCT event_id) AS n,
                      CASE WHEN event_type = 'notification.sent'
                           THEN 'notification.sent of ' || (payload->>'cause_event_id') || ' to '
                                || (payload->'recipients'->>0)
                           ELSE event_type END AS event_type
               FROM event_archive WHERE publisher_id = $1 AND offer_id = ANY($2::text[])
               GROUP BY 1, 2, 4""",
            publisher, [o.offer_id for o in offers])
    finally:
        await conn.close()
    seen: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for r in rows:
        seen[r["offer_id"]][r["run_id"]][r["event_type"]] += int(r["n"])
    for o in offers:
        runs = {run: c for run, c in seen[o.offer_id].items() if c["offer.publish_requested"]}
        if len(runs) != 1:
            (f.duplicated if len(runs) > 1 else f.lost).append(f"{o.offer_id}: {len(runs)} publish runs")
            if not runs:
                continue
        for run, counts in runs.items():
            expected = TRANSITIONS[o.kind]
            for t in sorted(expected - set(counts)):
                f.lost.append(f"{o.offer_id} run {run}: no {t}")
            for t, n in sorted(counts.items()):
                if n > 1 and not t.endswith(".progressed"):
                    f.duplicated.append(f"{o.offer_id} run {run}: {t} recorded {n} times")
                elif t not in expected and not t.endswith(".progressed") and not t.startswith("notification.") \
                        and t != OVERDUE:
                    f.duplicated.append(f"{o.offer_id} run {run}: unexpected {t}")


def check_mails(mail_dir: Path, offers: list[Offer], f: Findings) -> None:
    by_owner = {o.owner: o for o in offers}
    got: dict[str, Counter[str]] = defaultdict(Counter)  # offer → template → mails
    ids: dict[str, Counter[str]] = defaultdict(Counter)  # offer → Message-ID → mails
    for path in mail_dir.glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes())
        offer = by_owner.get(str(msg.get("To") or "").strip())
        if offer is None:
            continue
        got[offer.offer_id][str(msg.get("X-Offerflow-Template"))] += 1
        ids[offer.offer_id][str(msg.get("Message-ID"))] += 1
    for o in offers:
        for template in sorted(MAILS[o.kind]):
            n = got[o.offer_id][template]
            if n == 0:
                f.missing_mails.append(f"{o.offer_id} ({o.kind}): no {template} mail")
            elif n > 1:
                resent = sum(c - 1 for c in ids[o.offer_id].values() if c > 1)
                f.duplicate_mails.append(f"{o.offer_id}: {n} {template} mails ({resent} resent, same Message-ID)")
        for template in sorted(set(got[o.offer_id]) - MAILS[o.kind]):
            f.duplicate_mails.append(f"{o.offer_id} ({o.kind}): unexpected {template} mail")


def check_replicas(publisher: str, offers: list[Offer], f: Findings) -> None:
    """Every passing offer has a verified replica in every region endpoint (the server's checksum of what it
    stored equals the image's), and no region keeps an unfinished multipart upload."""
    passing = [o for o in offers if o.kind not in FAILED_STEP]
    for o in passing:
        f.missing_replicas += [f"{o.offer_id}: {p}" for p in replicas.problems(publisher, o.offer_id, o.image)]
    f.missing_replicas += [f"orphan upload {u.region}/{u.key}" for u in objectstores.open_uploads()]


async def check_dlq(bootstrap: str, offers: list[Offer], f: Findings) -> None:
    keys = {o.offer_id.encode() for o in offers}
    topics = [t for t in all_topic_names() if t.endswith(".dlq")]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        remaining = {tp for tp in parts if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=2000)
            for tp, records in batch.items():
                for r in records:
                    if r.key in keys:
                        why = dict(r.headers).get("__connect.errors.exception.message")
                        f.dlq.append(f"{tp.topic}: {r.key!r} {why!r}")
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if not batch:
                remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()


def check_all(stack: Stack, client: Client, offers: list[Offer]) -> Findings:
    f = Findings()
    check_status(client, offers, f)
    asyncio.run(check_archive(stack.dsn, client.publisher, offers, f))
    check_mails(stack.mail_dir, offers, f)
    check_replicas(client.publisher, offers, f)
    asyncio.run(check_dlq(stack.kafka_bootstrap, offers, f))
    return f
