"""The staging step in the status: its checks on the status document, the supervisor's limit, the stored state of
runs folded before the step existed, and the staging routes (report and console) with their isolation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI

from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.events import (
    OfferSnapshot,
    ProvisioningPassed,
    PublishRequested,
    Reason,
    StagingCheck,
    StagingFailed,
    StagingPassed,
    StagingReport,
    StagingStarted,
    ValidationPassed,
)
from offerflow_contract.steps import STEPS, StepId
from offerflow_status_api import eta, supervisor
from offerflow_status_api.api import deps
from offerflow_status_api.api.app import create_app
from offerflow_status_api.api.schemas import StatusDocument
from offerflow_status_api.projection import state as run_state
from offerflow_status_api.projection.fold import apply, fold_run, new_state, view_of
from offerflow_status_api.status_document import status_document

PUB, OFFER, TOKEN, OTHER_TOKEN = "contoso", "web", "secret", "other-secret"
V = {"api-version": "2017-10-31"}
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SNAP = OfferSnapshot(offer_version=2, definition={}, notification_emails=["a@b.example"])
CONSOLE = "SeaBIOS\nLinux version 6.1\n<script>alert(1)</script>\nKernel panic - not syncing: VFS\n"


def check(cid: str, result: str, seconds: float | None) -> StagingCheck:
    return StagingCheck(check_id=cid, name=cid.title(), result=result, actual=f"{cid} actual",  # type: ignore[arg-type]
                        required=f"{cid} required", seconds=seconds)


def report(plan: str, result: str = "Fail", console: str = CONSOLE) -> StagingReport:
    checks = [check("kernel", "Passed", 2.5), check("root-fs", "Failed" if result == "Fail" else "Passed", None)]
    return StagingReport(plan_id=plan, image_version="1.0.0", region="westeurope", location=f"/r/{plan}/os.vhd",
                         accelerator="tcg", result=result, first_missing="root-fs" if result == "Fail" else None,  # type: ignore[arg-type]
                         summary=f"{plan}: root file system not mounted" if result == "Fail" else "booted in 38 s",
                         checks=checks, seconds=120, console=console, console_tail=console.splitlines()[-2:])


def failed(*reports: StagingReport) -> StagingFailed:
    return StagingFailed(summary="The staging boot failed", reasons=[Reason(code="root-fs", message="no root")],
                         notification_emails=["a@b.example"], reports=list(reports))


def run(*tail: Event, run_id: str = "r1") -> list[Envelope]:
    events: list[Event] = [PublishRequested(offer=SNAP, requested_by=PUB), ValidationPassed(offer=SNAP),
                           ProvisioningPassed(offer=SNAP, disks=[], replicas=[]), StagingStarted(), *tail]
    return [wrap(e, offer_id=OFFER, publisher_id=PUB, run_id=run_id, producer="t",
                 occurred_at=T0 + timedelta(seconds=i)) for i, e in enumerate(events)]


def staging_step(doc: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in doc["steps"] if s["id"] == StepId.STAGING.value)


# --- the status document -----------------------------------------------------------------------------------

def test_a_failed_boot_shows_each_plans_checks_on_the_staging_step() -> None:
    doc = status_document(fold_run("r1", run(failed(report("std")))))
    assert (doc["status"], doc["currentStep"]) == ("failed", StepId.STAGING.value)
    step = staging_step(doc)
    assert step["status"] == "failed" and step["stepName"] == "Staging deployment"
    [plan] = step["stagingReports"]
    assert (plan["planId"], plan["result"], plan["firstMissing"]) == ("std", "Fail", "root-fs")
    assert [(c["checkId"], c["result"], c["seconds"]) for c in plan["checks"]] == [
        ("kernel", "Passed", 2.5), ("root-fs", "Failed", None)]
    assert "Kernel panic" not in json.dumps(doc)  # the console has its own route
    served = eta.annotate(doc, {}, T0)
    assert StatusDocument.model_validate(served).model_dump(mode="json", exclude_unset=True) == served
    # Other steps carry no staging keys.
    assert all("stagingReports" not in s for s in doc["steps"] if s["id"] != StepId.STAGING.value)


def test_a_passed_boot_says_what_each_plan_showed() -> None:
    passed = StagingPassed(offer=SNAP, disks=[], replicas=[], reports=[report("std", "Pass"), report("big", "Pass")])
    step = staging_step(status_document(fold_run("r1", run(passed))))
    assert step["status"] == "complete" and step["progressPercentage"] == 100
    assert [m["messageHtml"] for m in step["messages"]] == ["std: booted in 38 s", "big: booted in 38 s"]
    assert [r["planId"] for r in step["stagingReports"]] == ["std", "big"]


def test_the_stored_state_keeps_the_checks_and_states_stored_before_staging_still_load() -> None:
    envs = run(failed(report("std")))
    state = new_state(envs[0])
    for env in envs:
        state = run_state.from_json(json.loads(json.dumps(run_state.to_json(apply(state, env)))))
    assert status_document(fold_run("r1", envs)) == status_document(view_of(state))
    # A state stored with six steps (version 1): staging comes back empty, the others where they were.
    old = run_state.to_json(state)
    old_steps = [s for i, s in enumerate(old["steps"]) if STEPS[i].id != StepId.STAGING]
    loaded = run_state.from_json({**old, "v": 1, "steps": old_steps})
    assert len(loaded.steps) == len(STEPS)
    assert loaded.steps[2] == state.steps[2] and loaded.steps[3] == run_state.EMPTY_STEP
    assert loaded.steps[4:] == state.steps[4:]
    with pytest.raises(ValueError, match="expected 7"):
        run_state.from_json({**old, "steps": old_steps})


# --- the supervisor ----------------------------------------------------------------------------------------

def test_the_supervisor_ends_a_staging_step_past_its_limit() -> None:
    doc = status_document(fold_run("r1", run()))
    assert staging_step(doc)["status"] == "inProgress"
    limits = dict(supervisor.DEFAULT_LIMITS)
    started = T0 + timedelta(seconds=3)
    assert supervisor.inspect(doc, {}, started + timedelta(minutes=20), limits) is None
    overdue = supervisor.inspect(doc, {}, started + timedelta(minutes=61), limits)
    assert overdue is not None and overdue.step == StepId.STAGING and overdue.event.event_type == "offer.step_overdue"
    ended = supervisor.inspect(doc, {}, started + timedelta(seconds=supervisor.DEFAULT_LIMITS[StepId.STAGING] + 1),
                               limits)
    assert ended is not None and ended.event.event_type == "offer.step_timed_out"
    assert supervisor.inspect(doc, {}, started + timedelta(hours=2), {StepId.STAGING: 3600}) is not None


# --- the routes --------------------------------------------------------------------------------------------

class ReadModel:
    def __init__(self, envelopes: list[Envelope]) -> None:
        self.envelopes = envelopes

    async def run_document(self, publisher_id: str, offer_id: str, run_id: str) -> dict[str, Any] | None:
        mine = [e for e in self.envelopes if (e.publisher_id, e.offer_id, e.run_id) == (publisher_id, offer_id, run_id)]
        return status_document(fold_run(run_id, mine)) if mine else None

    async def run_event(self, run_id: str, event_types: tuple[str, ...]) -> Envelope | None:
        found = [e for e in self.envelopes if e.run_id == run_id and e.event_type in event_types]
        return max(found, key=lambda e: e.occurred_at) if found else None


class Auth:
    async def publisher_for(self, token: str) -> str | None:
        return {TOKEN: PUB, OTHER_TOKEN: "fabrikam"}.get(token)


async def no_resources(_: FastAPI) -> Any:
    async def close() -> None:
        return None

    return close


async def get(envelopes: list[Envelope], path: str, token: str = TOKEN, **params: str) -> httpx.Response:
    app = create_app(no_resources)
    app.state.services = deps.AppServices(commands=cast(Any, None), read_model=cast(Any, ReadModel(envelopes)),
                                          auth=cast(Any, Auth()), log=cast(Any, None), admin_token=None,
                                          public_url="http://portal.example")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        return await client.get(f"/api/publishers/{PUB}/offers/{OFFER}/operations/{path}", params={**V, **params},
                                headers={"Authorization": f"Bearer {token}"})


async def test_the_staging_report_lists_each_plans_checks_without_the_console() -> None:
    r = await get(run(failed(report("std"), report("big"))), "r1/staging")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["runId"], body["TestResult"]) == ("r1", "Fail")
    assert [p["planId"] for p in body["reports"]] == ["std", "big"]
    first = body["reports"][0]
    assert first["checks"][1] == {"checkId": "root-fs", "name": "Root-Fs", "result": "Failed",
                                  "actual": "root-fs actual", "required": "root-fs required", "seconds": None}
    assert first["hasConsole"] is True and "console" not in first and "Kernel panic" not in r.text
    one = await get(run(failed(report("std"), report("big"))), "r1/staging", plan="big")
    assert [p["planId"] for p in one.json()["reports"]] == ["big"]


async def test_a_passed_staging_report_says_pass() -> None:
    passed = StagingPassed(offer=SNAP, disks=[], replicas=[], reports=[report("std", "Pass")])
    body = (await get(run(passed), "r1/staging")).json()
    assert body["TestResult"] == "Pass" and body["reports"][0]["TestResult"] == "Pass"


async def test_the_console_is_plain_text_of_the_plan_asked_for() -> None:
    envs = run(failed(report("std"), report("big", console="big console\n")))
    r = await get(envs, "r1/staging/console", plan="big")
    assert r.status_code == 200 and r.text == "big console\n"
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert 'filename="r1-big-console.txt"' in r.headers["content-disposition"]
    several = await get(envs, "r1/staging/console")
    assert several.status_code == 400 and "std, big" in several.json()["error"]["message"]
    missing = await get(envs, "r1/staging/console", plan="nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"


async def test_with_one_plan_the_console_needs_no_plan_and_is_served_as_text() -> None:
    r = await get(run(failed(report("std"))), "r1/staging/console")
    assert r.status_code == 200 and r.text == CONSOLE  # markup stays text: never rendered by the API
    empty = await get(run(failed(report("std", console=""))), "r1/staging/console")
    assert empty.status_code == 404


async def test_no_report_yet_unknown_runs_and_other_publishers_get_404() -> None:
    assert (await get(run(), "r1/staging")).json()["error"]["message"] == "Operation r1 has no staging report yet."
    assert (await get(run(), "r1/staging/console")).status_code == 404
    assert (await get(run(failed(report("std"))), "r9/staging")).status_code == 404
    # Another publisher's token on this publisher's path: a plain 404, nothing of the run.
    other = await get(run(failed(report("std"))), "r1/staging", token=OTHER_TOKEN)
    assert other.status_code == 404 and "std" not in other.text
    console = await get(run(failed(report("std"))), "r1/staging/console", token=OTHER_TOKEN)
    assert console.status_code == 404 and "Kernel" not in console.text
    assert (await get(run(failed(report("std"))), "r1/staging", token="nope")).status_code == 401
