"""Exit codes: one per end state, so CI can branch on them without parsing output."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    USAGE = 2
    WAITING_FOR_SIGNOFF = 10
    FAILED = 11
    CANCELED = 12
    TIMED_OUT = 13
    REFUSED = 14
    UNAVAILABLE = 15


# Commands that report a run (publish, golive, cancel, status) exit with the code of the state it is in.
_BY_STATUS = {
    "succeeded": Exit.OK,
    "waitingForPublisherReview": Exit.WAITING_FOR_SIGNOFF,
    "failed": Exit.FAILED,
    "canceled": Exit.CANCELED,
}


def for_status(status: str | None) -> Exit:
    """Exit code of an offer status; ``running`` and ``neverPublished`` are not end states and give 0."""
    return _BY_STATUS.get(status or "", Exit.OK)


EPILOG = "\n\n".join([
    "Exit codes (one per end state):",
    "0  succeeded: the offer is live, or the command simply worked",
    "10 waiting for publisher sign-off (preview ready; run `offers golive`)",
    "11 failed (a step failed, or `offers validate` found errors)",
    "12 canceled",
    "13 timed out while waiting (--timeout); the run goes on, `offers status --follow` resumes",
    "14 refused by the API (4xx): the message names what blocks it and whether retrying can help",
    "15 API unreachable or server error (5xx): retrying may help",
    "2  usage error (bad option, missing API URL or publisher)",
])
