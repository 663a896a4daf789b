"""Step ETAs from measured durations, and overdue steps, added to the status documents the API serves.

Rule (see the README): a step with at least ``MIN_SAMPLES`` measured durations (the most recent
``RECENT`` completed ones) gets ``estimatedTimeFrame`` from their p50 and p90, ``etaSeconds`` = p90 and
``etaSamples`` = how many there were; otherwise the static ETA of :mod:`offerflow_contract.steps` and its
bound in seconds (``etaSamples`` None). A step that is ``inProgress`` for longer than ``OVERDUE_FACTOR`` times
``etaSeconds`` is ``overdue``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from offerflow_contract.steps import STEPS

MIN_SAMPLES = 5
RECENT = 200
OVERDUE_FACTOR = 2.0
CACHE_SECONDS = 30.0
_UNITS = {"s": 1, "sec": 1, "min": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


@dataclass(frozen=True)
class StepStats:
    samples: int
    p50: float
    p90: float


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty sequence."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return float(sorted_values[rank - 1])


def stats_of(durations: Mapping[str, Sequence[float]]) -> dict[str, StepStats]:
    out = {}
    for step, values in durations.items():
        ordered = sorted(v for v in values if v >= 0)
        if ordered:
            out[step] = StepStats(len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.9))
    return out


def human(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 36 * 3600:
        hours = round(seconds / 3600)
        return f"{hours} hour" + ("s" if hours != 1 else "")
    days = round(seconds / 86400)
    return f"{days} day" + ("s" if days != 1 else "")


def static_seconds(eta: str) -> float | None:
    """The bound of a static ETA such as ``<15 min`` or ``<1 day``."""
    m = re.fullmatch(r"\s*<?\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", eta)
    if not m or m.group(2) not in _UNITS:
        return None
    return float(m.group(1)) * _UNITS[m.group(2)]


_STATIC = {s.id.value: s.eta for s in STEPS}


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def annotate(doc: dict[str, Any], stats: Mapping[str, StepStats], now: datetime) -> dict[str, Any]:
    """A copy of a status document whose steps carry the measured ETA, ``etaSeconds`` and ``overdue``."""
    steps = []
    for step in doc.get("steps") or []:
        step = dict(step)
        measured = stats.get(str(step.get("id")))
        static = _STATIC.get(str(step.get("id")), str(step.get("estimatedTimeFrame") or ""))
        if measured is not None and measured.samples >= MIN_SAMPLES:
            step["estimatedTimeFrame"] = f"~{human(measured.p50)} (90% <{human(measured.p90)})"
            eta: float | None = measured.p90
            samples: int | None = measured.samples
        else:
            step["estimatedTimeFrame"] = static
            eta, samples = static_seconds(static), None
        step["etaSeconds"] = round(eta) if eta is not None else None
        # How many finished runs the ETA was measured from (None: the static ETA), so a reader can say so.
        step["etaSamples"] = samples
        started = parse_time(step.get("startedAt"))
        step["overdue"] = bool(
            step.get("status") == "inProgress" and started is not None and eta is not None
            and (now - started).total_seconds() > OVERDUE_FACTOR * eta)
        steps.append(step)
    return {**doc, "steps": steps} if "steps" in doc else dict(doc)


# --- measured durations, from the read model -----------------------------------------------------

_DURATIONS = """
SELECT step, seconds FROM (
  SELECT s->>'id' AS step,
         EXTRACT(EPOCH FROM ((s->>'finishedAt')::timestamptz - (s->>'startedAt')::timestamptz))::float8 AS seconds,
         row_number() OVER (PARTITION BY s->>'id' ORDER BY (s->>'finishedAt')::timestamptz DESC) AS n
  FROM (SELECT document FROM runs ORDER BY updated_at DESC LIMIT $1) r,
       jsonb_array_elements(r.document->'steps') s
  WHERE s->>'status' = 'complete' AND s->>'startedAt' IS NOT NULL AND s->>'finishedAt' IS NOT NULL
) d WHERE n <= $2
"""


class StatsCache:
    """Per-step stats over the most recent completed steps, re-read at most every ``CACHE_SECONDS``."""

    def __init__(self, pool: asyncpg.Pool, ttl: float = CACHE_SECONDS) -> None:
        self.pool = pool
        self.ttl = ttl
        self._value: dict[str, StepStats] = {}
        self._at = -math.inf

    async def get(self) -> dict[str, StepStats]:
        if time.monotonic() - self._at >= self.ttl:
            # Runs scanned: enough for RECENT finishes of each step even when many runs stop early.
            rows = await self.pool.fetch(_DURATIONS, RECENT * 5, RECENT)
            durations: dict[str, list[float]] = {}
            for r in rows:
                durations.setdefault(r["step"], []).append(float(r["seconds"]))
            self._value, self._at = stats_of(durations), time.monotonic()
        return self._value


_caches: dict[int, StatsCache] = {}


def stats_cache_for(pool: asyncpg.Pool) -> StatsCache:
    cache = _caches.get(id(pool))
    if cache is None or cache.pool is not pool:
        cache = _caches[id(pool)] = StatsCache(pool)
    return cache

