"""Pure decisions of a staging run: which replica of each plan is booted, how far along the run is, and what the
reports mean for the run (passed, failed, or passed with warnings when the check is not enforced). No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from offerflow_contract.events import CertifiedDisk, Reason, Replica, StagingCheck, StagingReport

OS_DISK = "os"
# The boot's milestones (check_id), in order; the engine reports each of them once per boot.
CHECKS = ("boot-loader", "kernel", "root-fs", "init", "ssh", "agent", "login")
STAGE_NAMES = {
    "boot-loader": "the boot loader", "kernel": "the kernel", "root-fs": "the root file system",
    "init": "init (multi-user)", "ssh": "SSH", "agent": "the provisioning agent", "login": "the login",
}


@dataclass(frozen=True)
class Target:
    """One boot: a plan's OS disk, from the first region of the map that holds its replica."""

    disk: CertifiedDisk
    replica: Replica

    @property
    def label(self) -> str:
        return f"plan {self.disk.plan_id} version {self.disk.image_version}"


@dataclass(frozen=True)
class Selection:
    targets: list[Target]
    problems: list[Reason]


def select(disks: Sequence[CertifiedDisk], replicas: Sequence[Replica], regions: Sequence[str]) -> Selection:
    """Every OS disk of the event, each with its replica in the first region (map order) that has one.

    A disk without a replica in any region of the map cannot be booted: that is a problem of the run (the map
    and provisioning disagree), named per disk."""
    order = {name: i for i, name in enumerate(regions)}
    targets: list[Target] = []
    problems: list[Reason] = []
    for d in disks:
        if d.disk != OS_DISK:
            continue  # data disks are attached to nothing here: the boot proves the OS disk
        found = [r for r in replicas
                 if (r.plan_id, r.image_version, r.disk) == (d.plan_id, d.image_version, d.disk) and r.region in order]
        if not found:
            problems.append(Reason(code="no-replica", message=(
                f"The OS disk of plan {d.plan_id} version {d.image_version} has no replica in any region this "
                "staging service can read, so it cannot be booted.")))
            continue
        targets.append(Target(d, min(found, key=lambda r: order[r.region])))
    return Selection(targets, problems)


def percentage(done: int, total: int) -> int:
    """Rounded down and short of 100 until the run's result is known."""
    if total <= 0:
        return 0
    return min(99, done * 100 // total)


def check_message(target: Target, check: StagingCheck) -> str:
    when = f" at {check.seconds:.0f} s" if check.seconds is not None else ""
    return f"{target.label} ({target.replica.region}): {check.name} {check.result.lower()}{when}: {check.actual}"


def start_message(targets: Sequence[Target]) -> str:
    plans = ", ".join(f"{t.label} from {t.replica.region}" for t in targets)
    return f"Booting {len(targets)} replica(s) in a staging VM: {plans}."


def first_stage(report: StagingReport) -> str:
    missing = report.first_missing
    return STAGE_NAMES.get(missing, missing) if missing else "the boot"


def failed_reasons(report: StagingReport) -> list[Reason]:
    """One reason per failed check; a failed report without one (stopped before its checks) still gets one."""
    where = f"plan {report.plan_id} version {report.image_version}"
    found = [Reason(code=f"staging-{c.check_id}", message=f"{where}: {c.name} failed: {c.actual} "
                                                           f"(required: {c.required})")
             for c in report.checks if c.result == "Failed"]
    return found or [Reason(code="staging-failed", message=f"{where}: {report.summary}")]


def warnings(report: StagingReport) -> list[Reason]:
    where = f"plan {report.plan_id} version {report.image_version}"
    return [Reason(code=f"staging-{c.check_id}", message=f"{where}: {c.name}: {c.actual}", level="warning")
            for c in report.checks if c.result == "Warning"]


def as_warnings(reasons: Sequence[Reason]) -> list[Reason]:
    """Failures kept as warnings: the run goes on (the boot check is not enforced here)."""
    return [r.model_copy(update={"level": "warning", "message": f"{r.message} (not enforced)"}) for r in reasons]


def summary(failed: Sequence[StagingReport], problems: Sequence[Reason]) -> str:
    """Names each failed plan and the first stage of its boot that did not happen."""
    parts = [f"plan {r.plan_id} version {r.image_version} did not reach {first_stage(r)} ({r.summary})"
             for r in failed]
    parts += [p.message for p in problems]
    return "Staging failed: " + "; ".join(parts[:3]) + (" …" if len(parts) > 3 else "")
