"""Staging outcomes put on ``offerflow.staging`` for a real run, as the staging service writes them.

A run is published through the API and goes through validation, certification and provisioning for real; the
staging events of that run are then produced on the staging topic with the contract's codec, so the projection,
the notifier and the API read them exactly as they read the staging service's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from stack import Stack

from offerflow_contract import codec, topics
from offerflow_contract.envelope import Event, wrap
from offerflow_contract.events import (
    ProvisioningPassed,
    Reason,
    StagingCheck,
    StagingFailed,
    StagingPassed,
    StagingProgressed,
    StagingReport,
    StagingStarted,
)
from tests.e2e.client import Api, offer_doc

# What a VM prints is data: markup, an ANSI colour, a quote and an ampersand must stay characters everywhere.
HOSTILE_LINE = '<img src=x onerror="alert(1)"> \x1b[31mKernel panic\x1b[0m - not syncing: "VFS" & <b>root</b>'
CONSOLE = "SeaBIOS (version 1.16)\nBooting from Hard Disk...\nLinux version 6.1.0\n" + "\n".join(
    f"[{i:>4}.000000] probing device {i}" for i in range(60)) + "\n" + HOSTILE_LINE + "\n"


@contextlib.contextmanager
def staging_paused(stack: Stack) -> Iterator[None]:
    """The staging worker stopped while tests put their own staging outcomes on the topic: otherwise the worker's
    real outcome for the same run (these test images do not boot) would race the seeded one. It is restarted
    afterwards and then stages the runs it missed, which the tests no longer read."""
    try:
        stack.kill("staging", signal.SIGTERM)
    except subprocess.TimeoutExpired:
        # A loaded machine can hold a worker's stop past the wait (it kills its QEMU first): it must not outlive
        # the pause, and the restart below must happen whatever this did.
        stack.kill("staging")
    try:
        yield
    finally:
        stack.start("staging")
        stack.wait_ready()


def published_to_staging(api: Api, offer: str, image: Path, emails: str) -> str:
    """Publishes ``offer`` and waits until provisioning passed; returns the run id."""
    assert api.put(offer, offer_doc(image)).status_code in (200, 201)
    assert api.publish(offer, emails).status_code == 202
    done = api.wait_status(offer, lambda d: d["status"] == "failed" or any(
        s["id"] == "displayprovision" and s["status"] == "complete" for s in d["steps"]), timeout=240)
    assert done["status"] != "failed", done
    return str(done["runId"])


def failed_report(plan: str, console: str = CONSOLE) -> StagingReport:
    checks = [
        StagingCheck(check_id="boot-loader", name="Boot loader ran", result="Passed", actual="Booting from Hard Disk",
                     required="the firmware hands over to a boot loader", seconds=0.8),
        StagingCheck(check_id="kernel", name="Kernel started", result="Passed", actual="Linux version 6.1.0",
                     required="a kernel banner on the console", seconds=2.4),
        StagingCheck(check_id="root-fs", name="Root file system mounted", result="Failed",
                     actual="Kernel panic - not syncing: VFS", required="/ mounted within 120 s"),
        StagingCheck(check_id="ssh", name="SSH answered", result="NotRun", actual="",
                     required="an SSH banner on port 22"),
    ]
    lines = console.splitlines()
    return StagingReport(plan_id=plan, image_version="1.0.0", region="westeurope", location=f"/staging/{plan}/os",
                         accelerator="tcg", result="Fail", first_missing="root-fs", seconds=131.5,
                         summary="the kernel started; the root file system was not mounted", checks=checks,
                         console=console, console_tail=lines[-5:])


def passed_report(plan: str) -> StagingReport:
    checks = [StagingCheck(check_id="kernel", name="Kernel started", result="Passed", actual="Linux version 6.1.0",
                           required="a kernel banner on the console", seconds=2.4),
              StagingCheck(check_id="ssh", name="SSH answered", result="Passed", actual="SSH-2.0-OpenSSH_9.2",
                           required="an SSH banner on port 22", seconds=38.2)]
    return StagingReport(plan_id=plan, image_version="1.0.0", region="westeurope", location=f"/staging/{plan}/os",
                         accelerator="tcg", result="Pass", seconds=41.0,
                         summary="booted to multi-user in 38 s; SSH answered; logged in as the provisioned user",
                         checks=checks, console="login: \n")


def staging_failure(emails: list[str], *reports: StagingReport) -> StagingFailed:
    return StagingFailed(summary=f"Plan {reports[0].plan_id} did not boot: the root file system was not mounted.",
                         reasons=[Reason(code="root-fs", message="The root file system was not mounted.")],
                         notification_emails=emails, reports=list(reports))


def staging_pass(stack: Stack, run_id: str, reports: list[StagingReport]) -> StagingPassed:
    """What the staging service emits after booting the run's replicas: provisioning's offer, disks and replicas
    carried forward (packaging goes on from them), with the reports."""
    from tests.security.kafka_records import read_records

    found = [env for r in read_records(stack.kafka_bootstrap, [topics.PROVISIONING.name], seconds=60)
             if (env := codec.decode(r.value)).run_id == run_id and env.event_type == ProvisioningPassed.event_type]
    assert found, f"no provisioning.passed for run {run_id}"
    prov = found[-1].event()
    assert isinstance(prov, ProvisioningPassed)
    return StagingPassed(offer=prov.offer, disks=prov.disks, replicas=prov.replicas, reports=reports)


def produce_staging(stack: Stack, api: Api, offer: str, run_id: str, outcome: Event) -> None:
    """Puts started, progressed and ``outcome`` for the run on the staging topic, a second apart."""
    now = datetime.now(UTC)
    events: list[Event] = [StagingStarted(message="Booting one replica per plan"),
                           StagingProgressed(percentage=50, message="kernel started"), outcome]

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        try:
            for i, event in enumerate(events):
                env = wrap(event, offer_id=offer, publisher_id=api.publisher, run_id=run_id, producer="staging",
                           occurred_at=now + timedelta(seconds=i))
                await producer.send_and_wait(topics.STAGING.name, codec.encode(env), key=codec.key_of(env),
                                             headers=list(codec.headers_for(env)))
        finally:
            await producer.stop()

    # In a thread of its own: a browser test's thread already runs Playwright's event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, send()).result()


def staging_step(doc: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in doc["steps"] if s["id"] == "displaystaging")
