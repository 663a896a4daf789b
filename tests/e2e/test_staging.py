"""The one real boot of `make test`: an offer whose OS disk is a bootable Debian 12 goes through staging under QEMU.

Every other e2e offer carries an image without a boot loader, which the boot check refuses from its first sector
without starting a VM (the suites' stack does not enforce the check, so those runs go on). This test publishes a
disk that really boots and reads the staging report from the topic: every milestone seen, the console kept.
`make test-staging` boots the failing variants too (marker ``staging``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from stack import Stack

from offerflow_cli.ops_kafka import read_to_end
from offerflow_contract.codec import decode, encode, headers_for
from offerflow_contract.envelope import Event, wrap
from offerflow_contract.events import PublishCanceled, StagingFailed, StagingPassed, StagingProgressed
from tests import objectstores
from tests.e2e.client import Api, offer_doc, unique
from tests.images.errors import BuilderError

pytestmark = pytest.mark.e2e

# Certification reads the whole disk, provisioning copies it to eight regions, the boot itself takes about a
# minute under software emulation (more on a busy machine), queued behind other boots of the worker.
PIPELINE_SECONDS = 1800


@pytest.fixture(scope="module")
def bootable() -> Path:
    from tests.images.bootable import build_bootable

    try:
        return build_bootable("good")
    except BuilderError as exc:
        if os.geteuid() != 0:  # the image is built with debootstrap and loop devices; cached once built
            pytest.skip(f"the bootable test image is not cached and cannot be built here: {exc}")
        raise


def test_a_bootable_image_passes_staging_with_every_milestone(stack: Stack, e2e_token: str, bootable: Path) -> None:
    api = Api(stack.api_url, e2e_token)
    offer = unique("boots")
    assert api.put(offer, offer_doc(bootable)).status_code == 201
    assert api.publish(offer, f"{offer}@e2e.example").status_code == 202
    doc = api.wait_status(offer, lambda d: d["status"] in ("waitingForPublisherReview", "failed"),
                          timeout=PIPELINE_SECONDS)
    steps = {s["id"]: s for s in doc["steps"]}
    assert doc["status"] == "waitingForPublisherReview", steps
    assert steps["displaystaging"]["status"] == "complete", steps["displaystaging"]

    records = asyncio.run(read_to_end(stack.kafka_bootstrap, ["offerflow.staging"]))
    events = [decode(r.value).event() for r in records if r.key == offer.encode() and r.value is not None]
    passed = [e for e in events if isinstance(e, StagingPassed)]
    assert len(passed) == 1, [type(e).__name__ for e in events]
    (report,) = passed[0].reports  # the offer has one plan: its OS disk, from the first region of the map
    assert report.result == "Pass" and report.first_missing is None, report.summary
    assert [c.check_id for c in report.checks] == ["boot-loader", "kernel", "root-fs", "init", "ssh", "agent",
                                                   "login"]
    assert all(c.result in ("Passed", "Warning") for c in report.checks), [
        (c.check_id, c.result, c.actual) for c in report.checks]
    assert report.region == objectstores.load().regions[0].name  # the map's first region holds every replica
    assert "Linux version" in report.console and report.console_tail
    # Not enforced in the suites' stack: a passing boot must not need that, so no failure became a warning.
    assert not [w for w in passed[0].warnings if "not enforced" in w.message], passed[0].warnings


async def _wait_for(bootstrap: str, offer: str, pred: Callable[[Event], bool], within: float) -> list[Event]:
    """The offer's staging events once one of them matches ``pred``."""
    deadline = time.monotonic() + within
    while True:
        records = await read_to_end(bootstrap, ["offerflow.staging"])
        events = [decode(r.value).event() for r in records if r.key == offer.encode() and r.value is not None]
        if any(pred(e) for e in events) or time.monotonic() > deadline:
            return events
        await asyncio.sleep(1)


def _qemu_pidfiles(stack: Stack) -> list[Path]:
    return [p for p in (stack.run_dir / "staging" / "boots").glob("qemu-*-*.pid")
            if (pid := p.read_text().strip()).isdigit() and Path(f"/proc/{pid}").exists()]


