from __future__ import annotations

from pathlib import Path
from typing import Any

from offerflow_certification.adapters.source import FileDiskSource
from offerflow_certification.handlers import build_handlers
from offerflow_shared import codec
from offerflow_shared.envelope import wrap
from offerflow_shared.events import CertificationFailed, CertificationPassed, OfferSnapshot, ValidationPassed
from offerflow_shared.runtime import Dispatcher, Incoming, MemorySink

from tests.images.builder import build_linux_vhd, build_variant


def definition(url: str) -> dict[str, Any]:
    return {"plans": [{"planId": "std", "microsoft-azure-corevm.vmImagesPublicAzure": {
        "1.0.0": {"osVhdUrl": url, "lunVhdDetails": []}}}]}


async def run(url: str) -> MemorySink:
    sink = MemorySink()
    source = FileDiskSource(max_bytes=10 * 1024**3, chunk_bytes=1 << 20)
    d = Dispatcher(service="certification", out_topic="offerflow.certification",
                   handlers=build_handlers(source), sink=sink)
    env = wrap(ValidationPassed(offer=OfferSnapshot(offer_version=1, definition=definition(url),
                                                    notification_emails=["a@b.example"])),
               offer_id="o", publisher_id="p", run_id="r", producer="validation")
    await d.process(Incoming("offerflow.validation", 0, 0, b"o", codec.encode(env), []))
    return sink


async def test_a_compliant_image_is_certified_with_its_checksum(tmp_path: Path) -> None:
    import hashlib

    image = build_linux_vhd(tmp_path / "ok.vhd")
    events = (await run(image.as_uri())).events()
    assert [e.event_type for e in events] == ["certification.started", "certification.progressed",
                                              "certification.passed"]
    passed = events[-1]
    assert isinstance(passed, CertificationPassed)
    assert passed.disks[0].sha256 == hashlib.sha256(image.read_bytes()).hexdigest()


async def test_a_dynamic_disk_fails_naming_the_test_and_the_field(tmp_path: Path) -> None:
    image = build_variant(tmp_path / "dyn.vhd", "dynamic")
    failed = (await run(image.as_uri())).events()[-1]
    assert isinstance(failed, CertificationFailed)
    assert [r.code for r in failed.reasons] == ["vhd.disk_type"]
    assert failed.reasons[0].field == "/plans/0/microsoft-azure-corevm.vmImagesPublicAzure/1.0.0/osVhdUrl"


async def test_a_missing_file_or_other_scheme_fails_clearly(tmp_path: Path) -> None:
    for url in ((tmp_path / "absent.vhd").as_uri(), "ftp://host/x.vhd"):
        failed = (await run(url)).events()[-1]
        assert isinstance(failed, CertificationFailed)
        assert failed.reasons[0].code == "image.unreadable"
