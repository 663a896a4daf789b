"""Jinja2 templates shipped in the package: ``<name>.subject.txt``, ``<name>.txt`` and ``<name>.html``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class Renderer:
    def __init__(self) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("offerflow_notifier", "templates"),
            # Only the HTML part is escaped; the text part must show offer content verbatim.
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, template: str, context: dict[str, Any]) -> Rendered:
        subject = self._env.get_template(f"{template}.subject.txt").render(context)
        return Rendered(
            # A header must be one line whatever the offer id or step name contains.
            subject=" ".join(subject.split()),
            text=self._env.get_template(f"{template}.txt").render(context),
            html=self._env.get_template(f"{template}.html").render(context),
        )
