"""The command side of the status-api: publisher commands decided from command-side state, with an outbox."""

from offerflow_status_api.commands.messages import (
    AddImageVersion,
    Cancel,
    GoLive,
    OpenSupportRequest,
    Publish,
    SaveDraft,
    parse_emails,
)
from offerflow_status_api.commands.ports import Answer, StaleETag
from offerflow_status_api.commands.rules import Quotas
from offerflow_status_api.commands.service import (
    CommandService,
    FrozenFields,
    ImageVersionConflict,
    NotFound,
    QuotaExceeded,
    operation_location,
)
from offerflow_status_api.commands.state import OfferState, RunPhase, SignOff

__all__ = ["AddImageVersion", "Answer", "Cancel", "CommandService", "FrozenFields", "GoLive",
           "ImageVersionConflict", "NotFound", "OfferState", "OpenSupportRequest", "Publish", "QuotaExceeded",
           "Quotas", "RunPhase", "SaveDraft", "SignOff", "StaleETag", "operation_location", "parse_emails"]
