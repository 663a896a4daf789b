"""What an offer shows once its run was canceled at sign-off: back at step 1 (the seed: "El estado de
publicación volverá al paso 1"). The operation resource keeps the canceled run's history; this is the offer's
status, the same whether the command side answers it (Cancel, read-your-writes) or the projection does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from offerflow_contract.steps import STEPS, OfferStatus, StepId
from offerflow_status_api.rules import Message, StepView

CANCELED_MESSAGE = ("The publish was canceled at publisher sign-off, so the offer is back at step 1: "
                    "Publish starts again here.")


def canceled_document(run_id: str, offer_version: int | None, emails: list[str], at: datetime) -> dict[str, Any]:
    """The offer's status once its run was canceled at sign-off: back at step 1, every step not started."""
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
