"""An in-process fake of the Offerflow API for tests, served through ``httpx.MockTransport``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from offerflow_contract.steps import STEP_INDEX, STEPS, StepId

Handler = Callable[[httpx.Request], httpx.Response]
Reply = httpx.Response | Handler | Exception

PUB = "/api/publishers/demo/offers"


def resp(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def error(status: int, code: str, message: str, *, retryable: bool | None = None,
          details: list[dict[str, Any]] | None = None) -> httpx.Response:
    err: dict[str, Any] = {"code": code, "message": message, "details": details or []}
    if retryable is not None:
        err["retryable"] = retryable
    return resp(status, {"error": err})


STEP_IDS = [(s.id.value, s.name) for s in STEPS]


def status_doc(status: str, statuses: list[str] | None = None, *, run_id: str = "run-1",
               error_step: str | None = None, error: str = "", pct: int | None = None) -> dict[str, Any]:
    statuses = statuses or ["notStarted"] * len(STEPS)
    steps = []
    for (sid, name), st in zip(STEP_IDS, statuses, strict=True):
        msgs = []
        if sid == error_step:
            msgs.append({"messageHtml": f"<p>{error}</p>", "level": "error", "timestamp": "2024-01-01T00:00:00Z"})
        elif st == "inProgress":
            msgs.append({"messageHtml": "working &amp; hashing", "level": "information",
                         "timestamp": "2024-01-01T00:00:00Z"})
        steps.append({"id": sid, "stepName": name, "status": st, "estimatedTimeFrame": "<1 day",
                      "progressPercentage": pct if st == "inProgress" and pct is not None
                      else (100 if st == "complete" else 0), "messages": msgs})
    current = next((s["id"] for s in steps if s["status"] not in ("complete",)), "live")
    return {"status": status, "messages": [], "steps": steps, "previewLinks": ["http://preview/demo"],
            "liveLinks": ["http://live/demo"] if status == "succeeded" else [], "runId": run_id,
            "offerVersion": 1, "currentStep": current}


def statuses_at(step: StepId, status: str) -> list[str]:
    """Every step before ``step`` complete, ``step`` in ``status``, the rest not started."""
    at = STEP_INDEX[step]
    return ["complete"] * at + [status] + ["notStarted"] * (len(STEPS) - at - 1)


RUNNING = statuses_at(StepId.CERTIFICATION, "inProgress")
AT_SIGNOFF = statuses_at(StepId.SIGNOFF, "waitingForPublisherReview")
LIVE = ["complete"] * len(STEPS)


class FakeApi:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *replies: Reply) -> FakeApi:
        """Answer in order; the last reply repeats."""
        self.routes[(method, path)] = list(replies)
        return self

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.params.get("api-version") != "2017-10-31":
            return error(400, "InvalidAPIVersion", "Invalid api version.")
        queue = self.routes.get((request.method, request.url.path))
        if not queue:
            return error(404, "NotFound", f"no route {request.method} {request.url.path}")
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        return reply(request) if callable(reply) and not isinstance(reply, httpx.Response) else reply

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    @staticmethod
    def body(request: httpx.Request) -> Any:
        return json.loads(request.content)
