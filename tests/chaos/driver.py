"""The chaos driver: publishes offers of every kind while faults hit the stack, then judges the outcome.

Reusable outside pytest: ``run_chaos(stack, token, workdir, ChaosConfig(...))`` returns the figures and
every finding; ``tests/chaos/test_chaos.py`` runs a short and a full configuration.
"""

from __future__ import annotations

import asyncio
import email
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from stack import Stack

from tests.chaos import cluster_faults
from tests.chaos.checks import Findings, check_all
from tests.chaos.faults import FaultLoop, Injector, plan
from tests.chaos.progress import Stall, archived_events, longest_stall
from tests.chaos.traffic import FINAL, GOLIVE, MAILS, WEIGHTS, Client, Offer, make_offers

TERMINAL = {"waitingForPublisherReview", "succeeded", "failed", "canceled"}
GOLIVE_SETTLE = 120.0  # an unanswered Go live is repeated only if the read model still waits after this


@dataclass
class ChaosConfig:
    offers: int = 20
    kills: int = 7  # kill -9s, going round every service in a random order
    always_kill: tuple[str, ...] = ()  # killed in every run, whatever the seed
    broker_restarts: int = 1
    postgres_restarts: int = 1
    gap: tuple[float, float] = (2.0, 6.0)  # seconds between two faults
    publish_spacing: float = 0.5  # seconds between two publishes
    timeout: float = 600.0  # for every offer to reach its end once all are published
    seed: int = field(default_factory=lambda: random.randrange(1 << 30))
    publisher: str = "chaos"
    # Cluster mode: broker and instance kills (cluster_faults) instead of kills / broker_restarts above.
    cluster: cluster_faults.ClusterChaos | None = None


@dataclass
class ChaosResult:
    config: ChaosConfig
    kinds: Counter[str]
    faults: Counter[str]
    findings: Findings
    elapsed: float
    ambiguous: int
    kills: dict[str, int] | None = None  # cluster mode: broker kills, instance kills, postgres restarts
    stall: Stall | None = None  # cluster mode: the longest time an offer made no progress

    def report(self) -> str:
        lines = [f"chaos run (seed {self.config.seed}) in {self.elapsed:.0f}s",
                 f"  offers              {sum(self.kinds.values())}  "
                 + ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items())),
                 f"  faults injected     {sum(self.faults.values())}  "
                 + ", ".join(f"{k} {n}" for k, n in sorted(self.faults.items())),
                 f"  unanswered commands {self.ambiguous} (resolved from the read model)"]
        if self.kills is not None:
            lines += [f"  {name:19} {n}" for name, n in self.kills.items()]
            lines += [f"  longest no-progress {self.stall or 'none measured'}"]
        lines += [f"  {name:19} {n}" for name, n in self.findings.figures().items()]
        lines += [f"  ! {p}" for p in self.findings.problems()[:50]]
        return "\n".join(lines)


def choose_kinds(rng: random.Random, n: int) -> list[str]:
    kinds = list(WEIGHTS)[: min(n, len(WEIGHTS))]  # every kind at least once
    kinds += rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=n - len(kinds))
    rng.shuffle(kinds)
    return kinds


def drive(client: Client, offers: list[Offer]) -> list[Offer]:
    """One look at the read model: sends the Go lives that are due; returns the offers not yet at their end."""
    listing = client.listing()
    if listing is None:
        return offers
    now = time.monotonic()
    pending = []
    for o in offers:
        status = listing.get(o.offer_id, "neverPublished")
        if o.kind == GOLIVE and status == "waitingForPublisherReview" and not o.golive_done and (
                o.golive_at is None or now - o.golive_at > GOLIVE_SETTLE):
            client.golive(o)
        at_end = status == FINAL[o.kind] or (status in TERMINAL and not (o.kind == GOLIVE and status ==
                                                                          "waitingForPublisherReview"))
        if not (o.published and at_end):
            pending.append(o)
    return pending


def wait_for_mails(mail_dir: Path, offers: list[Offer], timeout: float = 120.0) -> None:
    owners = {o.owner for o in offers}
    expected = sum(len(MAILS[o.kind]) for o in offers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = 0
        for path in mail_dir.glob("*.eml"):
            with path.open("rb") as fh:
                msg = email.message_from_binary_file(fh)
            n += str(msg.get("To") or "").strip() in owners
        if n >= expected:
            break
        time.sleep(2)
    time.sleep(5)  # a duplicate would arrive right behind the last mail


def run_chaos(stack: Stack, token: str, workdir: Path, cfg: ChaosConfig,
              cluster: cluster_faults.Cluster | None = None) -> ChaosResult:
    """One chaos run; ``cluster`` (with ``cfg.cluster``) is the broker cluster that cluster mode kills nodes of."""
    t0 = time.monotonic()
    rng = random.Random(cfg.seed)
    kinds = choose_kinds(rng, cfg.offers)
    offers = make_offers(workdir, kinds, f"chaos-{uuid.uuid4().hex[:4]}")
    client = Client(stack.api_url, token, cfg.publisher)
    for o in offers:
        client.put(o)
    print(f"[chaos] seed {cfg.seed}: {len(offers)} offers ({dict(Counter(kinds))}), drafts saved in "
          f"{time.monotonic() - t0:.0f}s", flush=True)

    injector = Injector(stack)
    faults: FaultLoop | cluster_faults.ClusterFaults
    if cfg.cluster is None:
        faults = FaultLoop(injector, plan(rng, kills=cfg.kills, broker_restarts=cfg.broker_restarts,
                                          postgres_restarts=cfg.postgres_restarts, always=cfg.always_kill),
                           rng, cfg.gap)
    else:
        if cluster is None:
            raise ValueError("cluster mode needs the broker cluster")
        faults = cluster_faults.schedule(stack, cluster, injector, rng, cfg.cluster)
    faults.start()
    try:
        for o in offers:
            client.publish(o)
            time.sleep(cfg.publish_spacing)
        print(f"[chaos] +{time.monotonic() - injector.started:6.1f}s all {len(offers)} offers published",
              flush=True)
        deadline = time.monotonic() + cfg.timeout
        pending = offers
        settled: float | None = None  # when every offer was at its end (seconds since the faults began)
        while (pending or faults.is_alive()) and time.monotonic() < deadline and faults.error is None:
            pending = drive(client, pending)
            if not pending and settled is None:
                settled = time.monotonic() - injector.started
            time.sleep(1)
    finally:
        faults.stop.set()
        faults.join(timeout=300)
    if faults.error is not None:
        raise RuntimeError(f"a fault could not be injected: {faults.error!r}") from faults.error
    print(f"[chaos] +{time.monotonic() - injector.started:6.1f}s {len(pending)} offers not at their end",
          flush=True)
    wait_for_mails(stack.mail_dir, offers)
    findings = check_all(stack, client, offers)
    result = ChaosResult(cfg, Counter(kinds), injector.counts(), findings, time.monotonic() - t0, client.ambiguous)
    if cfg.cluster is not None:
        result.kills = cluster_faults.kill_counts(injector.records)
        # A fault after the last offer ended hit an idle system: the figure says how many hit running offers.
        result.kills["faults mid-traffic"] = sum(settled is None or r.at < settled for r in injector.records)
        result.stall = longest_stall(asyncio.run(archived_events(stack.dsn, cfg.publisher,
                                                                 [o.offer_id for o in offers])))
        result.elapsed = time.monotonic() - t0
    return result
