"""Certification of an image read from a presigned HTTPS URL of a real S3 endpoint (the publisher's VersityGW of
``deploy/dev/stack.py with-infra``, TLS through its dev CA): read once, hashed, certified; an expired signature
is an unreadable image whose message carries no signature."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from offerflow_certification import bootstrap, handlers
from offerflow_certification.adapters.source import ImageIntake
from offerflow_certification.adapters.store import MemoryReportStore
from offerflow_certification.settings import Settings
from offerflow_contract import codec
from offerflow_contract.envelope import wrap
from offerflow_contract.events import CertificationFailed, CertificationPassed, OfferSnapshot, ValidationPassed
from offerflow_shared import service
from offerflow_shared.egress_policy import EgressPolicy, parse_endpoints
from offerflow_shared.outbox import MemorySink
from offerflow_shared.runtime import Incoming
from offerflow_shared.settings import CommonSettings
from offerflow_shared.sources import UrlDiskSource
from tests import objectstores
from tests.images.builder import build_linux_vhd
from tests.offers.publisher_storage import upload_presigned

pytestmark = pytest.mark.integration


def intake(spool: Path) -> ImageIntake:
    """The service's own composition (bootstrap.build_source) with the run's CA as OFFERFLOW_TRUSTED_CA_FILE."""
    stores = objectstores.load()
    settings = Settings(spool_dir=spool, common=CommonSettings(trusted_ca_file=Path(stores.ca_file),
                                                               egress_allowed_endpoints=_publisher_endpoint()))
    built = bootstrap.build_source(settings)
    assert isinstance(built, ImageIntake)
    return built


def _publisher_endpoint() -> frozenset[str]:
    """The publisher store's host:port, named as the dev stack names it (it is on 127.0.0.1)."""
    url = urlsplit(objectstores.load().publisher.endpoint_url)
    return frozenset({f"{url.hostname}:{url.port}"})


async def certify(source: ImageIntake, url: str) -> list[object]:
    sink = MemorySink()
    d = service.dispatcher(bootstrap.SPEC, handlers.HANDLERS, handlers.Deps(source, MemoryReportStore()), sink)
    definition = {"plans": [{"planId": "std", "microsoft-azure-corevm.vmImagesPublicAzure": {
        "1.0.0": {"osVhdUrl": url, "lunVhdDetails": []}}}]}
    env = wrap(ValidationPassed(offer=OfferSnapshot(offer_version=1, definition=definition,
                                                    notification_emails=["a@b.example"])),
               offer_id="o", publisher_id="p", run_id="r", producer="validation")
    await d.process(Incoming("offerflow.validation", 0, 0, b"o", codec.encode(env), []))
    return list(sink.events())


async def test_an_image_behind_a_presigned_https_url_is_read_once_and_certified(tmp_path: Path) -> None:
    publisher = dataclasses.asdict(objectstores.load().publisher)
    image = build_linux_vhd(tmp_path / "os.vhd")
    url = await asyncio.to_thread(upload_presigned, publisher, image, "it/presigned/os.vhd")
    assert url.startswith("https://") and "X-Amz-Signature=" in url
    spool = tmp_path / "spool"
    spool.mkdir()
    source = intake(spool)
    events = await certify(source, url)
    passed = events[-1]
    assert isinstance(passed, CertificationPassed), passed
    size, sha = image.stat().st_size, hashlib.sha256(image.read_bytes()).hexdigest()
    assert (passed.disks[0].sha256, passed.disks[0].size_bytes, passed.reports[0].test_result) == (sha, size, "Pass")
    disks = source.source
    assert isinstance(disks, UrlDiskSource)
    assert (disks.counter.opens, disks.counter.bytes_read) == (1, size)  # one streamed read, no second fetch
    assert not any(spool.iterdir())  # the spool file is removed after the tests


async def test_an_expired_signature_is_an_unreadable_image_without_the_signature(tmp_path: Path) -> None:
    publisher = dataclasses.asdict(objectstores.load().publisher)
    image = tmp_path / "small.vhd"
    image.write_bytes(b"\0" * 4096)
    url = await asyncio.to_thread(upload_presigned, publisher, image, "it/presigned/expired.vhd", expires_in=1)
    await asyncio.sleep(2.5)
    failed = (await certify(intake(tmp_path), url))[-1]
    assert isinstance(failed, CertificationFailed)
    message = failed.reports[0].tests[0].actual_value
    assert "HTTP 403" in message, message
    signature = url.split("X-Amz-Signature=", 1)[1]
    assert signature not in message and "X-Amz" not in message


async def test_without_the_dev_ca_the_endpoint_is_not_trusted(tmp_path: Path) -> None:
    publisher = dataclasses.asdict(objectstores.load().publisher)
    image = tmp_path / "small.vhd"
    image.write_bytes(b"\0" * 4096)
    url = await asyncio.to_thread(upload_presigned, publisher, image, "it/presigned/untrusted.vhd")
    named = EgressPolicy(allowed=parse_endpoints(_publisher_endpoint()))
    untrusted = ImageIntake(UrlDiskSource(max_bytes=1 << 20, policy=named), spool_dir=tmp_path)
    failed = (await certify(untrusted, url))[-1]
    assert isinstance(failed, CertificationFailed)
    assert "could not be fetched" in failed.reports[0].tests[0].actual_value  # never which error it was
