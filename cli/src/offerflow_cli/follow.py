"""Waiting on a run: poll until an end state or the deadline, showing each step as it moves."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Column

from offerflow_cli.client import ApiUnavailable
from offerflow_cli.output import Out, plain_text

PREVIEW_ENDS = frozenset({"waitingForPublisherReview", "succeeded", "failed", "canceled"})
LIVE_ENDS = frozenset({"succeeded", "failed", "canceled"})
STATUS_ENDS = PREVIEW_ENDS | {"neverPublished"}
# A days-long wait survives API restarts; only this many failed polls in a row end it (exit 15).
MAX_CONSECUTIVE_FAILURES = 10


def latest_message(step: dict[str, Any]) -> str:
    msgs = step.get("messages") or []
    return plain_text(str(msgs[-1].get("messageHtml", ""))) if msgs else ""


def error_messages(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(step name, message) for every error message of every failed step, else the top-level ones."""
    found = [(str(s.get("stepName") or s.get("id")), plain_text(str(m.get("messageHtml", ""))))
             for s in doc.get("steps") or [] if s.get("status") == "failed"
             for m in s.get("messages") or [] if m.get("level") == "error"]
    if not found:
        found = [("offer", plain_text(str(m.get("messageHtml", "")))) for m in doc.get("messages") or []]
    return found


def staging_lines(doc: dict[str, Any]) -> list[str]:
    """Each plan's staging boot (the staging step's ``stagingReports``): its result and summary, and for a failed
    boot the check that failed, actual vs required; the console is at ``…/operations/{run}/staging/console``."""
    lines = []
    for s in doc.get("steps") or []:
        for r in s.get("stagingReports") or []:
            lines.append(f"staging {r.get('planId')}: {r.get('result')}: {r.get('summary')}")
            failed = next((c for c in r.get("checks") or [] if c.get("result") == "Failed"), None)
            if failed is not None:
                lines.append(f"  failed check {failed.get('name')}: actual {failed.get('actual')!r}, "
                             f"required {failed.get('required')!r}")
    return lines


class View(Protocol):
    def update(self, doc: dict[str, Any] | None) -> None: ...
    def close(self) -> None: ...


class PlainView:
    """One line per change, for logs and CI (stdout is not a terminal)."""

    def __init__(self, out: Out) -> None:
        self.out = out
        self._seen: dict[str, tuple[Any, ...]] = {}

    def update(self, doc: dict[str, Any] | None) -> None:
        if doc is None:
            self._emit("operation", ("starting",), "operation accepted, waiting for it to start")
            return
        self._emit("status", (doc.get("status"),), f"status {doc.get('status')}")
        for s in doc.get("steps") or []:
            key = (s.get("status"), s.get("progressPercentage"), latest_message(s))
            pct = s.get("progressPercentage")
            text = f"{s.get('id')} {s.get('status')}" + (f" {pct}%" if pct is not None else "")
            if key[2]:
                text += f" {key[2]}"
            self._emit(str(s.get("id")), key, text)

    def _emit(self, what: str, key: tuple[Any, ...], text: str) -> None:
        if self._seen.get(what) != key:
            self._seen[what] = key
            self.out.line(f"{time.strftime('%H:%M:%S')} {text}")

    def close(self) -> None:
        pass


_LABELS = {"notStarted": "not started", "inProgress": "in progress", "waitingForPublisherReview": "awaiting sign-off",
           "complete": "complete", "failed": "FAILED", "canceled": "canceled"}


class LiveView:
    """A Rich progress bar per step: name, status, percentage, latest message."""

    def __init__(self, out: Out) -> None:
        self._progress = Progress(
            TextColumn("{task.description}", table_column=Column(width=26, no_wrap=True, overflow="ellipsis")),
            TextColumn("{task.fields[status]}", table_column=Column(width=17, no_wrap=True)),
            BarColumn(bar_width=16), TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[message]}", table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
            console=out.console, expand=True)
        self._tasks: dict[str, TaskID] = {}
        self._progress.start()

    def update(self, doc: dict[str, Any] | None) -> None:
        for s in (doc or {}).get("steps") or []:
            sid = str(s.get("id"))
            status = _LABELS.get(str(s.get("status")), str(s.get("status")))
            message = escape(latest_message(s))
            pct = float(s.get("progressPercentage") or (100 if s.get("status") == "complete" else 0))
            if sid not in self._tasks:
                self._tasks[sid] = self._progress.add_task(escape(str(s.get("stepName") or sid)), total=100,
                                                           status=status, message=message)
            self._progress.update(self._tasks[sid], completed=pct, status=status, message=message)

    def close(self) -> None:
        self._progress.stop()


def make_view(out: Out) -> View | None:
    if out.json:
        return None
    return LiveView(out) if out.tty else PlainView(out)


@dataclass
class Outcome:
    doc: dict[str, Any] | None
    timed_out: bool


def follow(fetch: Callable[[], dict[str, Any] | None], ends: Collection[str], out: Out, *,
           timeout: float | None, interval: float, show: bool = True,
           sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Poll ``fetch`` (None = not visible yet) until its status is in ``ends`` or ``timeout`` passes."""
    deadline = None if timeout is None else time.monotonic() + timeout
    view = make_view(out) if show else None
    doc: dict[str, Any] | None = None
    failures = 0
    try:
        while True:
            try:
                doc = fetch()
                failures = 0
            except ApiUnavailable as exc:
                failures += 1
                if failures >= MAX_CONSECUTIVE_FAILURES:
                    raise
                out.note(f"{exc} (poll {failures}/{MAX_CONSECUTIVE_FAILURES}, still waiting)")
            else:
                if view:
                    view.update(doc)
                if doc is not None and doc.get("status") in ends:
                    return Outcome(doc, False)
            if deadline is not None and time.monotonic() >= deadline:
                return Outcome(doc, True)
            sleep(interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic())))
    finally:
        if view:
            view.close()
