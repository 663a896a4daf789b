"""The staging step through the real stack: a run published for real, its staging outcome on the staging topic;
the status, the staging report and console routes, their isolation, and the failure mail."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from stack import Stack, create_publisher

from tests.api.staging_seed import (
    CONSOLE,
    HOSTILE_LINE,
    failed_report,
    passed_report,
    produce_staging,
    published_to_staging,
    staging_failure,
    staging_pass,
    staging_paused,
    staging_step,
)
from tests.e2e.client import Api, V, offer_doc, unique

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def _no_real_staging(stack: Stack) -> Iterator[None]:
    with staging_paused(stack):
        yield


def staging_url(api: Api, offer: str, run_id: str, suffix: str = "") -> str:
    return api.offer_url(offer, f"/operations/{run_id}/staging{suffix}")


def wait_staging(api: Api, offer: str, status: str) -> dict[str, object]:
    return api.wait_status(offer, lambda d: staging_step(d)["status"] == status and "stagingReports" in
                           staging_step(d), timeout=90)


def mail_to(stack: Stack, address: str, subject: str, timeout: float = 60) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(stack.mail_dir.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            if address in str(msg.get("To") or "") and str(msg.get("Subject") or "").startswith(subject):
                return msg
        time.sleep(0.3)
    raise AssertionError(f"no mail {subject!r} to {address}")


def test_a_failed_staging_shows_its_checks_serves_its_console_and_mails_the_publisher(
        stack: Stack, api: Api, image: Path) -> None:
    offer, owner = unique("staging-fail"), f"{unique('owner')}@e2e.example"
    run_id = published_to_staging(api, offer, image, owner)
    produce_staging(stack, api, offer, run_id, staging_failure(
        [owner], failed_report("standard"), failed_report("gen2", console="gen2 console\n")))

    doc = wait_staging(api, offer, "failed")
    # The run failed at staging (the current step is the last one that moved: later steps may have run when
    # packaging did not wait on staging yet).
    assert doc["status"] == "failed" and doc["messages"][0]["messageHtml"].startswith("Plan standard did not boot")
    step = staging_step(doc)
    # Its ETA: the default 30 minutes until this stack's runs have measured the step (the suites' images fail the
    # boot check from their first sector, in an instant), then the measured one.
    assert step["stepName"] == "Staging deployment" and 0 <= step["etaSeconds"] <= 1800
    plan = step["stagingReports"][0]
    assert (plan["planId"], plan["result"], plan["firstMissing"]) == ("standard", "Fail", "root-fs")
    assert [(c["checkId"], c["result"], c["seconds"]) for c in plan["checks"]][:3] == [
        ("boot-loader", "Passed", 0.8), ("kernel", "Passed", 2.4), ("root-fs", "Failed", None)]
    assert "probing device" not in str(doc)  # the status document never carries the console

    report = api.http.get(staging_url(api, offer, run_id), params=V)
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["runId"], body["TestResult"]) == (run_id, "Fail")
    assert [r["planId"] for r in body["reports"]] == ["standard", "gen2"]
    assert body["reports"][0]["checks"][2]["actual"] == "Kernel panic - not syncing: VFS"
    assert "probing device" not in report.text

    console = api.http.get(staging_url(api, offer, run_id, "/console"), params={**V, "plan": "standard"})
    assert console.status_code == 200 and console.headers["content-type"].startswith("text/plain")
    assert console.text == CONSOLE and console.headers["x-content-type-options"] == "nosniff"
    gen2 = api.http.get(staging_url(api, offer, run_id, "/console"), params={**V, "plan": "gen2"})
    assert gen2.text == "gen2 console\n"
    several = api.http.get(staging_url(api, offer, run_id, "/console"), params=V)
    assert several.status_code == 400 and several.json()["error"]["code"] == "PlanRequired"
    missing = api.http.get(staging_url(api, offer, run_id, "/console"), params={**V, "plan": "nope"})
    assert missing.status_code == 404

    # Another publisher sees nothing of it, through its own path or this one.
    other = Api(stack.api_url, create_publisher(stack, "staging-other"), publisher="staging-other")
    for url in (staging_url(api, offer, run_id), staging_url(api, offer, run_id, "/console")):
        theirs = other.http.get(url, params={**V, "plan": "standard"})
        assert theirs.status_code == 404 and "probing" not in theirs.text
        mine_as_them = other.http.get(url.replace("/publishers/e2e/", "/publishers/staging-other/"),
                                      params={**V, "plan": "standard"})
        assert mine_as_them.status_code == 404
    assert httpx.get(f"{stack.api_url}{staging_url(api, offer, run_id)}", params=V).status_code == 401

    msg = mail_to(stack, owner, "Staging deployment failed")
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    text_body, html_body = text.get_content(), html.get_content()
    assert "Plan standard" in text_body and "First milestone that did not happen: Root file system mounted" in text_body
    assert "required: / mounted within 120 s" in text_body and "offerflow stage IMAGE" in text_body
    assert "Kernel panic - not syncing" in text_body and "\x1b" not in text_body
    assert "&lt;img src=x" in html_body and "<img src=x" not in html_body
    assert f"/portal/#/offers/{offer}/status" in html_body


def test_a_passed_staging_reports_pass_and_serves_the_only_plans_console(stack: Stack, api: Api, image: Path) -> None:
    offer = unique("staging-pass")
    run_id = published_to_staging(api, offer, image, f"{unique('owner')}@e2e.example")
    produce_staging(stack, api, offer, run_id, staging_pass(stack, run_id, [passed_report("standard")]))

    step = staging_step(wait_staging(api, offer, "complete"))
    assert step["progressPercentage"] == 100 and step["stagingReports"][0]["result"] == "Pass"
    assert any("booted to multi-user in 38 s" in m["messageHtml"] for m in step["messages"])
    body = api.http.get(staging_url(api, offer, run_id), params=V).json()
    assert body["TestResult"] == "Pass" and body["reports"][0]["hasConsole"] is True
    console = api.http.get(staging_url(api, offer, run_id, "/console"), params=V)  # one plan: no plan= needed
    assert console.status_code == 200 and console.text == "login: \n"


def test_a_run_without_staging_yet_has_no_staging_report(api: Api, image: Path) -> None:
    offer = unique("staging-none")
    assert api.put(offer, offer_doc(image)).status_code == 201
    run_id = api.publish(offer).headers["Location"].split("?")[0].rsplit("/", 1)[-1]
    r = api.http.get(staging_url(api, offer, run_id), params=V)
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"
    assert HOSTILE_LINE not in r.text
