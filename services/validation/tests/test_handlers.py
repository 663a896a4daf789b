from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from offerflow_contract import codec
from offerflow_contract.envelope import wrap
from offerflow_contract.events import OfferSnapshot, PublishRequested, ValidationFailed, ValidationPassed
from offerflow_shared import service
from offerflow_shared.outbox import MemorySink
from offerflow_shared.runtime import Incoming
from offerflow_validation import bootstrap, handlers
from offerflow_validation.adapters.artifacts import MemoryFetcher
from tests.offers import factory

M = "microsoft-azure-marketplace."
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def fetcher_for(doc: dict[str, Any]) -> MemoryFetcher:
    """The fake holds the bytes of every file:// artifact the document names."""
    found: dict[str, bytes] = {}
    for value in doc["definition"]["offer"].values():
        for url in value if isinstance(value, list) else [value]:
            if isinstance(url, str) and url.startswith("file://"):
                found[url] = Path(unquote(urlsplit(url).path)).read_bytes()
    return MemoryFetcher(found)


async def run(doc: dict[str, Any], fetcher: MemoryFetcher, sink: MemorySink | None = None,
              min_url_validity: timedelta = timedelta(hours=24)) -> MemorySink:
    sink = sink or MemorySink()
    d = service.dispatcher(bootstrap.SPEC, handlers.HANDLERS, handlers.Deps(fetcher, min_url_validity), sink)
    env = wrap(PublishRequested(offer=OfferSnapshot(offer_version=2, definition=doc["definition"],
                                                    notification_emails=["a@b.example"]), requested_by="p"),
               offer_id="demo", publisher_id="p", run_id="r1", producer="status-api", occurred_at=NOW)
    await d.process(Incoming("offerflow.publishing", 0, 0, b"demo", codec.encode(env), []))
    return sink


async def test_a_complete_offer_passes_forward_with_its_snapshot(tmp_path: Path) -> None:
    doc = factory.complete_offer("file:///tmp/os.vhd", tmp_path)
    fetcher = fetcher_for(doc)
    events = (await run(doc, fetcher)).events()
    assert [e.event_type for e in events] == ["validation.started", "validation.passed"]
    assert isinstance(events[1], ValidationPassed) and events[1].offer.offer_version == 2
    assert len(fetcher.fetched) == 7  # five logos and two screenshots, each measured


async def test_a_deliberately_broken_offer_fails_with_every_problem_at_once(tmp_path: Path) -> None:
    doc, expected = factory.broken_offer("file:///tmp/os.vhd", tmp_path, now=NOW)
    art_doc, art_expected = factory.broken_artifacts("file:///tmp/os.vhd", tmp_path / "art")
    doc["definition"]["offer"].update({k: v for k, v in art_doc["definition"]["offer"].items()
                                       if k.endswith("Logo") or k.endswith("screenshots")})
    fetcher = fetcher_for(doc)
    failed = (await run(doc, fetcher)).events()[-1]
    assert isinstance(failed, ValidationFailed)
    assert {(r.field, r.code) for r in failed.reasons} == expected | art_expected
    assert failed.notification_emails == ["a@b.example"]
    assert failed.summary.startswith(f"{len(expected | art_expected)} problems")


async def test_an_unreachable_logo_is_that_logos_problem(tmp_path: Path) -> None:
    doc = factory.complete_offer("file:///tmp/os.vhd", tmp_path)
    fetcher = fetcher_for(doc)
    del fetcher.artifacts[doc["definition"]["offer"][M + "smallLogo"]]
    failed = (await run(doc, fetcher)).events()[-1]
    assert isinstance(failed, ValidationFailed)
    assert [(r.field, r.code) for r in failed.reasons] == [(f"/offer/{M}smallLogo", "artifact_unreachable")]


async def test_warnings_do_not_fail_the_step_and_travel_with_the_pass(tmp_path: Path) -> None:
    doc = factory.complete_offer("file:///tmp/os.vhd", tmp_path)
    plan = doc["definition"]["plans"][0]
    plan["microsoft-azure-corevm.vmImagesPublicAzure"]["1.0.0"]["osVhdUrl"] = factory.sas_url(
        start="2024-05-01T11:00:00Z", now=NOW)
    passed = (await run(doc, fetcher_for(doc))).events()[-1]
    assert isinstance(passed, ValidationPassed)
    assert [w.code for w in passed.warnings] == ["sas_start_too_late"]


async def test_redelivery_emits_identical_events(tmp_path: Path) -> None:
    doc, _ = factory.broken_offer("file:///tmp/os.vhd", tmp_path, now=NOW)
    first = (await run(doc, fetcher_for(doc))).events()
    again = (await run(doc, fetcher_for(doc))).events()
    assert [e.model_dump() for e in first] == [e.model_dump() for e in again]


async def test_an_empty_offer_fails_without_fetching_anything() -> None:
    fetcher = MemoryFetcher()
    failed = (await run({"definition": {"offer": {}, "plans": []}}, fetcher)).events()[-1]
    assert isinstance(failed, ValidationFailed) and len(failed.reasons) == 20
    assert fetcher.fetched == []


async def test_a_presigned_disk_url_must_outlive_the_configured_minimum(tmp_path: Path) -> None:
    doc = factory.complete_offer("file:///tmp/os.vhd", tmp_path)
    doc["definition"]["plans"][0][factory.IMAGES]["1.0.0"]["osVhdUrl"] = factory.presigned_url(
        signed=NOW, expires_in=6 * 3600)
    failed = (await run(doc, fetcher_for(doc))).events()[-1]
    assert isinstance(failed, ValidationFailed)
    assert [r.code for r in failed.reasons] == ["disk_url_expires_too_soon"]
    assert "give a URL valid until at least 2024-05-02 12:00:00Z" in failed.summary
    passed = (await run(doc, fetcher_for(doc), min_url_validity=timedelta(hours=4))).events()[-1]
    assert isinstance(passed, ValidationPassed)
