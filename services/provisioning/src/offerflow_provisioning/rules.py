"""Pure decisions of provisioning: where each replica goes, what remains, how far along a run is. No I/O."""

from __future__ import annotations

import errno
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from offerflow_contract.events import CertifiedDisk, Reason
from offerflow_shared.names import safe_segment

MIB = 1024 * 1024

# Errors that a moment's wait can cure (a busy or flaky share, a full disk being cleaned up). Anything
# else (permissions, a missing folder) needs a person, so it fails the step at once.
TRANSIENT_ERRNOS = frozenset(
    {
        errno.EAGAIN,
        errno.EINTR,
        errno.EBUSY,
        errno.EIO,
        errno.ETIMEDOUT,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ECONNREFUSED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.ESTALE,
    }
)


@dataclass(frozen=True)
class ReplicaKey:
    region: str
    publisher: str
    offer: str
    plan_id: str
    image_version: str
    disk: str

    def parts(self) -> tuple[str, ...]:
        """The layout under a store's root: region/publisher/offer/plan/version/disk.vhd."""
        return (self.region, self.publisher, self.offer, self.plan_id, self.image_version, f"{self.disk}.vhd")

    @property
    def id(self) -> str:
        return "/".join(self.parts())

    @property
    def label(self) -> str:
        return f"{self.disk} disk of plan {self.plan_id} version {self.image_version}"


@dataclass(frozen=True)
class CopyJob:
    key: ReplicaKey
    disk: CertifiedDisk


def plan_copies(
    publisher: str, offer: str, regions: Sequence[str], disks: Sequence[CertifiedDisk]
) -> list[CopyJob]:
    """Every region-by-disk copy, region by region, so progress reads as regions completing in order.

    Every name becomes a folder or key segment in every region, so an unsafe one raises ``UnsafeName``."""
    unique_regions = list(dict.fromkeys(regions))
    jobs: list[CopyJob] = []
    for region in unique_regions:
        for d in disks:
            key = ReplicaKey(
                region=safe_segment(region, "region"),
                publisher=safe_segment(publisher, "publisher id"),
                offer=safe_segment(offer, "offer id"),
                plan_id=safe_segment(d.plan_id, "plan id"),
                image_version=safe_segment(d.image_version, "image version"),
                disk=safe_segment(d.disk, "disk name"),
            )
            jobs.append(CopyJob(key, d))
    return jobs


def remaining(jobs: Sequence[CopyJob], verified: Collection[ReplicaKey]) -> list[CopyJob]:
    return [j for j in jobs if j.key not in verified]


def percentage(done: int, total: int) -> int:
    """Rounded down, so 100 appears only when every copy is verified."""
    if total <= 0:
        return 100
    return min(100, done * 100 // total)


def regions_done(jobs: Sequence[CopyJob], completed: int) -> int:
    """Regions whose every copy is among the first ``completed`` jobs (jobs are in region order)."""
    done_prefix = jobs[:completed]
    return sum(
        1
        for region in dict.fromkeys(j.key.region for j in jobs)
        if all(j in done_prefix for j in jobs if j.key.region == region)
    )


def region_count(jobs: Sequence[CopyJob]) -> int:
    return len({j.key.region for j in jobs})


def progress_message(jobs: Sequence[CopyJob], index: int, where: str) -> str:
    job = jobs[index]
    return (
        f"{job.key.region}: {job.key.label} replicated and verified in {where}; "
        f"{regions_done(jobs, index + 1)}/{region_count(jobs)} regions done"
    )


def start_message(jobs: Sequence[CopyJob]) -> str:
    disks = len({(j.key.plan_id, j.key.image_version, j.key.disk) for j in jobs})
    return f"Replicating {disks} disk(s) to {region_count(jobs)} region(s): {len(jobs)} copies."


def is_transient(exc: OSError) -> bool:
    return exc.errno in TRANSIENT_ERRNOS or isinstance(exc, TimeoutError | ConnectionError)


def summary(reasons: Sequence[Reason]) -> str:
    n = len(reasons)
    head = "; ".join(r.message for r in reasons[:3])
    return f"Replication failed ({n} problem{'s' if n != 1 else ''}): {head}" + (" …" if n > 3 else "")
