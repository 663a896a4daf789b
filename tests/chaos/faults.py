"""Faults the chaos driver injects into a running stack: kill -9 a service, crash the broker, crash PostgreSQL.

Every fault is a crash (SIGKILL), never a graceful stop, followed by a restart: what a machine or process
failure looks like from the outside. The broker and the database are crashed with their own scripts'
``--kill`` and started again with ``kafka-start`` / ``pg-start`` (same ports, same data).
"""

from __future__ import annotations

import logging
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from stack import ROOT, SERVICES, Stack, port_open

log = logging.getLogger("offerflow.chaos")

BROKER = "kafka"
DATABASE = "postgres"
# Every long-running process of the stack that a crash can hit (the mail sink stands for the outside world).
# Every stage the stack runs (staging included once it does), the notifier, and the status-api's processes.
KILLABLE = (*SERVICES, "projection", "status-api", "relay")


@dataclass
class FaultRecord:
    kind: str  # "kill" | "broker-restart" | "postgres-restart"
    target: str
    at: float  # seconds since the driver started
    took: float


@dataclass
class Injector:
    stack: Stack
    started: float = field(default_factory=time.monotonic)
    records: list[FaultRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, target: str) -> FaultRecord:
        t0 = time.monotonic()
        if target == BROKER:
            kind = "broker-restart"
            self._script("deploy/kafka/bin/kafka-stop", "--kill")
            self._script("deploy/kafka/bin/kafka-start")
        elif target == DATABASE:
            kind = "postgres-restart"
            self._script("deploy/postgres/bin/pg-stop", "--kill")
            self._script("deploy/postgres/bin/pg-start")
        else:
            kind = "kill"
            with self.lock:
                self.stack.kill(target)
                self.stack.start(target)
            self._wait_port(target)
        rec = FaultRecord(kind, target, round(t0 - self.started, 1), round(time.monotonic() - t0, 1))
        self.records.append(rec)
        log.warning("fault %s %s at %.1fs (took %.1fs)", kind, target, rec.at, rec.took)
        print(f"[chaos] +{rec.at:6.1f}s {kind:16} {target} ({rec.took:.1f}s)", flush=True)
        return rec

    def counts(self) -> Counter[str]:
        return Counter(r.kind if r.kind != "kill" else f"kill {r.target}" for r in self.records)

    def _script(self, path: str, *args: str) -> None:
        subprocess.run([str(ROOT / path), *args], env=self.stack.env(), check=True, timeout=180,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _wait_port(self, name: str, timeout: float = 120.0) -> None:
        """Until the restarted process listens again (its web port); it may still be joining its group."""
        ports = {"status-api": self.stack.ports.api, **self.stack.ports.web}
        deadline = time.monotonic() + timeout
        alive_since = time.monotonic()
        while time.monotonic() < deadline:
            proc = self.stack.procs[name]
            if proc.poll() is not None:  # died at start (e.g. the database was down): start it again
                self.stack.start(name)
                alive_since = time.monotonic()
            elif port_open(ports[name]) if name in ports else time.monotonic() - alive_since > 2.0:
                return  # the relay has no port: alive for two seconds is up
            time.sleep(0.3)
        raise RuntimeError(f"{name} did not come back within {timeout}s after the fault")


def plan(rng: random.Random, *, kills: int, broker_restarts: int, postgres_restarts: int,
         services: Sequence[str] = KILLABLE, always: Sequence[str] = ()) -> list[str]:
    """``kills`` kill -9s going round the services (each round in a random order), the restarts mixed in.

    ``always`` are killed first in every plan, whatever the seed (``kills`` counts them).
    """
    targets: list[str] = list(always)
    while len(targets) < kills:
        order = list(services)
        rng.shuffle(order)
        targets += order[: kills - len(targets)]
    for extra in [BROKER] * broker_restarts + [DATABASE] * postgres_restarts:
        targets.insert(rng.randrange(len(targets) + 1), extra)
    return targets


class FaultLoop(threading.Thread):
    """Injects ``targets`` one after the other, at random moments ``gap`` seconds apart."""

    def __init__(self, injector: Injector, targets: Sequence[str], rng: random.Random,
                 gap: tuple[float, float]) -> None:
        super().__init__(name="chaos-faults", daemon=True)
        self.injector = injector
        self.targets = list(targets)
        self.rng = rng
        self.gap = gap
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for target in self.targets:
                if self.stop.wait(self.rng.uniform(*self.gap)):
                    return
                self.injector.inject(target)
        except BaseException as exc:  # reported by the driver, which fails the run
            self.error = exc
