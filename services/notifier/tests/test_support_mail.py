"""The support desk's mails, both ways: to the desk when a request is opened or replied to, to the request's
contacts when the desk answers or closes it, each once per recipient whatever the redeliveries."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from offerflow_contract.events import (
    SupportRequestAnswered,
    SupportRequestClosed,
    SupportRequestOpened,
    SupportRequestReplied,
)
from offerflow_notifier.adapters.mailer import MemoryMailer
from offerflow_notifier.delivery import Notifier
from offerflow_notifier.settings import Settings

from .conftest import PUBLIC_URL, Deliver, envelope

DESK = "helpdesk@offerflow.test"
CONTACTS = ["ana@contoso.test", "ANA@contoso.test", "ops@contoso.test"]
REQUEST = f"{PUBLIC_URL}/portal/#/support/sr-7"


@pytest.fixture(autouse=True)
def desk_address(notifier: Notifier) -> None:
    notifier.support_address = DESK


def bodies(msg: EmailMessage) -> tuple[str, str]:
    text, html = msg.get_body(preferencelist=("plain",)), msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def to(mailer: MemoryMailer, address: str) -> list[EmailMessage]:
    return [m for m in mailer.sent if m["To"] == address]


async def test_an_opened_request_is_acknowledged_and_reaches_the_desk_once(deliver: Deliver,
                                                                          mailer: MemoryMailer) -> None:
    env = envelope(SupportRequestOpened(
        request_id="sr-7", step="displaycertify", title="Disk <refused>", description="Fixed VHD, says dynamic",
        messages=["Disk type failed"], contact_emails=CONTACTS, requested_by="contoso"))
    await deliver(env)
    await deliver(env)  # a redelivery sends nothing more
    [ack] = to(mailer, "ana@contoso.test")
    assert ack["Subject"] == "Support request sr-7 received: contoso-vm"
    [desk] = to(mailer, DESK)
    assert desk["Subject"] == "New support request sr-7 from contoso: Disk <refused>"
    text, html = bodies(desk)
    for body in (text, html):
        assert "Fixed VHD, says dynamic" in body and "Certification" in body and "Disk type failed" in body
        assert "offerflow support answer sr-7" in body and "ana@contoso.test" in body
    assert "Disk &lt;refused&gt;" in html and "Disk <refused>" in text
    assert len(mailer.sent) == 3  # ana (once, whatever the case), ops, the desk


async def test_a_reply_reaches_the_desk_only(deliver: Deliver, mailer: MemoryMailer) -> None:
    env = envelope(SupportRequestReplied(request_id="sr-7", seq=3, title="Disk refused",
                                         message="Still failing after the fix.", replied_by="contoso"))
    await deliver(env)
    await deliver(env)
    [mail] = mailer.sent
    assert mail["To"] == DESK and mail["Subject"] == "Reply on support request sr-7 from contoso: Disk refused"
    assert "Still failing after the fix." in bodies(mail)[0] and "open again" in bodies(mail)[0]


async def test_an_answer_reaches_the_contacts_with_the_request_link(deliver: Deliver, mailer: MemoryMailer) -> None:
    env = envelope(SupportRequestAnswered(request_id="sr-7", seq=2, title="Disk refused",
                                          message="Convert it with qemu-img -O vpc -o subformat=fixed.",
                                          answered_by="alice", contact_emails=CONTACTS))
    await deliver(env)
    await deliver(env)
    assert sorted(m["To"] for m in mailer.sent) == ["ana@contoso.test", "ops@contoso.test"]
    mail = mailer.sent[0]
    assert mail["Subject"] == "Support answered your request sr-7: Disk refused"
    text, html = bodies(mail)
    for body in (text, html):
        assert "subformat=fixed" in body and REQUEST in body and "alice" in body


async def test_a_close_tells_the_contacts_who_closed_it(deliver: Deliver, mailer: MemoryMailer) -> None:
    await deliver(envelope(SupportRequestClosed(request_id="sr-7", seq=4, title="Disk refused", closed_by="alice",
                                                role="support", message="Fixed on our side.",
                                                contact_emails=["ana@contoso.test"])))
    await deliver(envelope(SupportRequestClosed(request_id="sr-8", seq=2, title="Other", closed_by="contoso",
                                                role="publisher", contact_emails=["ana@contoso.test"])))
    first, second = mailer.sent
    assert first["Subject"] == "Support request sr-7 closed: Disk refused"
    assert "closed by alice" in bodies(first)[0] and "Fixed on our side." in bodies(first)[0]
    assert "closed by you" in bodies(second)[0] and f"{PUBLIC_URL}/portal/#/support/sr-8" in bodies(second)[0]


def test_the_desk_address_is_validated_at_start_and_named_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFERFLOW_NOTIFIER_SUPPORT_ADDRESS", "not an address")
    with pytest.raises(ValueError, match="support_address"):
        Settings()
    monkeypatch.setenv("OFFERFLOW_NOTIFIER_SUPPORT_ADDRESS", DESK)
    assert Settings().support_address == DESK

