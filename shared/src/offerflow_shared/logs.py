"""Structured JSON logs with offer id, run id and correlation id on every line, with URL secrets redacted.

Every line any logger writes (ours and the libraries': httpx "HTTP Request: GET https://…?sig=…", httpcore,
aiohttp and uvicorn access logs, botocore, faust/aiokafka) passes :class:`RedactFilter` on the handler, so a
presigned URL's signature, a SAS token or credentials in a URL's userinfo never reach a log file: a URL keeps
only ``scheme://host/path``. The filter sits on the handler rather than on loggers because a record is checked
against its own logger's filters only, while every propagated record meets the root handler.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

# Never mutated in place: bind() always sets a new dict, so the shared default is safe.
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar(
    "offerflow_log_context", default={}  # noqa: B039
)

# Chatty at INFO: per-message broker and SMTP-session lines (aiosmtpd's "mail.log" names every recipient).
QUIET = ("aiokafka", "faust", "mode", "kafka", "uvicorn.access", "mail.log")

# scheme://[userinfo@]host[path][?query][#fragment]. A URL ends at whitespace, a quote or an angle bracket (how
# URLs sit in reprs, JSON and HTML). The userinfo stops at '/', '?' and '#' so an '@' in a path or query (an
# email address) is not taken for one.
_URL = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)"
    r"(?:[^\s/?#@'\"<>]*@)?"
    r"(?P<host>[^\s/?#'\"<>]*)"
    r"(?P<path>[^\s?#'\"<>]*)"
    r"(?:\?[^\s#'\"<>]*)?"
    r"(?:#[^\s'\"<>]*)?"
)
# Credentials that show up outside a URL: a query string logged on its own (an access log's request line after
# its URL was split, a params dict), a storage connection string, an Authorization header.
_PARAM = re.compile(
    r"(?P<name>\b(?:(?:access|refresh|id|sas)[_-]?)?(?:token|sig|signature|password|passwd|secret|"
    r"client[_-]?secret|application[_-]?key|api[_-]?key|(?:secret[_-]?)?access[_-]?key|X-Amz-[A-Za-z-]+|"
    r"AccountKey|SharedAccessSignature|SharedAccessKey)\b['\"]?\s*[=:]\s*['\"]?)"
    r"(?P<value>(?!\[redacted\])[^\s&;,'\"<>)}\]]+)",
    re.IGNORECASE,
)
# An Authorization header's whole value (scheme and credentials), and a bearer token wherever it is shown.
_AUTH = re.compile(r"(?P<name>\b(?:Authorization|Proxy-Authorization)['\"]?\s*[:=]\s*['\"]?)"
                   r"(?P<value>(?!\[redacted\])[^'\"\s,}][^'\"\r\n,}]*)", re.IGNORECASE)
_BEARER = re.compile(r"(?P<name>\bBearer\s+)(?P<value>(?!\[redacted\])[A-Za-z0-9._~+/=\-]{8,})")
# The platform's own API tokens (publisher ``ofp_``, admin ``ofa_``) are recognisable wherever they appear.
_TOKEN = re.compile(r"(?P<name>\bof[ap]_)(?P<value>[A-Za-z0-9_\-]{16,})")
REDACTED = "[redacted]"


def _url(m: re.Match[str]) -> str:
    return f"{m['scheme']}{m['host']}{m['path']}"


def redact(text: str) -> str:
    """``text`` with every URL cut to ``scheme://host/path`` and every credential parameter's value replaced."""
    text = _URL.sub(_url, text)
    for pattern in (_AUTH, _PARAM, _BEARER, _TOKEN):
        text = pattern.sub(_hidden, text)
    return text


def _hidden(m: re.Match[str]) -> str:
    return m["name"] + REDACTED


class RedactFilter(logging.Filter):
    """Rewrites a record in place: its message (arguments merged in) and its exception and stack text.

    Never drops a record. Set on handlers (not loggers) so that library loggers' records pass it too.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_offerflow_redacted", False):
            return True  # the same record met a second handler
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what the logger was given, as text
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        setattr(record, "_offerflow_redacted", True)  # noqa: B010 - LogRecord declares no such field
        return True


@contextlib.contextmanager
def bind(**fields: Any) -> Iterator[None]:
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            # Redacted here too: a handler someone adds without the filter still writes no secret.
            "message": redact(record.getMessage()),
            **_context.get(),
        }
        if record.exc_info or record.exc_text:
            line["exception"] = redact(record.exc_text or self.formatException(record.exc_info))  # type: ignore[arg-type]
        if record.stack_info:
            line["stack"] = redact(record.stack_info)
        return json.dumps(line, default=str)


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Libraries that attached handlers of their own at import get the filter as well.
    for logger in list(logging.Logger.manager.loggerDict.values()):
        for own in getattr(logger, "handlers", ()):
            if not any(isinstance(f, RedactFilter) for f in own.filters):
                own.addFilter(RedactFilter())


def dict_config(service: str, level: str = "INFO") -> dict[str, Any]:
    """The same JSON logging as :func:`configure`, for frameworks that take a ``logging.config`` dict."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactFilter}},
        "formatters": {"json": {"()": JsonFormatter, "service": service}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr",
                                "filters": ["redact"]}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {name: {"level": "WARNING"} for name in QUIET},
    }
