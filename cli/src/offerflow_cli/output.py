"""Output: JSON for machines (``--json``), Rich in a terminal, plain lines otherwise. Errors go to stderr."""

from __future__ import annotations

import html
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def plain_text(message_html: str) -> str:
    """A step message without its markup (the API sends ``messageHtml``)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", message_html or "")).split())


class Out:
    def __init__(self, as_json: bool = False, tty: bool | None = None) -> None:
        self.json = as_json
        self.tty = stdout_is_tty() if tty is None else tty
        # Resolved on each use: the streams may be swapped (tests, redirections) after construction.
        self._force = True if self.tty else None

    @property
    def console(self) -> Console:
        return Console(file=sys.stdout, force_terminal=self._force, highlight=False, soft_wrap=not self.tty)

    @property
    def err_console(self) -> Console:
        return Console(file=sys.stderr, highlight=False, soft_wrap=True)

    # --- stdout ---------------------------------------------------------------------------------

    def doc(self, data: Any) -> None:
        """An API document: JSON in every mode (pretty in a terminal, compact-stable otherwise)."""
        if self.tty and not self.json:
            self.console.print_json(data=data)
        else:
            sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")

    def line(self, text: str) -> None:
        """A human line; suppressed under --json so stdout stays machine-readable."""
        if self.json:
            return
        if self.tty:
            self.console.print(text, markup=False)
        else:
            sys.stdout.write(text + "\n")

    def table(self, data: Any, columns: Sequence[tuple[str, str]], rows: list[list[str]]) -> None:
        """``data`` under --json, a Rich table in a terminal, tab-separated lines otherwise."""
        if self.json:
            self.doc(data)
            return
        if not self.tty:
            for r in rows:
                sys.stdout.write("\t".join(r) + "\n")
            return
        t = Table(*[title for title, _ in columns])
        for r in rows:
            t.add_row(*[escape(c) for c in r])  # API text is data, never Rich markup
        self.console.print(t)

    # --- stderr ---------------------------------------------------------------------------------

    def note(self, text: str) -> None:
        """Progress chatter that is never part of the result."""
        if not self.json:
            sys.stderr.write(text + "\n")

    def error(self, text: str, body: dict[str, Any] | None = None) -> None:
        if self.json and body is not None:
            sys.stdout.write(json.dumps(body, indent=2) + "\n")
        sys.stderr.write(text + "\n")


def cell(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)
