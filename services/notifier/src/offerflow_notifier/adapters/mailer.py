"""Port for sending one mail, with the SMTP adapter and an in-memory fake."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal, Protocol

import aiosmtplib
from pydantic import SecretStr


class MailError(Exception):
    """Sending failed."""


class TransientMailError(MailError):
    """The server is down, slow or said "try later": sending the same mail again may work."""


class PermanentMailError(MailError):
    """The server refused the recipient for good (5xx): repeating the same mail cannot help."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to its ``To`` recipients, or raise a :class:`MailError`."""
        ...


class SmtpMailer:
    """Sends each mail on its own connection: mails are rare and a pooled connection would go stale."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: Literal["none", "starttls", "tls"] = "none",
        username: str | None = None,
        password: SecretStr | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.username = username
        self._password = password
        self.timeout = timeout

    def __repr__(self) -> str:
        return (f"SmtpMailer(host={self.host!r}, port={self.port}, tls={self.tls!r}, "
                f"username={self.username!r})")

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                use_tls=self.tls == "tls",
                # False rather than None: "none" must never upgrade on its own, "starttls" must not fall back.
                start_tls=self.tls == "starttls",
                username=self.username,
                password=self._password.get_secret_value() if self._password else None,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            if codes and all(code >= 500 for code in codes):
                raise PermanentMailError(f"recipient refused: {text}") from exc
            raise TransientMailError(f"recipient deferred: {text}") from exc
        except aiosmtplib.SMTPRecipientRefused as exc:
            cls = PermanentMailError if exc.code >= 500 else TransientMailError
            raise cls(f"recipient refused: {exc.recipient}: {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Connection, TLS, auth and sender problems are the server's or our configuration's, not the
            # mail's: retrying later (after a fix) must send it, so they are never permanent.
            raise TransientMailError(f"{type(exc).__name__}: {exc}") from exc


@dataclass
class MemoryMailer:
    """Keeps sent mails in a list; ``failures`` are raised, in order, by the next sends."""

    sent: list[EmailMessage] = field(default_factory=list)
    failures: list[MailError] = field(default_factory=list)
    attempts: int = 0

    async def send(self, message: EmailMessage) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
