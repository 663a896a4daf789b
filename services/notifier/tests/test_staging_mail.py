"""The staging failure mail: which plan, the first milestone that did not happen, the failed check's actual vs
required value, the console's last lines (escaped, bounded) and what to do next."""

from __future__ import annotations

from email.message import EmailMessage

from offerflow_contract.events import NotificationSent, Reason, StagingCheck, StagingFailed, StagingReport
from offerflow_notifier import staging_mail
from offerflow_notifier.adapters.mailer import MemoryMailer
from offerflow_shared.outbox import MemorySink

from .conftest import PUBLIC_URL, Deliver, envelope

STATUS = f"{PUBLIC_URL}/portal/#/offers/contoso-vm/status"
PANIC = "Kernel panic - not syncing: VFS: Unable to mount root fs on <unknown-block(0,0)> & more"


def bodies(msg: EmailMessage) -> tuple[str, str]:
    text, html = msg.get_body(preferencelist=("plain",)), msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def boot(plan: str, result: str = "Fail", tail: list[str] | None = None, console: str = "") -> StagingReport:
    checks = [StagingCheck(check_id="kernel", name="Kernel started", result="Passed", actual="Linux 6.1",
                           required="a kernel banner", seconds=2.0)]
    if result == "Fail":
        checks.append(StagingCheck(check_id="root-fs", name="Root file system mounted", result="Failed",
                                   actual="VFS: Unable to mount root fs", required="/ mounted within 120 s"))
        checks.append(StagingCheck(check_id="ssh", name="SSH answered", result="NotRun", actual="",
                                   required="an SSH banner on port 22"))
    return StagingReport(plan_id=plan, image_version="1.0.0", region="westeurope", location="/r/os.vhd",
                         accelerator="tcg", result=result, first_missing="root-fs" if result == "Fail" else None,  # type: ignore[arg-type]
                         summary="the kernel started; the root file system was not mounted" if result == "Fail"
                         else "booted to multi-user in 38 s", checks=checks, seconds=130.0, console=console,
                         console_tail=tail if tail is not None else ["Linux version 6.1", PANIC])


def failure(*reports: StagingReport, code: str = "root-fs") -> StagingFailed:
    return StagingFailed(summary="Plan standard did not boot", notification_emails=["ana@contoso.test"],
                         reasons=[Reason(code=code, message="The root file system was not mounted.")],
                         reports=list(reports))


async def test_a_failed_boot_mails_the_plan_the_missing_milestone_the_check_and_the_console(
        deliver: Deliver, mailer: MemoryMailer, sink: MemorySink) -> None:
    await deliver(envelope(failure(boot("standard"), boot("small", "Pass"))))
    [msg] = mailer.sent
    text, html = bodies(msg)
    assert msg["Subject"] == "Staging deployment failed: contoso-vm (plan standard)"
    assert msg["X-Offerflow-Template"] == "staging_failed"
    assert "Plan standard (image version 1.0.0)" in text and "small" not in text  # only the plan that failed
    assert "First milestone that did not happen: Root file system mounted" in text
    assert "actual:   VFS: Unable to mount root fs" in text and "required: / mounted within 120 s" in text
    assert f"    | {PANIC}" in text  # the text part shows the console as it was
    assert "offerflow stage IMAGE" in text and "Publish again" in text
    assert STATUS in text and f"{STATUS}?support=displaystaging&run=run-42" in text
    # The HTML part escapes what the VM printed, and links the status page like every failure mail.
    assert "&lt;unknown-block(0,0)&gt; &amp; more" in html and "<unknown-block" not in html
    assert "<code>VFS: Unable to mount root fs</code>" in html and f'href="{STATUS}"' in html
    assert "offerflow stage IMAGE" in html
    [sent] = sink.events()
    assert isinstance(sent, NotificationSent) and sent.template == "staging_failed"


async def test_the_console_tail_is_bounded_and_stripped_of_control_characters(
        deliver: Deliver, mailer: MemoryMailer) -> None:
    flood = [f"line {i} \x1b[31mred\x1b[0m\r" for i in range(500)] + ["x" * 5000]
    await deliver(envelope(failure(boot("standard", tail=flood))))
    text, html = bodies(mailer.sent[0])
    shown = [line for line in text.splitlines() if line.startswith("    | ")]
    assert len(shown) == staging_mail.TAIL_LINES
    assert shown[-2] == "    | line 499 red" and "line 475" not in text
    assert len(shown[-1]) == len("    | ") + staging_mail.TAIL_LINE_CHARS and shown[-1].endswith("…")
    assert "\x1b" not in text + html and "\r" not in text


async def test_without_a_stored_tail_the_last_console_lines_are_shown(deliver: Deliver, mailer: MemoryMailer) -> None:
    await deliver(envelope(failure(boot("standard", tail=[], console="SeaBIOS\nBooting from Hard Disk\nGRUB rescue>"))))
    text, _ = bodies(mailer.sent[0])
    assert "    | GRUB rescue>" in text and "    | SeaBIOS" in text


async def test_several_failed_plans_are_each_described(deliver: Deliver, mailer: MemoryMailer) -> None:
    await deliver(envelope(failure(boot("standard"), boot("gen2"))))
    msg = mailer.sent[0]
    text, _ = bodies(msg)
    assert msg["Subject"] == "Staging deployment failed: contoso-vm"
    assert "Plan standard" in text and "Plan gen2" in text


async def test_a_failure_on_our_side_is_the_usual_failure_mail(deliver: Deliver, mailer: MemoryMailer) -> None:
    await deliver(envelope(failure(boot("standard"), code="internal-error")))
    msg = mailer.sent[0]
    text, _ = bodies(msg)
    assert msg["X-Offerflow-Template"] == "step_failed" and "Nothing needs fixing in your offer" in text
    assert "offerflow stage" not in text
