"""The offers API against the real stack, runs: publish, operations, slots and versions, go live, problems
reported at once, fields fixed once live, support requests and certification reports."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.client import Api, V, offer_doc, unique

pytestmark = pytest.mark.e2e


def test_publish_validates_emails_and_answers_202_with_the_operation(api: Api, image: Path) -> None:
    offer = unique("emails")
    api.put(offer, offer_doc(image))
    for body in ({}, {"metadata": {}}, {"metadata": {"notification-emails": "not-an-address"}}):
        r = api.http.post(api.offer_url(offer, "/publish"), params=V, json=body)
        assert r.status_code == 400, body
        assert "error" in r.json()
    r = api.publish(offer, "a@x.example,b@y.example")
    assert r.status_code == 202
    location = r.headers["Location"]
    op = api.http.get(location)
    assert op.status_code == 200 and op.json()["id"] in location
    assert api.http.post(api.offer_url("never-created", "/publish"), params=V,
                         json={"metadata": {"notification-emails": "a@x.example"}}).status_code == 404


def test_parallel_publishes_start_exactly_one_operation(api: Api, image: Path) -> None:
    offer = unique("parallel")
    api.put(offer, offer_doc(image))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(lambda _: Api(str(api.http.base_url), api.http.headers["Authorization"][7:])
                                .publish(offer).status_code, range(8)))
    assert codes == [202] + [409] * 7
    running = api.http.get(api.offer_url(offer, "/submissions"), params={**V, "status": "running"}).json()
    assert len(running) <= 1
    refused = api.publish(offer)
    assert refused.status_code == 409
    err = refused.json()["error"]
    assert err["code"] == "OperationInProgress" and err["retryable"] is True
    assert api.wait_status(offer, lambda d: d["status"] in ("waitingForPublisherReview", "failed"))
    ops = api.http.get(api.offer_url(offer, "/submissions"), params=V).json()
    assert len(ops) == 1


def test_versions_slots_history_and_submissions(api: Api, image: Path) -> None:
    offer = unique("slots")
    api.put(offer, offer_doc(image))
    for slot in ("Preview", "Production"):
        assert api.http.get(api.offer_url(offer, f"/slot/{slot}"), params=V).status_code == 404
    assert api.http.get(api.offer_url(offer, "/slot/Draft"), params=V).status_code == 200
    assert api.http.get(api.offer_url(offer, "/slot/Nope"), params=V).status_code == 400
    api.publish(offer)
    doc = api.wait_status(offer, lambda d: d["status"] == "waitingForPublisherReview")
    version = doc["offerVersion"]
    preview = api.http.get(api.offer_url(offer, "/slot/Preview"), params=V)
    assert preview.status_code == 200 and preview.json()["version"] == version
    assert api.http.get(api.offer_url(offer, "/slot/Production"), params=V).status_code == 404
    assert api.http.get(api.offer_url(offer, f"/versions/{version}"), params=V).status_code == 200
    assert api.http.get(api.offer_url(offer, "/versions/999"), params=V).status_code == 404
    assert api.post(offer, "golive").status_code == 202
    api.wait_status(offer, lambda d: d["status"] == "succeeded")
    assert api.http.get(api.offer_url(offer, "/slot/Production"), params=V).status_code == 200
    history = api.http.get(api.offer_url(offer, "/history"), params=V).json()
    actions = [h["action"] for h in history if h["kind"] == "command"]
    assert actions[:3] == ["create", "publish", "golive"]
    events = {h["action"] for h in history if h["kind"] == "event"}
    assert {"offer.publish_requested", "offer.preview_ready", "offer.went_live"} <= events
    subs = api.http.get(api.offer_url(offer, "/submissions"), params=V).json()
    assert subs[0]["submissionState"] == "succeeded"
    assert api.http.get(api.offer_url(offer, "/submissions"), params={**V, "status": "running"}).json() == []


def test_add_version_is_idempotent(api: Api, image: Path, tmp_path: Path) -> None:
    offer = unique("addver")
    api.put(offer, offer_doc(image))
    url = api.offer_url(offer, "/plans/standard/versions/1.0.1")
    body: dict[str, Any] = {"osVhdUrl": image.as_uri(), "lunVhdDetails": []}
    first = api.http.put(url, params=V, json=body)
    assert first.status_code == 201
    again = api.http.put(url, params=V, json=body)
    assert again.status_code == 200 and again.headers["ETag"] == first.headers["ETag"]
    conflict = api.http.put(url, params=V, json={**body, "osVhdUrl": (tmp_path / "other.vhd").as_uri()})
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "VersionExists"
    plan = api.http.get(api.offer_url(offer), params=V).json()["definition"]["plans"][0]
    assert set(plan["microsoft-azure-corevm.vmImagesPublicAzure"]) == {"1.0.0", "1.0.1"}
    assert api.http.put(api.offer_url(offer, "/plans/nope/versions/1.0.0"), params=V, json=body).status_code == 404


def test_a_broken_offer_reports_every_problem_at_once(api: Api, image: Path) -> None:
    from datetime import UTC, datetime

    from tests.offers.factory import broken_offer, publisher_dir

    doc, expected = broken_offer(image.as_uri(), publisher_dir("e2e", image.parent) / "broken-assets",
                                 now=datetime.now(UTC))
    r = api.put(unique("broken"), doc)
    assert r.status_code == 400  # formats are refused on write, all at once
    refused = {(d["target"], d["code"]) for d in r.json()["error"]["details"]}
    assert refused and refused <= {("/definition" + f, c) for f, c in expected}

    # A draft may be incomplete; publishing it reports every missing piece at once, next to its field.
    m = "microsoft-azure-marketplace."
    draft = offer_doc(image)
    offer_fields = draft["definition"]["offer"]
    for key in ("title", "summary", "privacyURL"):
        del offer_fields[m + key]
    offer_fields[m + "allowedSubscriptions"] = []
    expected_now = {(f"/offer/{m}title", "required"), (f"/offer/{m}summary", "required"),
                    (f"/offer/{m}privacyURL", "required"), (f"/offer/{m}allowedSubscriptions", "too_few")}
    offer = unique("incomplete")
    assert api.put(offer, draft).status_code == 201
    problems = api.http.get(api.offer_url(offer, "/validation"), params=V).json()["problems"]
    assert {("/definition" + f, c) for f, c in expected_now} <= {(p["field"], p["code"]) for p in problems}
    api.publish(offer)
    status = api.wait_status(offer, lambda d: d["status"] == "failed")
    step = next(s for s in status["steps"] if s["id"] == "displaydummycertify")
    assert step["status"] == "failed"
    assert {(msg.get("field"), msg.get("code")) for msg in step["messages"]} >= expected_now


def test_fields_fixed_once_live_are_refused_with_the_field_named(api: Api, image: Path) -> None:
    offer = unique("frozen")
    doc = offer_doc(image)
    api.put(offer, doc)
    api.publish(offer)
    api.wait_status(offer, lambda d: d["status"] == "waitingForPublisherReview")
    api.post(offer, "golive")
    api.wait_status(offer, lambda d: d["status"] == "succeeded")
    changed = api.http.get(api.offer_url(offer), params=V).json()
    changed["definition"]["plans"][0]["planId"] = "renamed"
    r = api.put(offer, changed)
    assert r.status_code == 400 and r.json()["error"]["code"] == "FieldFixedOnceLive"
    assert any("plan" in d["target"] for d in r.json()["error"]["details"])
    history = api.http.get(api.offer_url(offer, "/history"), params=V).json()
    assert any(h["kind"] == "command" and h["outcome"].startswith("refused") for h in history)


def test_support_request_and_certification_report(api: Api, tmp_path: Path) -> None:
    from tests.images.builder import build_variant

    offer = unique("support")
    api.put(offer, offer_doc(build_variant(tmp_path / "dyn.vhd", "dynamic")))
    op = api.publish(offer).headers["Location"]
    status = api.wait_status(offer, lambda d: d["status"] == "failed")
    report = api.http.get(op.split("?")[0] + "/certification", params=V)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["TestResult"] == "Fail"
    tests = body["reports"][0]["Tests"]
    assert any(t["Result"] == "Failed" for t in tests)
    assert {"TestID", "TestCaseName", "Description", "Result", "ActualValue", "RequiredValue"} <= set(tests[0])
    r = api.http.post(api.offer_url(offer, "/support"), params=V,
                      json={"title": "Certification fails", "description": "Please help"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["step"] == "displaycertify" and created["runId"] == status["runId"] and created["messages"]
