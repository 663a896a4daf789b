"""Every mail: its subject and both bodies say what the publisher needs."""

from __future__ import annotations

from email.message import EmailMessage

from offerflow_contract.events import (
    CertificationFailed,
    GoLiveFailed,
    NotificationSent,
    OfferSnapshot,
    OfferWentLive,
    PackagingFailed,
    PreviewReady,
    ProvisioningFailed,
    PublishCanceled,
    PublishRequested,
    Reason,
    StageFailed,
    StagingFailed,
    StepTimedOut,
    SupportRequestOpened,
    ValidationFailed,
)
from offerflow_contract.steps import StepId, step_info
from offerflow_notifier.adapters.mailer import MemoryMailer
from offerflow_notifier.delivery import Notifier
from offerflow_shared.outbox import MemorySink

from .conftest import PUBLIC_URL, SENDER, Deliver, envelope

STATUS = f"{PUBLIC_URL}/portal/#/offers/contoso-vm/status"
EDITOR = f"{PUBLIC_URL}/portal/#/offers/contoso-vm/editor"


def bodies(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def only_mail(mailer: MemoryMailer) -> tuple[EmailMessage, str, str]:
    # A support request's copy to the support desk is test_support_mail.py's subject.
    sent = [m for m in mailer.sent if m["To"] != Notifier.support_address]
    assert len(sent) == 1
    msg = sent[0]
    text, html = bodies(msg)
    return msg, text, html


async def test_publish_accepted(deliver: Deliver, mailer: MemoryMailer, sink: MemorySink) -> None:
    snapshot = OfferSnapshot(offer_version=3, definition={}, notification_emails=["ana@contoso.test"])
    env = envelope(PublishRequested(offer=snapshot, requested_by="ana@contoso.test"))
    await deliver(env)
    msg, text, html = only_mail(mailer)
    assert msg["Subject"] == "Publish accepted: contoso-vm version 3"
    assert msg["To"] == "ana@contoso.test"
    assert msg["From"] == SENDER
    for body in (text, html):
        assert "contoso-vm" in body and "3" in body and "run-42" in body and STATUS in body
    [sent] = sink.events()
    assert isinstance(sent, NotificationSent)
    assert sent.template == "publish_accepted" and sent.recipients == ["ana@contoso.test"]
    assert sent.cause_event_id == str(env.event_id) and sent.cause_event_type == env.event_type
    assert sent.subject == msg["Subject"]


# Every stage's failure, staging's included (without boot reports it is mailed like the others).
FAILED_CLASSES: list[type[StageFailed]] = [
    ValidationFailed, CertificationFailed, ProvisioningFailed, StagingFailed, PackagingFailed, GoLiveFailed]


async def test_every_stage_failure_mails_step_reasons_next_steps_and_support(
    deliver: Deliver, mailer: MemoryMailer
) -> None:
    for cls in FAILED_CLASSES:
        mailer.sent.clear()
        reasons = [
            Reason(code="required", field="/offer/microsoft-azure-marketplace.title",
                   message="Title is required."),
            Reason(code="bad-url", message="Privacy <policy> URL is unreachable & wrong."),
        ]
        event = cls(summary="2 problems found", reasons=reasons, notification_emails=["ops@contoso.test"])
        env = envelope(event)
        await deliver(env)
        msg, text, html = only_mail(mailer)
        info = step_info(cls.step)
        assert msg["Subject"] == f"{info.name} failed: contoso-vm"
        support = f"{STATUS}?support={info.id}&run=run-42"
        assert "2 problems found" in text and info.next_steps in text and support in text and EDITOR in text
        assert "/offer/microsoft-azure-marketplace.title: Title is required." in text
        assert "Privacy <policy> URL is unreachable & wrong." in text
        assert info.name in html and "Title is required." in html and EDITOR in html
        assert f'href="{support.replace("&", "&amp;")}"' in html
        # Offer content is escaped in the HTML part, shown verbatim in the text part.
        assert "Privacy &lt;policy&gt; URL is unreachable &amp; wrong." in html


async def test_failures_on_our_side_do_not_send_the_publisher_to_the_editor(
    deliver: Deliver, mailer: MemoryMailer
) -> None:
    ours = [Reason(code="internal-error", message="The Certification step could not be completed.")]
    timed_out = supervisor_timed_out()
    for event in (CertificationFailed(summary="internal", reasons=ours, notification_emails=["ops@contoso.test"]),
                  timed_out):
        mailer.sent.clear()
        await deliver(envelope(event))
        msg, text, html = only_mail(mailer)
        assert "Nothing needs fixing in your offer" in text and "Nothing needs fixing in your offer" in html
        assert EDITOR not in text and EDITOR not in html
        assert f"{STATUS}?support={event.step}&run=run-42" in text
    assert msg["Subject"] == "Provisioning failed: contoso-vm"


def supervisor_timed_out() -> StepTimedOut:
    return StepTimedOut(step=StepId.PROVISIONING, limit_seconds=93600, summary="Provisioning took too long",
                        reasons=[Reason(code="step-timed-out", message="Stopped after 26 h.")],
                        notification_emails=["ops@contoso.test"])


async def test_preview_ready(deliver: Deliver, mailer: MemoryMailer) -> None:
    links = ["https://preview.example.test/contoso-vm?v=3", "https://portal.example.test/preview/contoso-vm"]
    subs = ["11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-000000000000"]
    await deliver(envelope(PreviewReady(offer_version=3, preview_links=links, audience=subs,
                                        notification_emails=["ana@contoso.test"])))
    msg, text, html = only_mail(mailer)
    assert msg["Subject"] == "Preview ready: contoso-vm version 3"
    for body in (text, html):
        assert all(link in body for link in links) and all(s in body for s in subs)
        assert "Go live" in body and "Cancel" in body and STATUS in body


async def test_went_live(deliver: Deliver, mailer: MemoryMailer) -> None:
    links = ["https://marketplace.example.test/offers/contoso-vm"]
    await deliver(envelope(OfferWentLive(offer_version=3, live_links=links, notification_emails=["a@c.t"])))
    msg, text, html = only_mail(mailer)
    assert msg["Subject"] == "contoso-vm version 3 is live"
    assert links[0] in text and links[0] in html


async def test_canceled(deliver: Deliver, mailer: MemoryMailer) -> None:
    await deliver(envelope(PublishCanceled(notification_emails=["a@c.test"])))
    msg, text, html = only_mail(mailer)
    assert msg["Subject"] == "Publication canceled: contoso-vm"
    assert "Canceled by the publisher at sign-off" in text and STATUS in text and STATUS in html


async def test_headers_identify_the_cause(deliver: Deliver, mailer: MemoryMailer) -> None:
    env = envelope(PublishCanceled(notification_emails=["a@c.test"]))
    await deliver(env)
    msg = mailer.sent[0]
    assert msg["X-Offerflow-Offer"] == "contoso-vm" and msg["X-Offerflow-Run"] == "run-42"
    assert msg["X-Offerflow-Event"] == str(env.event_id) and msg["X-Offerflow-Template"] == "canceled"
    assert msg["Message-ID"].endswith("@offerflow.local>")


async def test_offer_id_with_slash_stays_one_path_segment(deliver: Deliver, mailer: MemoryMailer) -> None:
    await deliver(envelope(PublishCanceled(notification_emails=["a@c.test"]), offer_id="a/b", run_id=None))
    _, text, _ = only_mail(mailer)
    assert f"{PUBLIC_URL}/portal/#/offers/a%2Fb/status" in text


async def test_support_request_is_acknowledged_once(deliver: Deliver, mailer: MemoryMailer, sink: MemorySink) -> None:
    env = envelope(SupportRequestOpened(
        request_id="SR-7", step="displayprovision", title="Replication keeps failing",
        description="westus2 <never> finishes", messages=["westus2: region unavailable"],
        contact_emails=["ana@contoso.test", "ANA@contoso.test"], requested_by="ana@contoso.test"))
    await deliver(env)
    await deliver(env)  # a redelivery sends nothing more
    msg, text, html = only_mail(mailer)
    assert msg["Subject"] == "Support request SR-7 received: contoso-vm"
    for body in (text, html):
        assert "Provisioning" in body and "Replication keeps failing" in body
        assert "westus2: region unavailable" in body and STATUS in body
    assert "&lt;never&gt;" in html and "<never>" in text
    assert [type(e) for e in sink.events()][:1] == [NotificationSent]


# --- links -----------------------------------------------------------------------------------------------
# The portal routes on the URL fragment (see portal/static/js/main.js): every mail link is /portal/#/<route>.


def test_link_builders_target_the_portal_routes() -> None:
    from offerflow_notifier import rules

    assert rules.status_url("https://h.test/", "vm-1") == "https://h.test/portal/#/offers/vm-1/status"
    assert rules.editor_url("https://h.test", "vm-1") == "https://h.test/portal/#/offers/vm-1/editor"
    assert (rules.support_url("https://h.test", "vm-1", "run 7", "displaycertify")
            == "https://h.test/portal/#/offers/vm-1/status?support=displaycertify&run=run+7")
    # Without a run the form still opens for the step; the API attaches the request to the offer.
    assert (rules.support_url("https://h.test", "vm-1", None, "live")
            == "https://h.test/portal/#/offers/vm-1/status?support=live")
    # An id can never add a route segment, a query or a second fragment.
    assert rules.status_url("https://h.test", "a/b?c#d") == "https://h.test/portal/#/offers/a%2Fb%3Fc%23d/status"


async def test_every_mail_links_the_status_tab_of_its_offer(deliver: Deliver, mailer: MemoryMailer) -> None:
    snapshot = OfferSnapshot(offer_version=1, definition={}, notification_emails=["a@c.test"])
    events = [
        PublishRequested(offer=snapshot, requested_by="a@c.test"),
        ValidationFailed(summary="s", reasons=[Reason(code="c", message="m")], notification_emails=["a@c.test"]),
        PreviewReady(offer_version=1, preview_links=["https://p.test/x"], audience=[],
                     notification_emails=["a@c.test"]),
        OfferWentLive(offer_version=1, live_links=["https://l.test/x"], notification_emails=["a@c.test"]),
        PublishCanceled(notification_emails=["a@c.test"]),
        SupportRequestOpened(request_id="SR-1", step="displaycertify", title="t", description="d", messages=[],
                             contact_emails=["a@c.test"], requested_by="a@c.test"),
    ]
    for event in events:
        mailer.sent.clear()
        await deliver(envelope(event))
        _, text, html = only_mail(mailer)
        assert STATUS in text and f'href="{STATUS}"' in html, type(event).__name__
        # No mail links the old path routes, which the server does not serve.
        assert f"{PUBLIC_URL}/portal/offers" not in text + html


HOSTILE = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'


async def test_publisher_text_is_escaped_in_html_and_verbatim_in_text(deliver: Deliver, mailer: MemoryMailer) -> None:
    """Every value that can come from the publisher, planted with markup, never reaches the HTML part raw."""
    events = [
        ValidationFailed(summary=HOSTILE, reasons=[Reason(code="x", field=HOSTILE, message=HOSTILE)],
                         notification_emails=["a@c.test"]),
        PublishCanceled(reason=HOSTILE, notification_emails=["a@c.test"]),
        SupportRequestOpened(request_id="SR-1", step="displaycertify", title=HOSTILE, description=HOSTILE,
                             messages=[HOSTILE], contact_emails=["a@c.test"], requested_by=HOSTILE),
        PublishRequested(offer=OfferSnapshot(offer_version=1, definition={"offer": {"t": HOSTILE}},
                                             notification_emails=["a@c.test"]), requested_by=HOSTILE),
    ]
    for event in events:
        mailer.sent.clear()
        await deliver(envelope(event))
        msg, text, html = only_mail(mailer)
        assert "<img" not in html and "<script" not in html and '"><' not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, type(event).__name__
        assert HOSTILE in text, type(event).__name__
        assert "\n" not in str(msg["Subject"])
