"""One example of every event type; `make samples` stores the new ones in the contract package's samples/."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from offerflow_contract import events as ev
from offerflow_contract.envelope import Envelope, Event, wrap
from offerflow_contract.steps import StepId

SHA = "ab" * 32
SNAP = ev.OfferSnapshot(offer_version=2, definition={"displayText": "Demo", "offer": {}, "plans": []},
                        notification_emails=["owner@example.com"])
REASONS = [ev.Reason(code="required", message="Title is required.", field="/offer/title")]
DISK = ev.CertifiedDisk(plan_id="standard", image_version="1.0.0", disk="os", url="file:///tmp/os.vhd",
                        sha256=SHA, size_bytes=33554944)
REPLICA = ev.Replica(region="westeurope", plan_id="standard", image_version="1.0.0", disk="os",
                     location="/regions/westeurope/os.vhd", sha256=SHA)
EMAILS = ["owner@example.com"]
REPORT = ev.DiskReport(plan_id="standard", image_version="1.0.0", disk="os", url="file:///tmp/os.vhd", sha256=SHA,
                       size_bytes=33554944, certifier_version="1.1.0", test_result="Pass", tests=[
                           ev.TestOutcome(test_id="linux.bash_history", number=48, test_case_name="Bash History",
                                          description="cleared", result="Passed", actual_value="0 bytes",
                                          required_value="<= 1 KB")],
                       packages=ev.PackageInventory(format="dpkg", database="/var/lib/dpkg/status", total=2, packages=[
                           ev.InstalledPackage(name="bash", version="5.2.15-2+b2", source="bash",
                                               architecture="amd64"),
                           ev.InstalledPackage(name="libc6", version="2.36-9+deb12u4", source="glibc",
                                               architecture="amd64")]))
STAGING_PASS = ev.StagingReport(
    plan_id="standard", image_version="1.0.0", region="westeurope", location="/regions/westeurope/os.vhd",
    accelerator="tcg", result="Pass", seconds=41.5,
    summary="booted to multi-user in 38 s; SSH answered; logged in as the provisioned user",
    checks=[ev.StagingCheck(check_id="kernel", name="Kernel started", result="Passed", actual="Linux 6.1 at 2.1 s",
                            required="kernel banner on the console", seconds=2.1),
            ev.StagingCheck(check_id="ssh", name="SSH answered", result="Passed", actual="SSH-2.0-OpenSSH_9.2",
                            required="an SSH banner on port 22", seconds=38.0)],
    console="SeaBIOS\nBooting from Hard Disk...\nLinux version 6.1\nlogin:\n",
    console_tail=["Linux version 6.1", "login:"])
STAGING_FAIL = ev.StagingReport(
    plan_id="standard", image_version="1.0.0", region="westeurope", location="/regions/westeurope/os.vhd",
    accelerator="tcg", result="Fail", first_missing="root-fs", seconds=120.0,
    summary="the kernel started but the root file system was not mounted",
    checks=[ev.StagingCheck(check_id="kernel", name="Kernel started", result="Passed", actual="Linux 6.1 at 2.1 s",
                            required="kernel banner on the console", seconds=2.1),
            ev.StagingCheck(check_id="root-fs", name="Root file system mounted", result="Failed",
                            actual="Kernel panic - not syncing: VFS: Unable to mount root fs",
                            required="root file system mounted within 120 s")],
    console="Linux version 6.1\nKernel panic - not syncing: VFS: Unable to mount root fs\n",
    console_tail=["Kernel panic - not syncing: VFS: Unable to mount root fs"])

EXAMPLES: list[Event] = [
    ev.OfferDraftSaved(offer_type_id="microsoft-azure-virtualmachines", draft_version=3, etag='"e1"',
                       definition={"displayText": "Demo"}),
    ev.PublishRequested(offer=SNAP, requested_by="contoso"),
    ev.GoLiveRequested(offer_version=2, notification_emails=EMAILS, requested_by="contoso"),
    ev.CancelRequested(requested_by="contoso"),
    ev.PublishCanceled(notification_emails=EMAILS),
    ev.StepOverdue(step=StepId.PROVISIONING, running_seconds=7300, expected_seconds=3600),
    ev.StepTimedOut(step=StepId.PROVISIONING, limit_seconds=93600, summary="Provisioning ran past its limit",
                    reasons=[ev.Reason(code="step-timed-out", message="Stopped after 26 h.")],
                    notification_emails=EMAILS),
    ev.SupportRequestOpened(request_id="sr-1", step="displaycertify", title="Certification fails",
                            description="The VHD is fixed, yet the test says dynamic.",
                            messages=["Disk type failed"], contact_emails=EMAILS, requested_by="contoso"),
    ev.SupportRequestAnswered(request_id="sr-1", seq=2, title="Certification fails",
                              message="Convert the VHD to fixed size and publish again.", answered_by="support",
                              contact_emails=EMAILS),
    ev.SupportRequestReplied(request_id="sr-1", seq=3, title="Certification fails",
                             message="It is fixed size already.", replied_by="contoso"),
    ev.SupportRequestClosed(request_id="sr-1", seq=4, title="Certification fails", closed_by="contoso",
                            role="publisher", message="Solved, thanks.", contact_emails=EMAILS),
    ev.ValidationStarted(message="Checking"),
    ev.ValidationPassed(offer=SNAP),
    ev.ValidationFailed(summary="1 field missing", reasons=REASONS, notification_emails=EMAILS),
    ev.CertificationStarted(),
    ev.CertificationProgressed(percentage=50, message="1 of 2 disks tested"),
    ev.CertificationPassed(offer=SNAP, disks=[DISK], reports=[REPORT]),
    ev.CertificationFailed(summary="VHD not fixed", reasons=REASONS, notification_emails=EMAILS, reports=[REPORT]),
    ev.ProvisioningStarted(),
    ev.ProvisioningProgressed(percentage=25, message="westeurope: 2/8 regions done"),
    ev.ProvisioningPassed(offer=SNAP, disks=[DISK], replicas=[REPLICA]),
    ev.ProvisioningFailed(summary="checksum mismatch", reasons=REASONS, notification_emails=EMAILS),
    ev.StagingStarted(),
    ev.StagingProgressed(percentage=40, message="standard: kernel started"),
    ev.StagingPassed(offer=SNAP, disks=[DISK], replicas=[REPLICA], reports=[STAGING_PASS]),
    ev.StagingFailed(summary="standard: the root file system was not mounted", reasons=REASONS,
                     notification_emails=EMAILS, reports=[STAGING_FAIL]),
    ev.PackagingStarted(),
    ev.PackagingProgressed(percentage=50, message="page rendered"),
    ev.PackagingPassed(offer=SNAP, preview_links=["http://127.0.0.1:6064/preview/contoso.demo"]),
    ev.PackagingFailed(summary="template error", reasons=REASONS, notification_emails=EMAILS),
    ev.PreviewReady(offer_version=2, preview_links=["http://x/preview"], audience=[str(uuid.UUID(int=1))],
                    notification_emails=EMAILS),
    ev.PreviewAudienceChanged(audience=["6d8f2e3a-1b2c-4d5e-8f90-123456789abc"]),
    ev.PreviewWithdrawn(reason="canceled"),
    ev.OfferWentLive(offer_version=2, live_links=["http://x/apps/contoso.demo"], notification_emails=EMAILS),
    ev.GoLiveFailed(summary="no preview", reasons=REASONS, notification_emails=EMAILS),
    ev.NotificationSent(template="preview_ready", recipients=EMAILS, subject="Preview ready",
                        cause_event_id=str(uuid.UUID(int=7)), cause_event_type="offer.preview_ready"),
]


def envelope_of(event: Event) -> Envelope:
    return wrap(event, offer_id="demo", publisher_id="contoso", run_id="run-1", producer="contract-test",
                correlation_id="corr-1", causation_id=None,
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, event.event_type),
                occurred_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC))


def sample_documents() -> dict[str, Any]:
    return {f"{e.event_type}.v{e.schema_version}": envelope_of(e).model_dump(mode="json") for e in EXAMPLES}


if __name__ == "__main__":
    import json

    from offerflow_contract.samples import SAMPLES_DIR

    # A stored sample is what was once on a topic: never rewritten, only added for a new (type, version).
    for name, doc in sample_documents().items():
        path = SAMPLES_DIR / f"{name}.json"
        if not path.exists():
            path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
            print(f"stored {path}")
