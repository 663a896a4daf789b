"""The step supervisor: a step that runs past twice its usual duration is marked overdue (a warning on the
step and a metric); one that runs past its hard limit is ended with ``step-timed-out``, which fails the run,
mails the publisher and lets Publish start again.

It reads the read model (running runs and their steps) and emits events on ``offerflow.publishing``; each event
id is derived from the run and the step, so a sweep repeated after a restart emits nothing new. The stages
enforce their own, shorter limit on a handler; this catches what they cannot, such as a stage that is down.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from offerflow_contract.envelope import Envelope, Event, stable_event_id, wrap
from offerflow_contract.events import Reason, StepOverdue, StepTimedOut
from offerflow_contract.steps import StepId, step_info
from offerflow_shared import metrics
from offerflow_status_api import eta

log = logging.getLogger("offerflow.supervisor")
PRODUCER = "status-supervisor"
SUPERVISED = (StepId.VALIDATION, StepId.CERTIFICATION, StepId.PROVISIONING, StepId.STAGING, StepId.PACKAGING,
              StepId.LIVE)
# Hard limits, well above each stage's own handler limit and the step's published ETA (staging boots one plan
# after another under emulation: a large offer takes a while, hence packaging's 3 h rather than its 30 min ETA).
DEFAULT_LIMITS = {StepId.VALIDATION: 3600, StepId.CERTIFICATION: 4 * 3600, StepId.PROVISIONING: 26 * 3600,
                  StepId.STAGING: 3 * 3600, StepId.PACKAGING: 3 * 3600, StepId.LIVE: 3 * 3600}


def overdue_text(ev: StepOverdue) -> str:
    return (f"This step has been running for {eta.human(ev.running_seconds)}, more than twice the usual "
            f"{eta.human(ev.expected_seconds)}. It is still running and nothing is needed from you yet; you will "
            "get a mail when it ends.")


def timed_out(step: StepId, limit: int, emails: list[str]) -> StepTimedOut:
    text = (f"This step was stopped: it ran past its limit of {eta.human(limit)}. The delay is on our side, not in "
            "your offer. Publish again; if it happens again, open a support request from this step.")
    return StepTimedOut(step=step, limit_seconds=limit, summary=f"{step_info(step).name} took too long",
                        reasons=[Reason(code="step-timed-out", message=text)], notification_emails=emails)


@dataclass(frozen=True)
class Finding:
    step: StepId
    event: Event
    emit: bool = True  # False: overdue, and the publisher was already told


def inspect(document: dict[str, Any], stats: dict[str, eta.StepStats], now: datetime,
            limits: dict[StepId, int]) -> Finding | None:
    """What the supervisor has to say about a running run's status document, if anything (pure)."""
    if document.get("status") != "running":
        return None
    annotated = eta.annotate(document, stats, now)
    for step in annotated.get("steps") or []:
        if step.get("status") != "inProgress" or step.get("id") not in {s.value for s in SUPERVISED}:
            continue
        started = eta.parse_time(step.get("startedAt"))
        if started is None:
            continue
        sid = StepId(step["id"])
        running = int((now - started).total_seconds())
        if running > limits.get(sid, DEFAULT_LIMITS[sid]):
            emails = [e for e in (document.get("notificationEmails") or "").split(",") if e]
            return Finding(sid, timed_out(sid, limits.get(sid, DEFAULT_LIMITS[sid]), emails))
        if step.get("overdue"):
            told = any(m.get("code") == "stepOverdue" for m in step.get("messages") or [])
            return Finding(sid, StepOverdue(step=sid, running_seconds=running,
                                            expected_seconds=int(step.get("etaSeconds") or 0)), emit=not told)
    return None


Emit = Callable[[Envelope], Awaitable[None]]


async def sweep(pool: Any, emit: Emit, now: datetime, limits: dict[StepId, int]) -> list[Envelope]:
    """One pass over the running runs; returns the events it emitted (repeats carry the same ids)."""
    stats = await eta.stats_cache_for(pool).get()
    rows = await pool.fetch("SELECT run_id, publisher_id, offer_id, document FROM runs WHERE status = 'running'")
    emitted: list[Envelope] = []
    overdue: Counter[str] = Counter()
    for r in rows:
        found = inspect(json.loads(r["document"]), stats, now, limits)
        if found is None:
            continue
        if isinstance(found.event, StepOverdue):
            overdue[found.step.value] += 1
        if not found.emit:
            continue
        env = wrap(found.event, offer_id=r["offer_id"], publisher_id=r["publisher_id"], run_id=r["run_id"],
                   producer=PRODUCER, event_id=_event_id(r["run_id"], found))
        await emit(env)
        emitted.append(env)
    for step in SUPERVISED:
        metrics.STEPS_OVERDUE.labels(step.value).set(overdue[step.value])
    return emitted


async def sweep_safely(pool: Any, emit: Emit, now: datetime, limits: dict[StepId, int]) -> list[Envelope]:
    """A sweep that never raises: it runs on the worker's timer, where an exception (the database restarting,
    the broker away) would crash the whole projection. The next sweep simply looks again."""
    try:
        return await sweep(pool, emit, now, limits)
    except Exception as exc:  # any failure: logged, and the next tick tries again
        log.warning("step supervisor: sweep skipped (%r); retrying at the next interval", exc)
        return []


def _event_id(run_id: str, found: Finding) -> uuid.UUID:
    return stable_event_id(run_id, PRODUCER, found.event.event_type, found.step.value)
