"""Reading the development mail sink over HTTP the way a developer's script does: with the admin token.

The sink holds every publisher's mail, so its API answers 401 without ``Authorization: Bearer <admin token>``
(services/notifier/README.md). Tests that read mail from the sink's files (``stack.mail_dir``) bypass HTTP.
"""

from __future__ import annotations

import email
import email.policy
import time
from email.message import EmailMessage
from typing import Any

import httpx
from stack import Stack


def sink(stack: Stack, token: str | None = None) -> httpx.Client:
    """A client of the sink's HTTP side; the stack's admin token unless ``token`` says otherwise ("" for none)."""
    token = stack.admin_token if token is None else token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=stack.mail_url, headers=headers, timeout=30)


def listed(stack: Stack) -> list[dict[str, Any]]:
    with sink(stack) as http:
        r = http.get("/api/messages")
        r.raise_for_status()
        body: list[dict[str, Any]] = r.json()
        return body


def message(stack: Stack, name: str) -> EmailMessage:
    with sink(stack) as http:
        r = http.get(f"/messages/{name}")
        r.raise_for_status()
    msg = email.message_from_bytes(r.content, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def wait_mails(stack: Stack, address: str, count: int, timeout: float = 90) -> list[EmailMessage]:
    """At least ``count`` mails to ``address``, read through the sink's API."""
    deadline = time.monotonic() + timeout
    names: list[str] = []
    while time.monotonic() < deadline:
        names = [m["name"] for m in listed(stack) if address in m["to"]]
        if len(names) >= count:
            return [message(stack, n) for n in names]
        time.sleep(0.5)
    raise AssertionError(f"{len(names)} mails to {address} in the sink, wanted {count}")
