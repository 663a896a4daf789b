"""Development mail sink: an SMTP server keeping each mail as an ``.eml`` file, and a page listing them.

Development only: it accepts every mail and shows all of them, whoever they are for. Its pages and API need the
admin token (``OFFERFLOW_MAILSINK_ADMIN_TOKEN``, else ``OFFERFLOW_STATUS_API_ADMIN_TOKEN``; with neither they
answer 403); ``/healthz`` alone is open. Both servers share one event loop. ``OFFERFLOW_MAILSINK_SMTP_PORT``
(1025), ``OFFERFLOW_MAILSINK_HTTP_PORT`` (8025) and ``OFFERFLOW_MAILSINK_DIR`` (.run/mail) choose where; it
listens on ``OFFERFLOW_MAILSINK_HOST`` (127.0.0.1 by default: a development sink is not for other machines unless
a container network asks for it).
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import os
import re
import secrets
import signal
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from offerflow_shared import logs

_NAME = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{8}\.eml$")
_STAMP = "%Y%m%dT%H%M%S.%fZ"


class MailStore:
    """One ``.eml`` per mail; the name sorts by arrival time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def save(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC).strftime(_STAMP)}-{uuid.uuid4().hex[:8]}.eml"
        # The trace headers an MTA adds on delivery, so Bcc recipients are visible too.
        trace = f"Return-Path: <{mail_from}>\r\n" + "".join(f"Delivered-To: {r}\r\n" for r in rcpt_tos)
        tmp = self.directory / (name + ".part")
        tmp.write_bytes(trace.encode() + content)
        tmp.rename(self.directory / name)  # readers never see half a file
        return name

    def path(self, name: str) -> Path | None:
        path = self.directory / name
        return path if _NAME.match(name) and path.is_file() else None

    def summaries(self) -> list[dict[str, Any]]:
        if not self.directory.is_dir():
            return []
        names = sorted((p.name for p in self.directory.iterdir() if _NAME.match(p.name)), reverse=True)
        return [self._summary(name) for name in names]

    def _summary(self, name: str) -> dict[str, Any]:
        with (self.directory / name).open("rb") as f:
            headers = BytesHeaderParser().parse(f)
        delivered = headers.get_all("Delivered-To") or []
        to = [addr for _, addr in getaddresses([*delivered])] or [
            addr for _, addr in getaddresses(headers.get_all("To") or [])]
        received = datetime.strptime(name.split("-")[0], _STAMP).replace(tzinfo=UTC)
        return {
            "name": name,
            "date": received.isoformat(),
            "from": str(headers.get("From", "")),
            "to": to,
            "subject": str(headers.get("Subject", "")),
            "message_id": str(headers.get("Message-ID", "")),
        }


