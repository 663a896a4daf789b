"""Commands the API turns requests into (imperative; never put on a topic as they are)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from offerflow_contract.envelope import Command

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


class Publish(Command):
    publisher_id: str
    offer_id: str
    notification_emails: list[str] = Field(min_length=1)
    requested_by: str
    idempotency_key: str | None = None


class SignOffCommand(Command):
    publisher_id: str
    offer_id: str
    requested_by: str
    idempotency_key: str | None = None


class GoLive(SignOffCommand):
    pass


class Cancel(SignOffCommand):
    pass


class SaveDraft(Command):
    publisher_id: str
    offer_id: str
    offer_type_id: str
    definition: dict[str, Any]
    if_match: str


class AddImageVersion(Command):
    publisher_id: str
    offer_id: str
    plan_id: str
    version: str
    image: dict[str, Any]


class OpenSupportRequest(Command):
    publisher_id: str
    offer_id: str
    run_id: str | None
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=10_000)


def parse_emails(raw: str) -> tuple[list[str], list[str]]:
    """(valid, invalid) addresses from the comma-separated list the original API takes."""
    items = [e.strip() for e in raw.split(",") if e.strip()]
    return [e for e in items if _EMAIL.match(e)], [e for e in items if not _EMAIL.match(e)]