@pytest.mark.staging
def test_the_end_of_a_run_stops_its_boot_at_once(stack: Stack, e2e_token: str, bootable: Path) -> None:
    """A second real boot (hence `make test-staging`): the run is canceled while its VM runs; QEMU is killed."""
    api = Api(stack.api_url, e2e_token)
    offer = unique("stopped")
    assert api.put(offer, offer_doc(bootable)).status_code == 201
    assert api.publish(offer, f"{offer}@e2e.example").status_code == 202

    def loader_seen(e: Event) -> bool:  # QEMU runs: the firmware found the boot loader
        return isinstance(e, StagingProgressed) and "boot-loader" in e.message.lower().replace(" ", "-")

    events = asyncio.run(_wait_for(stack.kafka_bootstrap, offer, loader_seen, PIPELINE_SECONDS))
    assert any(loader_seen(e) for e in events), [type(e).__name__ for e in events]
    assert _qemu_pidfiles(stack), "no VM is running"
    run_id = api.status(offer)["runId"]

    async def cancel() -> None:
        # What the status-api's command side writes at sign-off; here it arrives in the middle of the boot.
        env = wrap(PublishCanceled(notification_emails=[]), offer_id=offer, publisher_id="e2e", run_id=run_id,
                   producer="status-api")
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait("offerflow.publishing", encode(env), key=offer.encode(),
                                         headers=headers_for(env, None))
        finally:
            await producer.stop()

    asyncio.run(cancel())
    deadline = time.monotonic() + 30
    while _qemu_pidfiles(stack) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _qemu_pidfiles(stack), "the VM still runs after its run was canceled"
    time.sleep(5)
    events = asyncio.run(_wait_for(stack.kafka_bootstrap, offer, lambda e: False, 0))
    assert not [e for e in events if isinstance(e, StagingPassed | StagingFailed)], events


@pytest.fixture
def enforcing(stack: Stack) -> Iterator[Stack]:
    """The staging worker restarted with the check enforced (as `make up` and production run it), then back."""

    def restart(enforce: bool) -> None:
        stack.kill("staging", signal.SIGTERM)
        stack.staging_enforce = enforce
        stack.start("staging")
        stack.wait_ready()

    restart(True)
    try:
        yield stack
    finally:
        restart(False)


@pytest.mark.staging
@pytest.mark.parametrize(("variant", "first_missing", "console_says"), [
    ("no-init", "init", "/sbin/init"),
    ("bad-root", "root-fs", "does not exist"),
    ("no-bootloader", "boot-loader", None),  # refused from its first sector: no VM, so no console
])
def test_an_image_that_does_not_boot_fails_the_staging_step_with_its_console_and_a_mail(
        enforcing: Stack, e2e_token: str, variant: str, first_missing: str, console_says: str | None) -> None:
    from tests.e2e.test_links import wait_mails
    from tests.images.bootable import build_bootable

    stack = enforcing
    api = Api(stack.api_url, e2e_token)
    offer = unique(variant.replace("-", ""))
    owner = f"{offer}@e2e.example"
    assert api.put(offer, offer_doc(build_bootable(variant))).status_code == 201
    assert api.publish(offer, owner).status_code == 202
    doc = api.wait_status(offer, lambda d: d["status"] in ("waitingForPublisherReview", "failed"),
                          timeout=PIPELINE_SECONDS)
    steps = {s["id"]: s for s in doc["steps"]}
    assert doc["status"] == "failed" and steps["displaystaging"]["status"] == "failed", steps
    assert steps["displaypackage"]["status"] == "notStarted", steps

    events = asyncio.run(_wait_for(stack.kafka_bootstrap, offer, lambda e: isinstance(e, StagingFailed), 60))
    (failed,) = [e for e in events if isinstance(e, StagingFailed)]
    (report,) = failed.reports
    assert report.result == "Fail" and report.first_missing == first_missing, report.summary
    # The summary names the plan and the milestone it did not reach, in words ("did not reach the root file system").
    assert "plan standard" in failed.summary and "did not" in failed.summary, failed.summary
    if console_says is not None:
        assert any(console_says in line for line in report.console_tail), report.console_tail
        console = httpx.get(stack.api_url + api.offer_url(offer, f"/operations/{doc['runId']}/staging/console"),
                            params={"api-version": "2017-10-31"},
                            headers={"Authorization": f"Bearer {e2e_token}"}, timeout=30)
        assert console.status_code == 200 and console_says in console.text, console.status_code
    (mail,) = [m for m in wait_mails(stack, owner, "staging deployment failed", timeout=120)
               if "staging deployment failed" in str(m["Subject"]).lower()]
    text = mail.get_body(("plain",))
    assert text is not None and "offerflow stage" in text.get_content()
    if console_says is not None:
        assert console_says in text.get_content()
