"""Copies every disk to every region: streamed in chunks, hashed on the way, a bounded number at a time.

File I/O blocks, so each copy runs in a worker thread; the event loop only schedules copies, retries
transient errors with backoff and reports progress in job order (so a redelivered event reports the
same progress events, with the same ids, as the first delivery).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from offerflow_contract.events import Reason, Replica
from offerflow_provisioning import rules
from offerflow_provisioning.adapters.regions import RegionStore
from offerflow_provisioning.adapters.sources import DiskSource
from offerflow_provisioning.errors import CopyAborted, DiskChanged, PermanentCopyError
from offerflow_provisioning.rules import CopyJob, ReplicaKey
from offerflow_shared.runtime import RetryPolicy

log = logging.getLogger("offerflow.provisioning")

ProgressFn = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class ReplicationResult:
    replicas: list[Replica]
    reasons: list[Reason]


class _Failed(Exception):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.message)
        self.reason = reason


class Replicator:
    def __init__(
        self,
        source: DiskSource,
        store: RegionStore,
        *,
        chunk_size: int = 4 * rules.MIB,
        parallel: int = 4,
        attempts: int = 4,
        retry_delay: float = 2.0,
    ) -> None:
        if not rules.MIB <= chunk_size <= 8 * rules.MIB:
            raise ValueError("chunk_size must be between 1 and 8 MiB")
        self.source = source
        self.store = store
        self.chunk_size = chunk_size
        self.attempts = attempts
        self.retry_delay = retry_delay
        # The runtime's policy (jittered): copies to one region that failed together do not retry in lockstep.
        self._backoff = RetryPolicy(attempts=attempts, first_delay=retry_delay, max_delay=60.0)
        self._slots = asyncio.Semaphore(parallel)
        # Two deliveries of one offer may overlap inside this worker; one copy per target at a time.
        self._locks: dict[ReplicaKey, asyncio.Lock] = {}

    async def replicate(self, jobs: Sequence[CopyJob], on_progress: ProgressFn) -> ReplicationResult:
        """Copy what is not yet verified; ``on_progress(i)`` is awaited once per job, in job order."""
        stop = threading.Event()
        locations: list[str | None] = [None] * len(jobs)
        failures: dict[int, Reason] = {}
        state = {"reported": 0}
        report = asyncio.Lock()

        async def run(i: int, job: CopyJob) -> None:
            try:
                locations[i] = await self._copy_with_retries(job, stop)
            except _Failed as exc:
                failures[i] = exc.reason
                stop.set()  # a failed run is failed: do not spend hours finishing the other copies
                return
            except CopyAborted:
                return
            async with report:
                while state["reported"] < len(jobs) and locations[state["reported"]] is not None:
                    await on_progress(state["reported"])
                    state["reported"] += 1

        await asyncio.gather(*(run(i, job) for i, job in enumerate(jobs)))
        if failures:
            return ReplicationResult([], _dedupe([failures[i] for i in sorted(failures)]))
        replicas = [
            Replica(
                region=job.key.region,
                plan_id=job.disk.plan_id,
                image_version=job.disk.image_version,
                disk=job.disk.disk,
                location=loc,
                sha256=job.disk.sha256,
            )
            for job, loc in zip(jobs, locations, strict=True)
            if loc is not None
        ]
        return ReplicationResult(replicas, [])

    async def _copy_with_retries(self, job: CopyJob, stop: threading.Event) -> str:
        key = job.key
        last: OSError | None = None
        for attempt in range(self.attempts):
            if stop.is_set():
                raise CopyAborted
            async with self._locks.setdefault(key, asyncio.Lock()), self._slots:
                try:
                    return await asyncio.to_thread(self._copy_once, job, stop)
                except PermanentCopyError as exc:
                    raise _Failed(
                        Reason(code=exc.code, message=f"{key.region}: {key.label}: {exc.message}")
                    ) from exc
                except OSError as exc:
                    if not rules.is_transient(exc):
                        raise _Failed(
                            Reason(
                                code="replication-failed",
                                message=f"{key.region}: copying the {key.label} failed: {exc}",
                            )
                        ) from exc
                    last = exc
            log.warning("copy %s failed (attempt %d/%d): %r", key.id, attempt + 1, self.attempts, last)
            if attempt < self.attempts - 1:
                await asyncio.sleep(self._backoff.delay(attempt))
        raise _Failed(
            Reason(
                code="region-unavailable",
                message=f"{key.region}: copying the {key.label} still failed after {self.attempts} attempts "
                f"({last}); the region's storage is unavailable, publishing again later may succeed",
            )
        )

    def _copy_once(self, job: CopyJob, stop: threading.Event) -> str:
        """Blocking: runs in a worker thread. Never holds more than one chunk of the disk in memory."""
        key, disk = job.key, job.disk
        if self.store.verified_sha256(key) == disk.sha256:
            return self.store.location(key)
        with self.source.open(disk.url) as src:
            writer = self.store.open_writer(key)
            try:
                digest = hashlib.sha256()
                size = 0
                while chunk := src.read(self.chunk_size):
                    if stop.is_set():
                        raise CopyAborted
                    digest.update(chunk)
                    writer.write(chunk)
                    size += len(chunk)
                actual = digest.hexdigest()
                if actual != disk.sha256 or size != disk.size_bytes:
                    raise DiskChanged(
                        f"the disk changed since certification (sha256 {actual}, {size} bytes; certified "
                        f"sha256 {disk.sha256}, {disk.size_bytes} bytes); certify the current disk again"
                    )
                writer.commit(actual)
            except BaseException:
                writer.discard()
                raise
        return self.store.location(key)


def _dedupe(reasons: list[Reason]) -> list[Reason]:
    """A changed disk fails in every region at once; one reason per disk and cause is enough to act on."""
    seen: set[tuple[str, str]] = set()
    out: list[Reason] = []
    for r in reasons:
        body = (r.code, r.message.split(": ", 1)[-1])
        if body not in seen:
            seen.add(body)
            out.append(r)
    return out
