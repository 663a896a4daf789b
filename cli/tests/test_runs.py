"""publish / golive / cancel / status: one exit code per end state, plain output off a terminal."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from typer.testing import Result

from offerflow_cli import output
from offerflow_cli.fakeapi import AT_SIGNOFF, LIVE, PUB, RUNNING, FakeApi, error, resp, status_doc, statuses_at
from offerflow_contract.steps import StepId

Invoke = Callable[..., Result]
OP = f"{PUB}/demo/operations/run-1"
LOC = {"Location": f"{OP}?api-version=2017-10-31"}


def _publish(api: FakeApi, *docs: httpx.Response) -> None:
    api.on("POST", f"{PUB}/demo/publish", resp(202, headers=LOC))
    api.on("GET", OP, *docs)


def test_publish_no_wait_returns_0_and_sends_emails(api: FakeApi, cli: Invoke) -> None:
    _publish(api)
    r = cli("offers", "publish", "demo", "--emails", "a@x.com,b@y.com")
    assert r.exit_code == 0, r.output
    assert api.body(api.sent("POST", f"{PUB}/demo/publish")[0]) == {
        "metadata": {"notification-emails": "a@x.com,b@y.com"}}
    assert api.sent("POST", f"{PUB}/demo/publish")[0].headers["Authorization"] == "Bearer tok"
    assert "run-1" in r.stderr
    assert not api.sent("GET", OP)


def test_publish_follow_plain_reaches_signoff_10(api: FakeApi, cli: Invoke) -> None:
    _publish(api, resp(404, {"error": {"code": "NotFound", "message": "not yet"}}),
             resp(200, status_doc("running", RUNNING, pct=40)), resp(200, status_doc("running", RUNNING, pct=40)),
             resp(200, status_doc("waitingForPublisherReview", AT_SIGNOFF)))
    r = cli("offers", "publish", "demo", "--emails", "a@x.com", "--follow")
    assert r.exit_code == 10, r.output
    lines = r.stdout.splitlines()
    assert any("waiting for it to start" in ln for ln in lines)
    # one line per change: the repeated poll adds nothing
    assert sum("displaycertify inProgress 40% working & hashing" in ln for ln in lines) == 1
    assert any("publisher-signoff waitingForPublisherReview" in ln for ln in lines)
    assert "golive demo" in r.stdout
    assert "\x1b[" not in r.stdout and "━" not in r.stdout  # no terminal rendering off a terminal


def test_publish_wait_failed_11_prints_step_errors(api: FakeApi, cli: Invoke) -> None:
    failed = status_doc("failed", statuses_at(StepId.CERTIFICATION, "failed"), error_step="displaycertify",
                        error="The OS disk is not a fixed VHD.")
    _publish(api, resp(200, failed))
    r = cli("offers", "publish", "demo", "--emails", "a@x.com", "--wait")
    assert r.exit_code == 11
    assert "Certification: The OS disk is not a fixed VHD." in r.stdout


def test_publish_wait_canceled_12(api: FakeApi, cli: Invoke) -> None:
    _publish(api, resp(200, status_doc("canceled", statuses_at(StepId.SIGNOFF, "canceled"))))
    assert cli("offers", "publish", "demo", "--emails", "a@x.com", "--wait").exit_code == 12


def test_publish_wait_times_out_13(api: FakeApi, cli: Invoke) -> None:
    _publish(api, resp(200, status_doc("running", RUNNING)))
    r = cli("offers", "publish", "demo", "--emails", "a@x.com", "--wait", "--timeout", "0.05",
            "--poll-interval", "0.01")
    assert r.exit_code == 13
    assert "status demo --follow" in r.stderr


def test_publish_json_prints_only_the_final_document(api: FakeApi, cli: Invoke) -> None:
    final = status_doc("waitingForPublisherReview", AT_SIGNOFF)
    _publish(api, resp(200, status_doc("running", RUNNING)), resp(200, final))
    r = cli("offers", "publish", "demo", "--emails", "a@x.com", "--follow", "--json")
    assert r.exit_code == 10
    assert json.loads(r.stdout) == final


def test_publish_survives_a_transient_server_error(api: FakeApi, cli: Invoke) -> None:
    _publish(api, error(503, "Unavailable", "restarting"), resp(200, status_doc("waitingForPublisherReview",
                                                                                AT_SIGNOFF)))
    r = cli("offers", "publish", "demo", "--emails", "a@x.com", "--wait")
    assert r.exit_code == 10
    assert "still waiting" in r.stderr


def test_publish_refused_names_blocking_operation(api: FakeApi, cli: Invoke) -> None:
    api.on("POST", f"{PUB}/demo/publish", error(
        409, "OperationInProgress", "Operation run-7 waits for publisher sign-off (Go live or Cancel it first).",
        retryable=True))
    r = cli("offers", "publish", "demo", "--emails", "a@x.com", "--follow")
    assert r.exit_code == 14
    assert "retry after operation run-7 ends" in r.stderr
    assert "OperationInProgress" in r.stderr


def test_publish_refused_json_keeps_stdout_machine_readable(api: FakeApi, cli: Invoke) -> None:
    api.on("POST", f"{PUB}/demo/publish", error(422, "ValidationFailed", "The offer failed validation.",
                                                details=[{"code": "required", "target": "/definition/title",
                                                          "message": "title is required"}]))
    r = cli("offers", "publish", "demo", "--emails", "a@x.com", "--json")
    assert r.exit_code == 14
    assert json.loads(r.stdout)["error"]["code"] == "ValidationFailed"
    assert "/definition/title: title is required" in r.stderr
    assert "will not help" in r.stderr


def test_server_error_and_unreachable_exit_15(api: FakeApi, cli: Invoke) -> None:
    api.on("GET", f"{PUB}/demo/status", error(500, "Internal", "boom"))
    r = cli("offers", "status", "demo")
    assert r.exit_code == 15 and "may help" in r.stderr
    api.on("GET", f"{PUB}/demo/status", httpx.ConnectError("refused"))
    r = cli("offers", "status", "demo")
    assert r.exit_code == 15 and "unreachable" in r.stderr


def test_unauthenticated_is_refused_with_a_hint(api: FakeApi, cli: Invoke) -> None:
    api.on("GET", PUB, error(401, "Unauthorized", "A bearer token is required."))
    r = cli("offers", "list")
    assert r.exit_code == 14 and "OFFERFLOW_TOKEN" in r.stderr


def test_golive_wait_live_0_and_failed_11(api: FakeApi, cli: Invoke) -> None:
    api.on("POST", f"{PUB}/demo/golive", resp(202, headers=LOC))
    api.on("GET", OP, resp(200, status_doc("waitingForPublisherReview", AT_SIGNOFF)),
           resp(200, status_doc("succeeded", LIVE)))
    r = cli("offers", "golive", "demo", "--wait")
    assert r.exit_code == 0, r.output
    assert "is live" in r.stdout and "http://live/demo" in r.stdout
    api.on("GET", OP, resp(200, status_doc("failed", statuses_at(StepId.LIVE, "failed"), error_step="live",
                                           error="storefront refused")))
    r = cli("offers", "golive", "demo", "--wait")
    assert r.exit_code == 11 and "storefront refused" in r.stdout


def test_golive_refused_when_not_at_signoff(api: FakeApi, cli: Invoke) -> None:
    api.on("POST", f"{PUB}/demo/golive", error(
        409, "InvalidState", "Go live is only possible while the offer waits for publisher sign-off; "
        "operation run-1 is running at step displaycertify.", retryable=False))
    r = cli("offers", "golive", "demo")
    assert r.exit_code == 14
    assert "displaycertify" in r.stderr and "will not help" in r.stderr


def test_cancel_synchronous_12_and_asynchronous_wait(api: FakeApi, cli: Invoke) -> None:
    canceled = status_doc("canceled", statuses_at(StepId.SIGNOFF, "canceled"))
    api.on("POST", f"{PUB}/demo/cancel", resp(200, canceled, headers=LOC))
    assert cli("offers", "cancel", "demo").exit_code == 12
    api.on("POST", f"{PUB}/demo/cancel", resp(202, {}, headers=LOC))
    api.on("GET", OP, resp(200, status_doc("waitingForPublisherReview", AT_SIGNOFF)), resp(200, canceled))
    assert cli("offers", "cancel", "demo").exit_code == 12


@pytest.mark.parametrize(("status", "code"), [("waitingForPublisherReview", 10), ("succeeded", 0),
                                              ("failed", 11), ("canceled", 12), ("running", 0),
                                              ("neverPublished", 0)])
def test_status_exit_code_is_the_state(api: FakeApi, cli: Invoke, status: str, code: int) -> None:
    api.on("GET", f"{PUB}/demo/status", resp(200, status_doc(status)))
    r = cli("offers", "status", "demo")
    assert r.exit_code == code
    assert r.stdout.startswith(f"Offer demo: {status}")


def test_status_follow_resumes_by_polling_the_current_run(api: FakeApi, cli: Invoke) -> None:
    api.on("GET", f"{PUB}/demo/status", resp(200, status_doc("running", RUNNING)),
           resp(200, status_doc("waitingForPublisherReview", AT_SIGNOFF)))
    r = cli("offers", "status", "demo", "--follow")
    assert r.exit_code == 10
    assert len(api.sent("GET", f"{PUB}/demo/status")) == 2


def test_follow_in_a_terminal_draws_a_bar_per_step(api: FakeApi, cli: Invoke,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "stdout_is_tty", lambda: True)
    _publish(api, resp(200, status_doc("running", RUNNING, pct=40)),
             resp(200, status_doc("waitingForPublisherReview", AT_SIGNOFF)))
    r = cli("offers", "publish", "demo", "--emails", "a@x.com", "--follow")
    assert r.exit_code == 10, r.output
    for name in ("Validate Pre-Requisites", "Certification", "Publisher signoff"):
        assert name in r.stdout
    assert "━" in r.stdout


def test_publish_retries_a_busy_api_with_the_same_idempotency_key(api: FakeApi, cli: Invoke) -> None:
    busy = resp(503, {"error": {"code": "ServiceBusy", "message": "busy", "retryable": True}})
    api.on("POST", f"{PUB}/demo/publish", busy, resp(202, headers=LOC))
    api.on("GET", OP)
    r = cli("offers", "publish", "demo", "--emails", "a@x.com")
    assert r.exit_code == 0, r.output
    sent = api.sent("POST", f"{PUB}/demo/publish")
    assert len(sent) == 2
    assert sent[0].headers["Idempotency-Key"] == sent[1].headers["Idempotency-Key"] != ""


def test_status_shows_the_staging_step_and_each_plans_failed_check(api: FakeApi, cli: Invoke) -> None:
    doc = status_doc("failed", statuses_at(StepId.STAGING, "failed"), error_step="displaystaging",
                     error="Plan standard did not boot")
    staging = next(s for s in doc["steps"] if s["id"] == "displaystaging")
    staging["stagingReports"] = [{"planId": "standard", "result": "Fail", "summary": "the kernel started; no root fs",
                                  "checks": [{"checkId": "kernel", "name": "Kernel started", "result": "Passed",
                                              "actual": "Linux 6.1", "required": "a banner"},
                                             {"checkId": "root-fs", "name": "Root file system mounted",
                                              "result": "Failed", "actual": "VFS: unable to mount",
                                              "required": "/ mounted"}]}]
    api.on("GET", f"{PUB}/demo/status", resp(200, doc))
    r = cli("offers", "status", "demo")
    assert r.exit_code == 11
    assert "displaystaging\tStaging deployment\tfailed" in r.stdout
    assert "staging standard: Fail: the kernel started; no root fs" in r.stdout
    assert "failed check Root file system mounted: actual 'VFS: unable to mount', required '/ mounted'" in r.stdout
    assert "Staging deployment: Plan standard did not boot" in r.stdout


def test_staging_console_prints_the_log_as_text(api: FakeApi, cli: Invoke) -> None:
    console = '{"looks": "like json"}\nKernel panic - not syncing\n'
    path = f"{PUB}/demo/operations/run-1/staging/console"
    api.on("GET", path, httpx.Response(200, text=console, headers={"Content-Type": "text/plain"}))
    r = cli("offers", "staging-console", "demo", "run-1", "--plan", "standard")
    assert r.exit_code == 0, r.output
    assert r.stdout == console
    assert api.sent("GET", path)[0].url.params["plan"] == "standard"
    api.on("GET", path, resp(404, {"error": {"code": "NotFound", "message": "No staging console was kept."}}))
    r = cli("offers", "staging-console", "demo", "run-1")
    assert r.exit_code != 0 and "No staging console was kept." in r.stderr
