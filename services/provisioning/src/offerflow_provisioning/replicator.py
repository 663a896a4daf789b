"""Copies every certified disk to every region, reading each disk once and fanning it out to all regions at once.

Per disk: regions that already hold its content (content-addressed, see ``adapters/regions.py``) only get a
manifest; for the others one streaming read of the source feeds every region's multipart upload part by part
(memory: the part being uploaded plus the next one being read). A region that fails drops out of the fan-out
and is retried on its own with jittered backoff while the others finish; a changed disk is refused before any
region commits it. Progress is reported in job order, so a redelivered event reports the same progress events,
with the same ids, as the first delivery. Blocking calls (boto3, file reads) run in this replicator's threads.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

from offerflow_contract.events import CertifiedDisk, Reason, Replica
from offerflow_provisioning import rules
from offerflow_provisioning.adapters.regions import Content, ContentUpload, RegionStore
from offerflow_provisioning.errors import CopyAborted, DiskChanged, PermanentCopyError
from offerflow_provisioning.rules import CopyJob
from offerflow_shared.runtime import RetryPolicy
from offerflow_shared.sources import DiskSource, SourceError

log = logging.getLogger("offerflow.provisioning")

ProgressFn = Callable[[int, str], Awaitable[None]]  # (job index, where the replica is)
T = TypeVar("T")


@dataclass(frozen=True)
class ReplicationResult:
    replicas: list[Replica]
    reasons: list[Reason]


class Replicator:
    def __init__(self, source: DiskSource, stores: Mapping[str, RegionStore], *, part_size: int = 8 * rules.MIB,
                 parallel: int = 2, attempts: int = 4, retry_delay: float = 2.0) -> None:
        if not 5 * rules.MIB <= part_size <= 512 * rules.MIB:
            raise ValueError("part_size must be between 5 and 512 MiB (S3's part limits)")
        self.source = source
        self.stores = dict(stores)
        self.part_size = part_size
        self.attempts = attempts
        # The runtime's policy (jittered): regions that failed together do not retry in lockstep.
        self._backoff = RetryPolicy(attempts=attempts, first_delay=retry_delay, max_delay=60.0)
        self._disks = asyncio.Semaphore(parallel)
        # One upload of a given content at a time in this worker (two plans or offers sharing an image).
        self._content_locks: dict[str, asyncio.Lock] = {}
        self._pool = ThreadPoolExecutor(max_workers=parallel * (len(self.stores) + 2) + 2,
                                        thread_name_prefix="replicate")
        self.bytes_read = 0  # from disk sources, over this replicator's life (benchmarks, tests)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def replicate(self, jobs: Sequence[CopyJob], on_progress: ProgressFn) -> ReplicationResult:
        """Copy what is not yet there; ``on_progress(i, where)`` is awaited once per job, in job order."""
        stop = asyncio.Event()
        locations: list[str | None] = [None] * len(jobs)
        failures: dict[int, Reason] = {}
        reported = 0
        report = asyncio.Lock()

        async def done(i: int, location: str) -> None:
            nonlocal reported
            locations[i] = location
            async with report:
                while reported < len(jobs) and locations[reported] is not None:
                    await on_progress(reported, self.stores[jobs[reported].key.region].shown)
                    reported += 1

        def failed(i: int, reason: Reason) -> None:
            failures[i] = reason
            stop.set()  # a failed run is failed: do not spend hours finishing the other copies

        groups: dict[tuple[str, str, str, str], list[int]] = {}
        for i, job in enumerate(jobs):
            groups.setdefault((job.disk.plan_id, job.disk.image_version, job.disk.disk, job.disk.url), []).append(i)
        await asyncio.gather(*(self._disk(jobs, idx, done, failed, stop) for idx in groups.values()))
        if failures:
            return ReplicationResult([], _dedupe([failures[i] for i in sorted(failures)]))
        replicas = [Replica(region=job.key.region, plan_id=job.disk.plan_id, image_version=job.disk.image_version,
                            disk=job.disk.disk, location=loc, sha256=job.disk.sha256)
                    for job, loc in zip(jobs, locations, strict=True) if loc is not None]
        return ReplicationResult(replicas, [])

    async def _disk(self, jobs: Sequence[CopyJob], idx: list[int], done: Callable[[int, str], Awaitable[None]],
                    failed: Callable[[int, Reason], None], stop: asyncio.Event) -> None:
        disk = jobs[idx[0]].disk
        content = Content(disk.sha256, disk.size_bytes)
        async with self._disks, self._content_locks.setdefault(disk.sha256, asyncio.Lock()):
            pending: dict[int, Any] = {}
            for i, outcome in zip(idx, await asyncio.gather(
                    *(self._settle(jobs[i], content) for i in idx), return_exceptions=True), strict=True):
                if isinstance(outcome, str):
                    await done(i, outcome)
                else:
                    pending[i] = outcome  # None: not there yet; an exception: retried like a failed copy
            for attempt in range(self.attempts):
                for i, exc in list(pending.items()):
                    if (reason := self._permanent(jobs[i], exc)) is not None:
                        failed(i, reason)
                        del pending[i]
                if not pending or stop.is_set():
                    return
                if attempt:
                    log.warning("copies of %s to %s failed (attempt %d/%d)", jobs[idx[0]].key.label,
                                ", ".join(jobs[i].key.region for i in pending), attempt, self.attempts)
                    await asyncio.sleep(self._backoff.delay(attempt - 1))
                try:
                    errors = await self._fan_out(disk, content, {i: jobs[i] for i in pending}, stop)
                except CopyAborted:
                    return
                except (PermanentCopyError, SourceError, OSError) as source_error:  # the source: every region alike
                    errors = dict.fromkeys(pending, source_error)
                for i in pending:
                    if i not in errors:
                        await done(i, self.stores[jobs[i].key.region].location(content))
                pending = errors
            for i, exc in pending.items():
                if (reason := self._permanent(jobs[i], exc)) is not None:
                    failed(i, reason)
                else:
                    key = jobs[i].key
                    failed(i, Reason(code="region-unavailable", message=(
                        f"{key.region}: copying the {key.label} still failed after {self.attempts} attempts "
                        f"({exc}); the region's storage is unavailable, publishing again later may succeed")))

    @staticmethod
    def _permanent(job: CopyJob, exc: BaseException | None) -> Reason | None:
        """The reason of a failure retrying cannot cure, or None when retrying may help."""
        key = job.key
        if isinstance(exc, PermanentCopyError) or (isinstance(exc, SourceError) and not exc.transient):
            return Reason(code=exc.code, message=f"{key.region}: {key.label}: {exc.message}")
        if isinstance(exc, SourceError):
            return None  # the source answered 503, a connection dropped: worth another try
        if isinstance(exc, OSError) and not rules.is_transient(exc):
            return Reason(code="replication-failed", message=f"{key.region}: copying the {key.label} failed: {exc}")
        if exc is not None and not isinstance(exc, OSError):
            raise exc  # a bug, not a storage problem: the runtime dead-letters it and ends the run
        return None

    async def _settle(self, job: CopyJob, content: Content) -> str | None:
        """The location if the region already has this replica (or only needed its manifest); None if not."""
        store = self.stores[job.key.region]
        if not await self._run(store.has_content, content):
            return None
        if await self._run(store.linked, job.key) != content.sha256:
            await self._run(store.link, job.key, content)
        return store.location(content)

    async def _fan_out(self, disk: CertifiedDisk, content: Content, jobs: Mapping[int, CopyJob],
                       stop: asyncio.Event) -> dict[int, BaseException]:
        """One read of the source into every region's upload; the regions that failed, with why."""
        errors: dict[int, BaseException] = {}
        uploads: dict[int, ContentUpload] = {}
        begun = await asyncio.gather(*(self._run(self.stores[j.key.region].begin, content) for j in jobs.values()),
                                     return_exceptions=True)
        for i, up in zip(jobs, begun, strict=True):
            if isinstance(up, BaseException):
                errors[i] = up
            else:
                uploads[i] = up
        try:
            if uploads:
                # One run is one publisher's: whose folder a development file:// URL may name.
                publisher = next(iter(jobs.values())).key.publisher
                await self._stream(disk, uploads, errors, stop, publisher)
            if uploads:  # the whole disk was read and matched: commit it everywhere, then the manifests
                finished = await asyncio.gather(*(self._run(self._commit, up, jobs[i], content)
                                                  for i, up in uploads.items()), return_exceptions=True)
                errors.update({i: r for i, r in zip(uploads, finished, strict=True) if isinstance(r, BaseException)})
                uploads.clear()
        finally:
            await asyncio.gather(*(self._run(up.abort) for up in uploads.values()))
        return errors

    async def _stream(self, disk: CertifiedDisk, uploads: dict[int, ContentUpload],
                      errors: dict[int, BaseException], stop: asyncio.Event, publisher: str) -> None:
        src: BinaryIO = await self._run(self.source.open, disk.url, publisher)
        try:
            digest, size, number = hashlib.sha256(), 0, 0
            ahead = asyncio.ensure_future(self._run(_read_part, src, self.part_size))
            while True:
                data = await ahead
                self.bytes_read += len(data)
                if stop.is_set():
                    raise CopyAborted
                digest.update(data)
                size += len(data)
                if size > disk.size_bytes:
                    break  # longer than certified: refused below without reading the rest
                last = len(data) < self.part_size
                if not last:  # read the next part while this one is uploaded (two parts in memory)
                    ahead = asyncio.ensure_future(self._run(_read_part, src, self.part_size))
                number += 1
                sent = await asyncio.gather(*(self._run(up.put_part, number, data) for up in uploads.values()),
                                            return_exceptions=True)
                for i, r in zip(list(uploads), sent, strict=True):
                    if isinstance(r, BaseException):
                        errors[i] = r
                        await self._run(uploads.pop(i).abort)
                if last or not uploads:
                    if not last:
                        await ahead
                    break
            actual = digest.hexdigest()
            if uploads and (actual != disk.sha256 or size != disk.size_bytes):
                raise DiskChanged(f"the disk changed since certification (sha256 {actual}, {size} bytes or more; "
                                  f"certified sha256 {disk.sha256}, {disk.size_bytes} bytes); certify the current "
                                  "disk again")
        finally:
            await self._run(src.close)

    def _commit(self, upload: ContentUpload, job: CopyJob, content: Content) -> None:
        upload.complete()
        self.stores[job.key.region].link(job.key, content)


def _read_part(src: BinaryIO, size: int) -> bytes:
    """Exactly ``size`` bytes unless the stream ends first (network streams return short reads)."""
    chunks: list[bytes] = []
    want = size
    while want > 0:
        chunk = src.read(want)
        if not chunk:
            break
        chunks.append(chunk)
        want -= len(chunk)
    return b"".join(chunks)


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
