"""The SMTP adapter against the real development sink, both in this event loop (no Kafka, no database)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import aiohttp
import pytest

from offerflow_notifier.adapters.mailer import SmtpMailer, TransientMailError
from offerflow_notifier.sink import MailSink


@pytest.fixture
async def mailsink(tmp_path: Path) -> AsyncIterator[MailSink]:
    sink = MailSink(directory=tmp_path / "mail", smtp_port=0, http_port=0)
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop()


def mail(to: str, message_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Offerflow <noreply@offerflow.local>"
    msg["To"] = to
    msg["Subject"] = "Preview ready: contoso-vm version 3"
    msg["Message-ID"] = message_id
    msg.set_content("The preview is ready.\n")
    msg.add_alternative("<p>The preview is <b>ready</b>.</p>", subtype="html")
    return msg


async def test_mail_lands_as_eml_and_is_listed(mailsink: MailSink) -> None:
    mailer = SmtpMailer(host="127.0.0.1", port=mailsink.smtp_port, timeout=5)
    await mailer.send(mail("ana@contoso.test", "<abc123@offerflow.local>"))

    files = list(mailsink.directory.glob("*.eml"))
    assert len(files) == 1
    stored = message_from_bytes(files[0].read_bytes(), policy=default)
    assert stored["Subject"] == "Preview ready: contoso-vm version 3"
    assert stored["Delivered-To"] == "ana@contoso.test"
    html = stored.get_body(preferencelist=("html",))
    assert html is not None and "<b>ready</b>" in html.get_content()

    base = f"http://127.0.0.1:{mailsink.http_port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/messages") as resp:
            assert resp.status == 200
            listed = await resp.json()
        assert listed == [{
            "name": files[0].name,
            "date": listed[0]["date"],
            "from": "Offerflow <noreply@offerflow.local>",
            "to": ["ana@contoso.test"],
            "subject": "Preview ready: contoso-vm version 3",
            "message_id": "<abc123@offerflow.local>",
        }]
        async with http.get(f"{base}/messages/{files[0].name}") as resp:
            assert resp.status == 200 and resp.content_type == "text/plain"
            assert "Message-ID: <abc123@offerflow.local>" in await resp.text()
        async with http.get(f"{base}/") as resp:
            page = await resp.text()
            assert "Preview ready: contoso-vm version 3" in page and files[0].name in page
        async with http.get(f"{base}/messages/..%2Fsecret.eml") as resp:
            assert resp.status == 404


async def test_newest_first(mailsink: MailSink) -> None:
    mailer = SmtpMailer(host="127.0.0.1", port=mailsink.smtp_port, timeout=5)
    await mailer.send(mail("a@contoso.test", "<1@offerflow.local>"))
    await mailer.send(mail("b@contoso.test", "<2@offerflow.local>"))
    async with aiohttp.ClientSession() as http, \
            http.get(f"http://127.0.0.1:{mailsink.http_port}/api/messages") as resp:
        listed = await resp.json()
    assert [m["message_id"] for m in listed] == ["<2@offerflow.local>", "<1@offerflow.local>"]


async def test_server_down_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket is closed
    with pytest.raises(TransientMailError):
        await SmtpMailer(host="127.0.0.1", port=port, timeout=5).send(mail("a@c.test", "<x@offerflow.local>"))