class StoreHandler:
    """aiosmtpd handler: accept every mail and keep it."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        await asyncio.to_thread(self.store.save, envelope.mail_from or "", list(envelope.rcpt_tos), content)
        return "250 Message accepted for delivery"


# The sink holds every publisher's mail, so its pages and API need the admin token. A browser signs in once through
# a form (the token goes in a POST body, never a URL) and gets a random session id in an HttpOnly cookie.
_COOKIE = "offerflow_mailsink"
_STYLE = "<style>body{font-family:sans-serif} form.inline{display:inline}</style>"


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">"
            f"<title>{html.escape(title)}</title>{_STYLE}</head><body>{body}</body></html>")


def _signin_page(next_path: str, error: str = "") -> str:
    alert = f"<p role=\"alert\" style=\"color:#a00\">{html.escape(error)}</p>" if error else ""
    return _page("Mail sink: sign in", (
        "<h1>Mail sink</h1><p>Development only. It holds every publisher's mail: sign in with the admin token "
        "(<code>admin_token</code> in <code>.run/endpoints.json</code>).</p>" + alert +
        "<form method=\"post\" action=\"/signin\"><label for=\"token\">Admin token</label> "
        "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required> "
        f"<input type=\"hidden\" name=\"next\" value=\"{html.escape(next_path)}\">"
        "<button type=\"submit\">Sign in</button></form>"))


def _local(path: str) -> str:
    """Only a path of this server is a place to go back to after signing in."""
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else "/"


@dataclass(frozen=True)
class SinkAuth:
    """The admin token, and the sessions of browsers that signed in with it (lost on restart: sign in again)."""

    token: str | None
    sessions: set[str] = field(default_factory=set)

    def is_token(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def bearer_ok(self, request: web.Request) -> bool:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.is_token(given.strip())

    def browser_ok(self, request: web.Request) -> bool:
        return self.bearer_ok(request) or request.cookies.get(_COOKIE, "") in self.sessions

    def refuse(self, request: web.Request, *, api: bool) -> web.Response:
        if self.token is None:
            why = ("The mail sink has no admin token: set OFFERFLOW_MAILSINK_ADMIN_TOKEN "
                   "(or OFFERFLOW_STATUS_API_ADMIN_TOKEN).")
            return web.json_response({"error": why}, status=403) if api else web.Response(
                text=_page("Mail sink", f"<p>{html.escape(why)}</p>"), status=403, content_type="text/html")
        if api:
            return web.json_response({"error": "The admin token is required (Authorization: Bearer <token>)."},
                                     status=401, headers={"WWW-Authenticate": "Bearer"})
        return web.Response(text=_signin_page(request.path), status=401, content_type="text/html",
                            headers={"WWW-Authenticate": "Bearer"})


def web_app(store: MailStore, auth: SinkAuth) -> web.Application:
    async def index(request: web.Request) -> web.Response:
        if not auth.browser_ok(request):
            return auth.refuse(request, api=False)
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/messages/{}\">{}</a></td></tr>".format(
                html.escape(m["date"]), html.escape(m["from"]), html.escape(", ".join(m["to"])),
                html.escape(m["name"]), html.escape(m["subject"] or "(no subject)"))
            for m in await asyncio.to_thread(store.summaries))
        return web.Response(text=_page("Offerflow mail sink", (
            "<h1>Mail sink</h1><form class=\"inline\" method=\"post\" action=\"/signout\">"
            "<button type=\"submit\">Sign out</button></form>"
            f"<p>{html.escape(str(store.directory))}</p><table border=\"1\" cellpadding=\"4\">"
            "<tr><th>Time</th><th>From</th><th>To</th><th>Subject</th></tr>"
            f"{rows or '<tr><td colspan=4>No mail yet.</td></tr>'}</table>")), content_type="text/html")

    async def message(request: web.Request) -> web.Response:
        if not auth.browser_ok(request):
            return auth.refuse(request, api=False)
        path = store.path(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound(text="no such message")
        return web.Response(body=await asyncio.to_thread(path.read_bytes), content_type="text/plain",
                            charset="utf-8")

    async def api_messages(request: web.Request) -> web.Response:
        if not auth.bearer_ok(request):
            return auth.refuse(request, api=True)
        return web.json_response(await asyncio.to_thread(store.summaries), dumps=json.dumps)

    async def signin(request: web.Request) -> web.Response:
        form = await request.post()
        next_path = _local(str(form.get("next", "/")))
        if auth.token is None:
            return auth.refuse(request, api=False)
        if not auth.is_token(str(form.get("token", "")).strip()):
            return web.Response(text=_signin_page(next_path, "That is not the admin token."), status=401,
                                content_type="text/html")
        session = secrets.token_urlsafe(32)
        auth.sessions.add(session)
        response = web.HTTPSeeOther(next_path)
        response.set_cookie(_COOKIE, session, httponly=True, samesite="Strict", path="/")
        raise response

    async def signout(request: web.Request) -> web.Response:
        auth.sessions.discard(request.cookies.get(_COOKIE, ""))
        response = web.HTTPSeeOther("/")
        response.del_cookie(_COOKIE, path="/")
        raise response

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")  # for probes: says nothing about any mail

    application = web.Application()
    application.router.add_get("/", index)
    application.router.add_get("/messages/{name}", message)
    application.router.add_get("/api/messages", api_messages)
    application.router.add_post("/signin", signin)
    application.router.add_post("/signout", signout)
    application.router.add_get("/healthz", healthz)
    return application


@dataclass
class MailSink:
    directory: Path
    smtp_port: int = 1025
    http_port: int = 8025
    host: str = "127.0.0.1"
    admin_token: str | None = None
    _smtp: asyncio.Server | None = None
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start both servers; a port of 0 picks a free one, read back from ``smtp_port`` / ``http_port``."""
        store = MailStore(self.directory)
        handler = StoreHandler(store)
        loop = asyncio.get_running_loop()
        self._smtp = await loop.create_server(
            lambda: SMTP(handler, hostname="offerflow-mailsink", loop=loop), self.host, self.smtp_port)
        self.smtp_port = self._smtp.sockets[0].getsockname()[1]
        self._runner = web.AppRunner(web_app(store, SinkAuth(self.admin_token or None)), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.http_port)
        await site.start()
        self.http_port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            await self._smtp.wait_closed()
            self._smtp = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def serve(sink: MailSink) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sink.start()
    print(f"mail sink: SMTP on {sink.host}:{sink.smtp_port}, mails in {sink.directory}, "
          f"list on http://{sink.host}:{sink.http_port}/", flush=True)
    try:
        await stop.wait()
    finally:
        await sink.stop()
        print("mail sink stopped", flush=True)


def main() -> None:
    # The same JSON lines as every service, so aiosmtpd's and aiohttp's records are redacted too.
    logs.configure("mailsink", os.environ.get("OFFERFLOW_LOG_LEVEL", "INFO"))
    sink = MailSink(
        directory=Path(os.environ.get("OFFERFLOW_MAILSINK_DIR", ".run/mail")),
        smtp_port=int(os.environ.get("OFFERFLOW_MAILSINK_SMTP_PORT", "1025")),
        http_port=int(os.environ.get("OFFERFLOW_MAILSINK_HTTP_PORT", "8025")),
        host=os.environ.get("OFFERFLOW_MAILSINK_HOST", "127.0.0.1"),
        # Its own token, or the API's admin token (what the dev stack and compose pass to every process).
        admin_token=os.environ.get("OFFERFLOW_MAILSINK_ADMIN_TOKEN") or os.environ.get(
            "OFFERFLOW_STATUS_API_ADMIN_TOKEN") or None,
    )
    asyncio.run(serve(sink))
