"""The support desk's mails, both ways. Pure, no I/O (the desk's address comes from the settings below).

- To the support desk (``OFFERFLOW_NOTIFIER_SUPPORT_ADDRESS``) when a publisher opens a request or replies:
  who asked, about what, the conversation's new message, and how to answer (`offerflow support answer`).
- To the request's contacts (the run's notification addresses) when the desk answers or closes it, with a link
  that opens the request in the portal, where the publisher replies or closes it.
"""

from __future__ import annotations

from typing import Any

from offerflow_contract.envelope import Envelope
from offerflow_contract.events import (
    SupportRequestAnswered,
    SupportRequestClosed,
    SupportRequestOpened,
    SupportRequestReplied,
)
from offerflow_notifier import rules

SUPPORT_DESK = "support_desk"  # to the desk: a request opened, or the publisher replied
SUPPORT_UPDATE = "support_update"  # to the publisher: the desk answered, or the request was closed


def _context(env: Envelope, public_url: str, request_id: str, title: str) -> dict[str, Any]:
    return {"offer_id": env.offer_id, "publisher_id": env.publisher_id, "run_id": env.run_id or "",
            "occurred_at": env.occurred_at, "status_url": rules.status_url(public_url, env.offer_id),
            "request_id": request_id, "title": title, "request_url": rules.request_url(public_url, request_id)}


def desk_opened(env: Envelope, event: SupportRequestOpened, public_url: str, desk: str) -> rules.Mail:
    context = {**_context(env, public_url, event.request_id, event.title), "kind": "opened",
               "author": event.requested_by, "message": event.description, "step_name": rules.step_name(event.step),
               "step_messages": list(event.messages), "contacts": list(event.contact_emails)}
    return rules.Mail(SUPPORT_DESK, context, rules.recipients([desk]))


def desk_replied(env: Envelope, event: SupportRequestReplied, public_url: str, desk: str) -> rules.Mail:
    context = {**_context(env, public_url, event.request_id, event.title), "kind": "replied",
               "author": event.replied_by, "message": event.message, "step_name": "", "step_messages": [],
               "contacts": []}
    return rules.Mail(SUPPORT_DESK, context, rules.recipients([desk]))


def publisher_answered(env: Envelope, event: SupportRequestAnswered, public_url: str) -> rules.Mail:
    context = {**_context(env, public_url, event.request_id, event.title), "kind": "answered",
               "author": event.answered_by, "message": event.message}
    return rules.Mail(SUPPORT_UPDATE, context, rules.recipients(event.contact_emails))


def publisher_closed(env: Envelope, event: SupportRequestClosed, public_url: str) -> rules.Mail:
    context = {**_context(env, public_url, event.request_id, event.title), "kind": "closed",
               "author": event.closed_by if event.role == "support" else "you", "message": event.message}
    return rules.Mail(SUPPORT_UPDATE, context, rules.recipients(event.contact_emails))
