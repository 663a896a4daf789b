"""The support desk's answers and the publisher's replies to a support request (opened by
``SupportRequestOpened``), recorded as facts on ``offerflow.publishing``.

Every event after the opening carries ``seq``: the request's own sequence number (the opening is 1), given by
the command side, which decides every transition. The projection orders a request's conversation by it and takes
the status from the newest event, whatever order the events arrive in. Title and contact addresses travel with
each event so the notifier mails without a store of its own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from offerflow_contract.envelope import Event, register

SupportRole = Literal["support", "publisher"]


@register
class SupportRequestAnswered(Event):
    """The support desk answered an open request; it waits for the publisher now."""

    event_type = "offer.support_answered"
    request_id: str
    seq: int = Field(ge=2)
    title: str
    message: str = Field(min_length=1)
    answered_by: str
    contact_emails: list[str]


@register
class SupportRequestReplied(Event):
    """The publisher replied to their request; it is open again, waiting for the support desk."""

    event_type = "offer.support_replied"
    request_id: str
    seq: int = Field(ge=2)
    title: str
    message: str = Field(min_length=1)
    replied_by: str


@register
class SupportRequestClosed(Event):
    """The request was closed, by the support desk or by the publisher; a closed request stays closed."""

    event_type = "offer.support_closed"
    request_id: str
    seq: int = Field(ge=2)
    title: str
    closed_by: str
    role: SupportRole
    message: str = ""
    contact_emails: list[str]
