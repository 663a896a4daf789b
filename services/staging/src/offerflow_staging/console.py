"""The serial console of one boot, kept bounded: its head and its tail within `CONSOLE_MAX_CHARS`.

A guest that floods its console (or never ends a line) must not grow the worker's memory nor the event: the head
(firmware, boot loader, kernel) and the tail (where it stopped) are what explain a boot, the middle is dropped.
"""

from __future__ import annotations

import re
from collections import deque

from offerflow_contract.events.staging import CONSOLE_MAX_CHARS

# ANSI/VT100 escape sequences (the boot loader's menu, colours, cursor moves) and every control character but tab.
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[ -/]*[0-~])")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# A line longer than this is cut into pieces: a guest writing without newlines still yields lines to match.
MAX_LINE_CHARS = 4096
_MARKER = "\n[… {cut} characters of console output left out …]\n"


def clean(line: str) -> str:
    """One console line as text: escape sequences and control characters removed, trailing blanks trimmed."""
    return _CONTROLS.sub("", _ESCAPES.sub("", line)).rstrip()


class Console:
    """Feeds raw console bytes, yields the complete lines, keeps a bounded copy for the report."""

    def __init__(self, max_chars: int = CONSOLE_MAX_CHARS, tail_lines: int = 30) -> None:
        self._head_budget = max_chars // 2
        self._tail_budget = max_chars - self._head_budget - len(_MARKER.format(cut=10**12))
        self._head: list[str] = []
        self._head_chars = 0
        self._tail: deque[str] = deque()
        self._tail_chars = 0
        self._cut = 0
        self._partial = ""
        self._last: deque[str] = deque(maxlen=tail_lines)

    def feed(self, data: bytes) -> list[str]:
        """Adds raw bytes; returns the lines they completed (cleaned, empty ones skipped)."""
        text = self._partial + data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
        *complete, self._partial = text.split("\n")
        while len(self._partial) > MAX_LINE_CHARS:
            complete.append(self._partial[:MAX_LINE_CHARS])
            self._partial = self._partial[MAX_LINE_CHARS:]
        lines = [c for c in (clean(raw) for raw in complete) if c]
        for line in lines:
            self._keep(line)
        return lines

    def close(self) -> list[str]:
        """Flushes the last, unterminated line."""
        rest, self._partial = clean(self._partial), ""
        if rest:
            self._keep(rest)
            return [rest]
        return []

    def _keep(self, line: str) -> None:
        self._last.append(line)
        size = len(line) + 1
        if not self._tail and self._head_chars + size <= self._head_budget:
            self._head.append(line)
            self._head_chars += size
            return
        self._tail.append(line)
        self._tail_chars += size
        while self._tail_chars > self._tail_budget and self._tail:
            dropped = self._tail.popleft()
            self._tail_chars -= len(dropped) + 1
            self._cut += len(dropped) + 1

    @property
    def truncated(self) -> bool:
        return self._cut > 0

    def text(self) -> str:
        head = "".join(f"{line}\n" for line in self._head)
        tail = "".join(f"{line}\n" for line in self._tail)
        return head + (_MARKER.format(cut=self._cut) if self._cut else "") + tail

    def tail_lines(self) -> list[str]:
        return list(self._last)
