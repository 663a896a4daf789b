"""The stored state of a run's fold: what the read model keeps per run so one event updates it alone.

The view of a run is defined as the events applied one by one in the order of their ``Key`` (occurred_at,
then event id). Events of one run come from several topics, so they arrive in any order; the state therefore
keeps, for each thing an event may change, the aggregate that decides it whatever the arrival order (the
earliest or latest by key, a flag, a set). Two states of the same run join into one (``join``): the join is
commutative, associative and idempotent, so a redelivered or late event gives the view the sorted fold
would give. ``fold.view_of`` derives the view from the state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypeVar

from offerflow_contract.steps import STEP_INDEX, STEPS, StepId

# (occurred_at as UTC ISO text with microseconds, event id): sorts as the fold orders events.
Key = tuple[str, str]
T = TypeVar("T")


def earliest(a: T | None, b: T | None) -> T | None:
    if a is None:
        return b
    return a if b is None or a <= b else b  # type: ignore[operator]


def latest(a: T | None, b: T | None) -> T | None:
    if a is None:
        return b
    return a if b is None or a >= b else b  # type: ignore[operator]


def union(a: tuple[T, ...], b: tuple[T, ...]) -> tuple[T, ...]:
    if not b or a == b:
        return a
    if not a:
        return b
    return tuple(sorted(set(a) | set(b)))  # type: ignore[type-var]


@dataclass(frozen=True)
class Note:
    """A message of a step, placed where the fold appends it: its event's key, then its rank in the event."""

    key: Key
    rank: int
    level: str
    text: str
    field: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class StepState:
    """What decides one step. A *status change* is any event that moves the step's status: a start (moves it
    only from notStarted), a pass (moves it unless failed) or a set (moves it whatever it was)."""

    first_change: tuple[Key, str, bool] | None = None  # earliest: (key, a start's target or "", Go live's start)
    first_set: Key | None = None
    last_set: tuple[Key, str] | None = None  # (key, status)
    last_pass: Key | None = None
    done: bool = False  # an event set the progress to 100
    progress: tuple[tuple[Key, int], ...] = ()  # every progress report
    finished: Key | None = None  # the latest event that finished the step
    preview: Key | None = None  # the latest preview ready (it sets the sign-off's start unconditionally)
    stage_start: Key | None = None  # the earliest event that starts the step only if it has no start yet
    notes: tuple[Note, ...] = ()
    # The latest outcome's details the status shows on the step (staging: each plan's checks), as JSON text: the
    # state stays hashable and is stored as it is.
    details: tuple[Key, str] | None = None

    def join(self, other: StepState) -> StepState:
        if other is EMPTY_STEP or other is self:
            return self
        if self is EMPTY_STEP:  # every field of the empty step is the identity of its join
            return other
        # Built without the frozen dataclass's __init__ (a setattr per field): the fold joins once per event.
        new = object.__new__(StepState)
        new.__dict__.update(
            first_change=earliest(self.first_change, other.first_change),
            first_set=earliest(self.first_set, other.first_set),
            last_set=latest(self.last_set, other.last_set),
            last_pass=latest(self.last_pass, other.last_pass),
            done=self.done or other.done,
            progress=union(self.progress, other.progress),
            finished=latest(self.finished, other.finished),
            preview=latest(self.preview, other.preview),
            stage_start=earliest(self.stage_start, other.stage_start),
            notes=_notes(self.notes, other.notes),
            details=latest(self.details, other.details),
        )
        return new


EMPTY_STEP = StepState()
_STEP_DEFAULTS = dict(EMPTY_STEP.__dict__)


def step_state(**fields: Any) -> StepState:
    """``StepState(**fields)`` at a third of the cost: the frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, and the fold makes a step state for most events. Unknown names are refused too."""
    unknown = fields.keys() - _STEP_DEFAULTS.keys()
    if unknown:
        raise TypeError(f"StepState has no field {', '.join(sorted(unknown))}")
    new = object.__new__(StepState)
    new.__dict__.update(_STEP_DEFAULTS)
    new.__dict__.update(fields)
    return new


def _notes(a: tuple[Note, ...], b: tuple[Note, ...]) -> tuple[Note, ...]:
    if not b or a == b:
        return a
    if not a:
        return b
    if a[-1].key < b[0].key:  # the common case: a later event's messages go last
        return a + b
    return tuple(sorted(set(a) | set(b), key=lambda n: (n.key, n.rank)))


