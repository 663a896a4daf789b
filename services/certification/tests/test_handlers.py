from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from offerflow_certification import bootstrap, handlers
from offerflow_certification.adapters.source import ImageIntake
from offerflow_certification.adapters.store import MemoryReportStore
from offerflow_certification.rules import APPROVED_BASE_KEY
from offerflow_contract import codec
from offerflow_contract.envelope import wrap
from offerflow_contract.events import (
    CertificationFailed,
    CertificationPassed,
    CertificationProgressed,
    OfferSnapshot,
    ValidationPassed,
)
from offerflow_shared import service
from offerflow_shared.outbox import MemorySink
from offerflow_shared.runtime import Incoming
from offerflow_shared.sources import UrlDiskSource
from tests.images.builder import build_linux_vhd, build_variant
from tests.images.os_variants import build_os_variant

POINTER = "/plans/0/microsoft-azure-corevm.vmImagesPublicAzure/1.0.0/osVhdUrl"


def definition(url: str, data: str | None = None, **plan: Any) -> dict[str, Any]:
    luns = [{"lun": 0, "lunVhdUrl": data}] if data else []
    return {"plans": [{"planId": "std", **plan, "microsoft-azure-corevm.vmImagesPublicAzure": {
        "1.0.0": {"osVhdUrl": url, "lunVhdDetails": luns}}}]}


async def run(url: str, *, store: MemoryReportStore | None = None, run_id: str = "r", data: str | None = None,
              publisher: str = "p", offer: str = "o", **plan: Any) -> MemorySink:
    sink = MemorySink()
    source = ImageIntake(UrlDiskSource(max_bytes=10 * 1024**3, chunk_bytes=1 << 20, local_files=True),
                         chunk_bytes=1 << 20)
    d = service.dispatcher(bootstrap.SPEC, handlers.HANDLERS, handlers.Deps(source, store or MemoryReportStore()),
                           sink)
    env = wrap(ValidationPassed(offer=OfferSnapshot(offer_version=1, definition=definition(url, data, **plan),
                                                    notification_emails=["a@b.example"])),
               offer_id=offer, publisher_id=publisher, run_id=run_id, producer="validation")
    await d.process(Incoming("offerflow.validation", 0, 0, offer.encode(), codec.encode(env), []))
    return sink


async def test_a_compliant_image_is_certified_with_its_checksum_and_report(tmp_path: Path) -> None:
    image = build_linux_vhd(tmp_path / "ok.vhd")
    events = (await run(image.as_uri())).events()
    assert [e.event_type for e in events] == ["certification.started"] + ["certification.progressed"] * 3 + [
        "certification.passed"]
    assert [e.percentage for e in events if isinstance(e, CertificationProgressed)] == [33, 66, 99]
    passed = events[-1]
    assert isinstance(passed, CertificationPassed)
    sha = hashlib.sha256(image.read_bytes()).hexdigest()
    assert passed.disks[0].sha256 == sha
    (report,) = passed.reports
    assert (report.sha256, report.test_result, report.os_name) == (sha, "Pass", "Ubuntu 22.04.4 LTS")
    assert report.kernel_version == "5.15.0-1051-azure" and report.reused_from_run is None
    assert len(report.tests) > 20 and {t.result for t in report.tests} == {"Passed"}
    assert passed.warnings == []


async def test_a_dynamic_disk_fails_naming_the_test_and_the_field(tmp_path: Path) -> None:
    image = build_variant(tmp_path / "dyn.vhd", "dynamic")
    failed = (await run(image.as_uri())).events()[-1]
    assert isinstance(failed, CertificationFailed)
    assert [r.code for r in failed.reasons if r.level == "error"] == ["vhd.disk_type"]
    assert failed.reasons[0].field == POINTER
    assert "VHD Disk Type failed" in failed.reasons[0].message and "fixed" in failed.reasons[0].message
    assert failed.reports[0].test_result == "Fail"


async def test_os_test_failures_and_warnings_become_messages(tmp_path: Path) -> None:
    image = build_linux_vhd(tmp_path / "w.vhd", tree_overrides={
        "/etc/waagent.conf": b"AutoUpdate.Enabled=n\n", "/root/.bash_history": b"ls\n"})
    failed = (await run(image.as_uri())).events()[-1]
    assert isinstance(failed, CertificationFailed)
    assert [(r.code, r.level) for r in failed.reasons] == [("linux.auto_update", "error"),
                                                           ("linux.bash_history", "warning")]


async def test_warnings_ride_on_a_pass(tmp_path: Path) -> None:
    image = build_linux_vhd(tmp_path / "w.vhd", tree_overrides={"/root/.bash_history": b"ls\n"})
    passed = (await run(image.as_uri())).events()[-1]
    assert isinstance(passed, CertificationPassed)
    assert [(w.code, w.level) for w in passed.warnings] == [("linux.bash_history", "warning")]


