"""The status document of the original API (``GET …/status``), rendered from a run's view. Pure, no I/O.

Every renderer of the document uses these functions: the projection stores a run's document, the command side
answers Cancel with it, and the API (``api/status_doc.py``) serves it. The API adds the measured ETA and the
overdue flag (``eta.annotate``) when it serves it, because those change with time, not with events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from offerflow_contract.steps import STEPS, OfferStatus, StepId, StepStatus
from offerflow_status_api.projection.view import Message, RunView, StepView

# The seed: "El estado de publicación volverá al paso 1".
CANCELED_MESSAGE = ("The publish was canceled at publisher sign-off, so the offer is back at step 1: "
                    "Publish starts again here.")


def status_document(run: RunView | None, *, emails: list[str] | None = None) -> dict[str, Any]:
    """The ``GET …/status`` body of the original API, steps always listed in order."""
    if run is None:
        return {
            "status": OfferStatus.NEVER_PUBLISHED.value,
            "messages": [],
            "steps": [StepView(s.id).to_api() for s in STEPS],
            "previewLinks": [],
            "liveLinks": [],
            "notificationEmails": ",".join(emails or []) or None,
        }
    failed = [s for s in run.steps.values() if s.status == StepStatus.FAILED]
    messages = [m.to_api() for m in failed[0].messages if m.level == "error"] if failed else []
    return {
        "status": run.status.value,
        "messages": messages,
        "steps": [run.steps[s.id].to_api() for s in STEPS],
        "previewLinks": run.preview_links,
        "liveLinks": run.live_links,
        "notificationEmails": ",".join(run.notification_emails) or None,
        "runId": run.run_id,
        "offerVersion": run.offer_version,
        "currentStep": run.current_step().id.value,
    }


def accepted_document(run_id: str, offer_id: str, publisher_id: str, offer_version: int) -> dict[str, Any]:
    """An operation the API accepted whose first event the projection has not read yet: running, at step 1."""
    view = RunView(run_id=run_id, offer_id=offer_id, publisher_id=publisher_id, offer_version=offer_version)
    return {**status_document(view), "cancellationRequestState": view.cancellation_request_state}


def canceled_document(run_id: str, offer_version: int | None, emails: list[str], at: datetime) -> dict[str, Any]:
    """The offer's status once its run was canceled at sign-off: back at step 1, every step not started.

    The operation resource keeps the canceled run's history; this is the offer's status, the same whether the
    command side answers it (Cancel, read-your-writes) or the projection does.
    """
    steps = [StepView(s.id).to_api() for s in STEPS]
    steps[0]["messages"] = [Message("information", CANCELED_MESSAGE, at, code="publishCanceled").to_api()]
    return {"status": OfferStatus.CANCELED.value, "messages": [], "steps": steps, "previewLinks": [],
            "liveLinks": [], "notificationEmails": ",".join(emails) or None, "runId": run_id,
            "offerVersion": offer_version, "currentStep": StepId.VALIDATION.value,
            "cancellationRequestState": "canceled"}


def offer_status(run_document: dict[str, Any]) -> dict[str, Any]:
    """What the offer's status shows for its newest run's document (a canceled run is back at step 1)."""
    if run_document.get("status") != OfferStatus.CANCELED.value:
        return run_document
    signoff = next(s for s in run_document["steps"] if s["id"] == StepId.SIGNOFF.value)
    at = datetime.fromisoformat(signoff["finishedAt"])
    emails = [e for e in (run_document.get("notificationEmails") or "").split(",") if e]
    return canceled_document(run_document["runId"], run_document.get("offerVersion"), emails, at)
