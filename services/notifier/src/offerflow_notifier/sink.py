"""Development mail sink: an SMTP server keeping each mail as an ``.eml`` file, and a page listing them.

Both servers share one event loop. ``OFFERFLOW_MAILSINK_SMTP_PORT`` (1025), ``OFFERFLOW_MAILSINK_HTTP_PORT``
(8025) and ``OFFERFLOW_MAILSINK_DIR`` (.run/mail) choose where; it listens on ``OFFERFLOW_MAILSINK_HOST``
(127.0.0.1 by default: a development sink is not for other machines unless a container network asks for it).
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import signal
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

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


def web_app(store: MailStore) -> web.Application:
    async def index(_: web.Request) -> web.Response:
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/messages/{}\">{}</a></td></tr>".format(
                html.escape(m["date"]), html.escape(m["from"]), html.escape(", ".join(m["to"])),
                html.escape(m["name"]), html.escape(m["subject"] or "(no subject)"))
            for m in await asyncio.to_thread(store.summaries))
        page = (
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Offerflow mail sink</title></head>"
            "<body style=\"font-family: sans-serif\"><h1>Mail sink</h1>"
            f"<p>{html.escape(str(store.directory))}</p><table border=\"1\" cellpadding=\"4\">"
            "<tr><th>Time</th><th>From</th><th>To</th><th>Subject</th></tr>"
            f"{rows or '<tr><td colspan=4>No mail yet.</td></tr>'}</table></body></html>"
        )
        return web.Response(text=page, content_type="text/html")

    async def message(request: web.Request) -> web.Response:
        path = store.path(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound(text="no such message")
        return web.Response(body=await asyncio.to_thread(path.read_bytes), content_type="text/plain",
                            charset="utf-8")

    async def api_messages(_: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(store.summaries), dumps=json.dumps)

    application = web.Application()
    application.router.add_get("/", index)
    application.router.add_get("/messages/{name}", message)
    application.router.add_get("/api/messages", api_messages)
    return application


@dataclass
class MailSink:
    directory: Path
    smtp_port: int = 1025
    http_port: int = 8025
    host: str = "127.0.0.1"
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
        self._runner = web.AppRunner(web_app(store), access_log=None)
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
    sink = MailSink(
        directory=Path(os.environ.get("OFFERFLOW_MAILSINK_DIR", ".run/mail")),
        smtp_port=int(os.environ.get("OFFERFLOW_MAILSINK_SMTP_PORT", "1025")),
        http_port=int(os.environ.get("OFFERFLOW_MAILSINK_HTTP_PORT", "8025")),
        host=os.environ.get("OFFERFLOW_MAILSINK_HOST", "127.0.0.1"),
    )
    asyncio.run(serve(sink))
