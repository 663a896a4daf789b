"""How a URL taken from an offer is shown in a message, a report or a log: one rule for every stage."""

from __future__ import annotations

from urllib.parse import urlsplit


def redact(url: str) -> str:
    """The URL without userinfo, query and fragment: credentials and signatures live there and must never reach
    a message or a log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    return parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment="").geturl()
