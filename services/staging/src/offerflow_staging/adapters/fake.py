"""Fakes of the handlers' ports, for unit tests: a scripted booter and replicas served from memory.

They behave like the real adapters where the handlers can tell: the booter reports each check through
``on_check`` before returning, and can be held in the middle of a boot (to be cancelled); the replicas are real
files, checked against the replica's SHA-256 and deleted afterwards.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from offerflow_contract.events import Replica, StagingCheck, StagingReport
from offerflow_staging import rules_run
from offerflow_staging.adapters.replicas import ReplicaProblem
from offerflow_staging.handlers import OnCheck, Unbootable


def checks(first_missing: str | None = None, *, warning: str | None = None) -> list[StagingCheck]:
    """The seven checks of a boot that stops at ``first_missing`` (None: all passed), one of them a warning."""
    out: list[StagingCheck] = []
    stopped = False
    for i, cid in enumerate(rules_run.CHECKS):
        if stopped:
            result = "NotRun"
        elif cid == first_missing:
            result, stopped = "Failed", True
        else:
            result = "Warning" if cid == warning else "Passed"
        out.append(StagingCheck(check_id=cid, name=cid.replace("-", " "), result=result,
                                actual=f"{cid} {result.lower()}", required=f"{cid} seen",
                                seconds=None if result == "NotRun" else float(5 * (i + 1))))
    return out


def report(plan_id: str, image_version: str, region: str, location: str, *, first_missing: str | None = None,
           warning: str | None = None) -> StagingReport:
    return StagingReport(
        plan_id=plan_id, image_version=image_version, region=region, location=location, accelerator="tcg",
        result="Fail" if first_missing else "Pass", first_missing=first_missing,
        summary=f"stopped before {first_missing}" if first_missing else "booted to multi-user; logged in",
        checks=checks(first_missing, warning=warning), seconds=40.0, console="Linux version 6.1\nlogin:\n",
        console_tail=["login:"])


@dataclass
class FakeBooter:
    """Boots nothing: answers each plan with the outcome scripted for it (default: every check passed)."""

    failing: dict[str, str] = field(default_factory=dict)  # plan id -> the check that fails
    warning: dict[str, str] = field(default_factory=dict)  # plan id -> the check that is a warning
    unusable: set[str] = field(default_factory=set)  # plan ids whose image is not a disk
    hold: asyncio.Event | None = None  # when set: the boot waits on it after its first check
    booted: list[tuple[str, str, str]] = field(default_factory=list)  # (plan, region, image bytes' sha256)
    cancelled: list[str] = field(default_factory=list)

    async def boot_check(self, image: Path, *, plan_id: str, image_version: str, region: str, location: str,
                         on_check: OnCheck | None = None) -> StagingReport:
        data = await asyncio.to_thread(image.read_bytes)
        self.booted.append((plan_id, region, hashlib.sha256(data).hexdigest()))
        if plan_id in self.unusable:
            raise Unbootable("not a disk image")
        made = report(plan_id, image_version, region, location, first_missing=self.failing.get(plan_id),
                      warning=self.warning.get(plan_id))
        try:
            for n, check in enumerate(made.checks):
                if on_check is not None:
                    await on_check(check)
                if n == 0 and self.hold is not None:
                    await self.hold.wait()
        except asyncio.CancelledError:
            self.cancelled.append(plan_id)  # where the real engine kills QEMU
            raise
        return made


@dataclass
class MemoryReplicas:
    """Replicas held in memory by location, written to ``directory`` while booted, as the real source does."""

    directory: Path
    blobs: dict[str, bytes] = field(default_factory=dict)
    problem: ReplicaProblem | None = None
    fetched: list[Path] = field(default_factory=list)

    @asynccontextmanager
    async def fetch(self, replica: Replica) -> AsyncIterator[Path]:
        if self.problem is not None:
            raise self.problem
        data = self.blobs.get(replica.location)
        if data is None:
            raise ReplicaProblem("replica-missing", f"{replica.location} is not there")
        if hashlib.sha256(data).hexdigest() != replica.sha256:
            raise ReplicaProblem("replica-mismatch", f"{replica.location} is not the certified image")
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{len(self.fetched)}.vhd"
        path.write_bytes(data)
        self.fetched.append(path)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)