async def test_approved_base_flag_on_the_plan_skips_the_first_mib_rule(tmp_path: Path) -> None:
    image = build_os_variant(tmp_path / "g.vhd", "first-mib-data")
    assert isinstance((await run(image.as_uri())).events()[-1], CertificationFailed)
    passed = (await run(image.as_uri(), **{APPROVED_BASE_KEY: True})).events()[-1]
    assert isinstance(passed, CertificationPassed)


async def test_a_data_disk_is_certified_as_data(tmp_path: Path) -> None:
    os_disk = build_linux_vhd(tmp_path / "os.vhd")
    passed = (await run(os_disk.as_uri(), data=os_disk.as_uri())).events()[-1]
    assert isinstance(passed, CertificationPassed)
    assert [r.disk for r in passed.reports] == ["os", "lun0"]
    assert not any(t.test_id.startswith("linux.") for t in passed.reports[1].tests)


async def test_an_image_certified_before_reuses_its_report_visibly(tmp_path: Path) -> None:
    store = MemoryReportStore()
    image = build_linux_vhd(tmp_path / "ok.vhd")
    first = (await run(image.as_uri(), store=store, run_id="run-1")).events()[-1]
    again = await run(image.as_uri(), store=store, run_id="run-1")  # redelivery: tested again, not "reused"
    assert again.events()[-1] == first
    second = (await run(image.as_uri(), store=store, run_id="run-2")).events()
    passed = second[-1]
    assert isinstance(passed, CertificationPassed)
    assert passed.reports[0].reused_from_run == "run-1"
    assert passed.reports[0].tests == first.reports[0].tests  # type: ignore[attr-defined]
    assert any(isinstance(e, CertificationProgressed) and "Reused report of run run-1" in e.message for e in second)
    assert ("run-2", "std", "1.0.0", "os") in store.runs and len(store.reusable) == 1


async def test_another_publishers_report_of_the_same_bytes_is_never_reused_nor_named(tmp_path: Path) -> None:
    store = MemoryReportStore()
    image = build_linux_vhd(tmp_path / "ok.vhd")
    mine = (await run(image.as_uri(), store=store, run_id="run-of-a", publisher="pub-a", offer="offer-a")).events()
    assert isinstance(mine[-1], CertificationPassed) and mine[-1].reports[0].reused_from_run is None
    # Publisher B publishes the very same bytes (same SHA-256, certifier and profile): certified afresh.
    theirs = (await run(image.as_uri(), store=store, run_id="run-of-b", publisher="pub-b",
                        offer="offer-b")).events()
    passed = theirs[-1]
    assert isinstance(passed, CertificationPassed)
    assert passed.reports[0].reused_from_run is None
    assert passed.reports[0].sha256 == mine[-1].reports[0].sha256
    assert [e.percentage for e in theirs if isinstance(e, CertificationProgressed)] == [33, 66, 99]
    wire = b"".join(codec.encode(wrap(e, offer_id="offer-b", publisher_id="pub-b", run_id="run-of-b",
                                      producer="certification")) for e in theirs)
    for fact in (b"run-of-a", b"pub-a", b"offer-a", b"Reused", b"reused from"):
        assert fact not in wire, fact
    # Each publisher's reports are reusable for that publisher alone; A's own republish still reuses A's.
    assert len(store.reusable) == 2
    again = (await run(image.as_uri(), store=store, run_id="run-of-a-2", publisher="pub-a",
                       offer="offer-a")).events()[-1]
    assert isinstance(again, CertificationPassed) and again.reports[0].reused_from_run == "run-of-a"


async def test_a_changed_image_is_tested_again(tmp_path: Path) -> None:
    store = MemoryReportStore()
    image = build_linux_vhd(tmp_path / "ok.vhd")
    await run(image.as_uri(), store=store, run_id="run-1")
    build_linux_vhd(image, tree_overrides={"/etc/waagent.conf": b"AutoUpdate.Enabled=n\n"})
    failed = (await run(image.as_uri(), store=store, run_id="run-2")).events()[-1]
    assert isinstance(failed, CertificationFailed)
    assert failed.reports[0].reused_from_run is None


async def test_a_missing_file_or_other_scheme_fails_clearly(tmp_path: Path) -> None:
    for url in ((tmp_path / "absent.vhd").as_uri(), "ftp://host/x.vhd"):
        failed = (await run(url)).events()[-1]
        assert isinstance(failed, CertificationFailed)
        assert failed.reasons[0].code == "image.readable"
        assert failed.reports[0].sha256 is None