@dataclass(frozen=True)
class RunState:
    run_id: str
    offer_id: str
    publisher_id: str
    last_at: str = ""  # the latest occurred_at of any event of the run (UTC ISO)
    request: tuple[Key, int, tuple[str, ...]] | None = None  # latest publish request: (key, version, emails)
    go_live: bool = False
    cancel_requested: bool = False
    preview_ready: bool = False
    preview_withdrawn: bool = False
    preview_links: tuple[Key, tuple[str, ...]] | None = None  # latest preview ready
    live_links: tuple[Key, tuple[str, ...]] | None = None  # latest went live
    audiences: tuple[tuple[str, ...], ...] = ()  # every audience the preview had (sorted, lower case)
    steps: tuple[StepState, ...] = tuple(EMPTY_STEP for _ in STEPS)  # in the order of STEPS

    def updated(self, changes: dict[str, Any]) -> RunState:
        """``dataclasses.replace`` without its per-field work: the fold calls this once per event."""
        new = object.__new__(RunState)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    def join(self, other: RunState) -> RunState:
        if other is self:
            return self
        return replace(
            self,
            last_at=max(self.last_at, other.last_at),
            request=latest(self.request, other.request),
            go_live=self.go_live or other.go_live,
            cancel_requested=self.cancel_requested or other.cancel_requested,
            preview_ready=self.preview_ready or other.preview_ready,
            preview_withdrawn=self.preview_withdrawn or other.preview_withdrawn,
            preview_links=latest(self.preview_links, other.preview_links),
            live_links=latest(self.live_links, other.live_links),
            audiences=union(self.audiences, other.audiences),
            steps=tuple(a.join(b) for a, b in zip(self.steps, other.steps, strict=True)),
        )


# --- storage: plain JSON, so the read model keeps it as JSONB --------------------------------------------------

def _key(v: Any) -> Key:
    return (v[0], v[1])


def _opt(v: Any, f: Any) -> Any:
    return None if v is None else f(v)


def step_to_json(s: StepState) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in (
        ("fc", s.first_change), ("fs", s.first_set), ("ls", s.last_set), ("lp", s.last_pass),
        ("f", s.finished), ("pv", s.preview), ("ss", s.stage_start)) if v is not None}
    if s.done:
        out["d"] = 1
    if s.progress:
        out["p"] = s.progress
    if s.notes:
        out["n"] = [[n.key, n.rank, n.level, n.text, n.field, n.code] for n in s.notes]
    if s.details is not None:
        out["dt"] = s.details
    return out


def step_from_json(d: dict[str, Any]) -> StepState:
    if not d:
        return EMPTY_STEP
    return StepState(
        first_change=_opt(d.get("fc"), lambda v: (_key(v[0]), v[1], bool(v[2]))),
        first_set=_opt(d.get("fs"), _key),
        last_set=_opt(d.get("ls"), lambda v: (_key(v[0]), v[1])),
        last_pass=_opt(d.get("lp"), _key),
        done=bool(d.get("d")),
        progress=tuple((_key(k), int(p)) for k, p in d.get("p", ())),
        finished=_opt(d.get("f"), _key),
        preview=_opt(d.get("pv"), _key),
        stage_start=_opt(d.get("ss"), _key),
        notes=tuple(Note(_key(n[0]), n[1], n[2], n[3], n[4], n[5]) for n in d.get("n", ())),
        details=_opt(d.get("dt"), lambda v: (_key(v[0]), v[1])),
    )


def to_json(s: RunState) -> dict[str, Any]:
    return {
        "v": 2, "run": s.run_id, "offer": s.offer_id, "publisher": s.publisher_id, "last": s.last_at,
        "request": s.request, "goLive": s.go_live, "cancel": s.cancel_requested, "ready": s.preview_ready,
        "withdrawn": s.preview_withdrawn, "preview": s.preview_links, "live": s.live_links,
        "audiences": s.audiences, "steps": [step_to_json(x) for x in s.steps],
    }


def from_json(d: dict[str, Any]) -> RunState:
    return RunState(
        run_id=d["run"], offer_id=d["offer"], publisher_id=d["publisher"], last_at=d["last"],
        request=_opt(d["request"], lambda v: (_key(v[0]), v[1], tuple(v[2]))),
        go_live=d["goLive"], cancel_requested=d["cancel"], preview_ready=d["ready"],
        preview_withdrawn=d["withdrawn"],
        preview_links=_opt(d["preview"], lambda v: (_key(v[0]), tuple(v[1]))),
        live_links=_opt(d["live"], lambda v: (_key(v[0]), tuple(v[1]))),
        audiences=tuple(tuple(a) for a in d["audiences"]),
        steps=_steps_from_json(d.get("v", 1), d["steps"]),
    )


def _steps_from_json(version: int, steps: list[dict[str, Any]]) -> tuple[StepState, ...]:
    # Version 1 was stored before the staging step existed (six steps): staging had no event in those runs.
    out = [step_from_json(x) for x in steps]
    if version == 1:
        out.insert(STEP_INDEX[StepId.STAGING], EMPTY_STEP)
    if len(out) != len(STEPS):
        raise ValueError(f"stored run state has {len(out)} steps, expected {len(STEPS)}")
    return tuple(out)
