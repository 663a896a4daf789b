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
from yarl import URL

from offerflow_notifier.adapters.mailer import SmtpMailer, TransientMailError
from offerflow_notifier.sink import MailSink

TOKEN = "admin-token-of-the-test"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def mailsink(tmp_path: Path) -> AsyncIterator[MailSink]:
    sink = MailSink(directory=tmp_path / "mail", smtp_port=0, http_port=0, admin_token=TOKEN)
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
    async with aiohttp.ClientSession(headers=AUTH) as http:
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
    async with aiohttp.ClientSession(headers=AUTH) as http, \
            http.get(f"http://127.0.0.1:{mailsink.http_port}/api/messages") as resp:
        listed = await resp.json()
    assert [m["message_id"] for m in listed] == ["<2@offerflow.local>", "<1@offerflow.local>"]


async def test_mail_is_shown_only_with_the_admin_token(mailsink: MailSink) -> None:
    await SmtpMailer(host="127.0.0.1", port=mailsink.smtp_port, timeout=5).send(
        mail("ana@contoso.test", "<secret-subject@offerflow.local>"))
    (name,) = [p.name for p in mailsink.directory.glob("*.eml")]
    base = f"http://127.0.0.1:{mailsink.http_port}"
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": TOKEN}):
            for path in ("/api/messages", "/", f"/messages/{name}"):
                async with http.get(base + path, headers=headers) as resp:
                    assert resp.status == 401, (path, headers)
                    body = await resp.text()
                    assert "ana@contoso.test" not in body and "Preview ready" not in body, path
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200 and await resp.text() == "ok"
        async with http.get(f"{base}/api/messages", headers=AUTH) as resp:
            assert resp.status == 200 and [m["name"] for m in await resp.json()] == [name]


async def test_a_browser_signs_in_with_the_token_through_the_form(mailsink: MailSink) -> None:
    await SmtpMailer(host="127.0.0.1", port=mailsink.smtp_port, timeout=5).send(
        mail("ana@contoso.test", "<form@offerflow.local>"))
    (name,) = [p.name for p in mailsink.directory.glob("*.eml")]
    base = f"http://127.0.0.1:{mailsink.http_port}"
    # unsafe: keep cookies of an IP-address host, as browsers do (aiohttp's jar drops them by default).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{base}/messages/{name}") as resp:  # the sign-in form, keeping where it was going
            page = await resp.text()
            assert resp.status == 401 and 'action="/signin"' in page and f'value="/messages/{name}"' in page
        async with http.post(f"{base}/signin", data={"token": "wrong", "next": "/"}) as resp:
            assert resp.status == 401 and "not the admin token" in await resp.text()
        assert not http.cookie_jar.filter_cookies(URL(base))
        async with http.post(f"{base}/signin", data={"token": TOKEN, "next": f"/messages/{name}"}) as resp:
            assert resp.status == 200 and str(resp.url) == f"{base}/messages/{name}"
            assert "Message-ID: <form@offerflow.local>" in await resp.text()
            assert TOKEN not in str(resp.url) and all(TOKEN not in str(h.url) for h in resp.history)
        async with http.get(f"{base}/") as resp:
            assert resp.status == 200 and "Preview ready" in await resp.text()
        # The session opens the pages, not the API: scripts send the header.
        async with http.get(f"{base}/api/messages") as resp:
            assert resp.status == 401
        async with http.post(f"{base}/signin", data={"token": TOKEN, "next": "//elsewhere.example/"},
                             allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/"
        async with http.post(f"{base}/signout") as resp:
            assert resp.status == 401  # redirected to the list, which asks for the token again
        async with http.get(f"{base}/") as resp:
            assert resp.status == 401


async def test_without_a_configured_token_nothing_is_shown(tmp_path: Path) -> None:
    sink = MailSink(directory=tmp_path / "mail", smtp_port=0, http_port=0)
    await sink.start()
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/api/messages", "/"):
                async with http.get(f"http://127.0.0.1:{sink.http_port}{path}", headers=AUTH) as resp:
                    assert resp.status == 403 and "OFFERFLOW_MAILSINK_ADMIN_TOKEN" in await resp.text()
    finally:
        await sink.stop()


async def test_server_down_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket is closed
    with pytest.raises(TransientMailError):
        await SmtpMailer(host="127.0.0.1", port=port, timeout=5).send(mail("a@c.test", "<x@offerflow.local>"))
