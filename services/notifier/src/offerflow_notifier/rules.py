"""Pure decisions: who gets a mail, what it says, how it is identified. No I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote, urlencode

from offerflow_contract.envelope import Envelope
from offerflow_contract.events import (
    OfferWentLive,
    PreviewReady,
    PublishCanceled,
    PublishRequested,
    StageFailed,
    StagingFailed,
    StepTimedOut,
    SupportRequestOpened,
)
from offerflow_contract.steps import StepId, step_info
from offerflow_notifier import staging_mail

PUBLISH_ACCEPTED = "publish_accepted"
STEP_FAILED = "step_failed"
PREVIEW_READY = "preview_ready"
LIVE = "live"
CANCELED = "canceled"
SUPPORT_REQUESTED = "support_requested"
STAGING_FAILED = "staging_failed"
TEMPLATES = (PUBLISH_ACCEPTED, STEP_FAILED, STAGING_FAILED, PREVIEW_READY, LIVE, CANCELED, SUPPORT_REQUESTED)

_MAIL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "offerflow:notifier:mail")


@dataclass(frozen=True)
class Mail:
    """What to send about one event, before it is split per recipient."""

    template: str
    context: dict[str, Any]
    recipients: list[str]


def recipients(addresses: Iterable[str]) -> list[str]:
    """Trimmed, without blanks and without repeats (addresses compare case-insensitively)."""
    seen: set[str] = set()
    result: list[str] = []
    for raw in addresses:
        address = raw.strip()
        key = address.lower()
        if address and key not in seen:
            seen.add(key)
            result.append(address)
    return result


def ledger_recipient(address: str) -> str:
    return address.strip().lower()


def message_id(cause_event_id: str, recipient: str, sender: str) -> str:
    """The same cause and recipient always give the same Message-ID, so a re-send is visibly the same mail."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "offerflow.local"
    token = uuid.uuid5(_MAIL_NAMESPACE, f"{cause_event_id}/{ledger_recipient(recipient)}")
    return f"<{token.hex}@{domain}>"


# The portal is a static single-page app with hash routes (``/portal/#/offers/{id}/status``): the server
# always answers ``/portal/`` with the app, and the route after ``#`` survives the sign-in screen (the app
# keeps it as ``next``), so a signed-out publisher lands on the linked screen after signing in.
def portal_url(public_url: str, *segments: str, query: dict[str, str] | None = None) -> str:
    path = "/".join(quote(s, safe="") for s in segments)
    tail = f"?{urlencode(query)}" if query else ""
    return f"{public_url.rstrip('/')}/portal/#/{path}{tail}"


def status_url(public_url: str, offer_id: str) -> str:
    return portal_url(public_url, "offers", offer_id, "status")


def editor_url(public_url: str, offer_id: str) -> str:
    return portal_url(public_url, "offers", offer_id, "editor")


def support_url(public_url: str, offer_id: str, run_id: str | None, step: str) -> str:
    """The Status tab with the support request form of ``step`` open, attached to ``run_id``."""
    query = {"support": step, **({"run": run_id} if run_id else {})}
    return portal_url(public_url, "offers", offer_id, "status", query=query)


def request_url(public_url: str, request_id: str) -> str:
    """The portal's page of one support request, where its publisher reads the conversation and replies."""
    return portal_url(public_url, "support", request_id)


def _common(env: Envelope, public_url: str) -> dict[str, Any]:
    return {
        "offer_id": env.offer_id,
        "publisher_id": env.publisher_id,
        "run_id": env.run_id or "",
        "occurred_at": env.occurred_at,
        "status_url": status_url(public_url, env.offer_id),
    }


def publish_accepted(env: Envelope, event: PublishRequested, public_url: str) -> Mail:
    context = {**_common(env, public_url), "offer_version": event.offer.offer_version,
               "requested_by": event.requested_by}
    return Mail(PUBLISH_ACCEPTED, context, recipients(event.offer.notification_emails))


# Failures on our side (a stage gave up on the input, a step ran past its limit): nothing to fix in the offer.
OUR_SIDE = frozenset({"internal-error", "step-timed-out"})
OUR_SIDE_NEXT_STEPS = ("Nothing needs fixing in your offer: choose Publish again. If it fails again the same way, "
                       "open a support request.")


def step_failed(env: Envelope, event: StageFailed | StepTimedOut, public_url: str) -> Mail:
    info = step_info(StepId(event.step))
    ours = bool(event.reasons) and all(r.code in OUR_SIDE for r in event.reasons)
    context = {
        **_common(env, public_url),
        "step_name": info.name,
        "step_description": info.description,
        "summary": event.summary,
        "reasons": [
            {"field": r.field or "", "message": r.message, "code": r.code, "level": r.level}
            for r in event.reasons
        ],
        "next_steps": OUR_SIDE_NEXT_STEPS if ours else info.next_steps,
        "our_side": ours,
        "support_url": support_url(public_url, env.offer_id, env.run_id, str(event.step)),
        "editor_url": editor_url(public_url, env.offer_id),
    }
    plans = staging_mail.failed_plans(event.reports) if isinstance(event, StagingFailed) and not ours else []
    if plans:
        # The boot failed in the image: say where each plan's boot stopped, with the console's last lines.
        context.update(plans=plans, next_steps_list=staging_mail.NEXT_STEPS)
        return Mail(STAGING_FAILED, context, recipients(event.notification_emails))
    return Mail(STEP_FAILED, context, recipients(event.notification_emails))


def preview_ready(env: Envelope, event: PreviewReady, public_url: str) -> Mail:
    context = {
        **_common(env, public_url),
        "offer_version": event.offer_version,
        "preview_links": list(event.preview_links),
        "audience": list(event.audience),
        "next_steps": step_info(StepId.SIGNOFF).next_steps,
    }
    return Mail(PREVIEW_READY, context, recipients(event.notification_emails))


def went_live(env: Envelope, event: OfferWentLive, public_url: str) -> Mail:
    context = {**_common(env, public_url), "offer_version": event.offer_version,
               "live_links": list(event.live_links)}
    return Mail(LIVE, context, recipients(event.notification_emails))


def canceled(env: Envelope, event: PublishCanceled, public_url: str) -> Mail:
    context = {**_common(env, public_url), "reason": event.reason}
    return Mail(CANCELED, context, recipients(event.notification_emails))


def step_name(step: str) -> str:
    try:
        return step_info(StepId(step)).name
    except ValueError:
        return step or "(no step)"


def support_requested(env: Envelope, event: SupportRequestOpened, public_url: str) -> Mail:
    """The acknowledgement to whoever is named as contact on the request."""
    context = {
        **_common(env, public_url),
        "request_id": event.request_id,
        "step_name": step_name(event.step),
        "title": event.title,
        "description": event.description,
        "messages": list(event.messages),
        "requested_by": event.requested_by,
    }
    return Mail(SUPPORT_REQUESTED, context, recipients(event.contact_emails))
