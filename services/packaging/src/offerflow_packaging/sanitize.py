"""The publisher's HTML (description, terms) and URLs, reduced to what a product page may show."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import nh3

ALLOWED_TAGS = frozenset({"p", "br", "b", "i", "strong", "em", "ul", "ol", "li", "a", "h3", "h4"})
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https"})
# Their text is code or widget fallback, never prose: drop it with the tag instead of showing it.
DROP_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "iframe",
        "noscript",
        "object",
        "embed",
        "template",
        "textarea",
        "title",
        "svg",
        "math",
    }
)


def clean_html(value: Any) -> str:
    """Only simple tags survive; every attribute but an http(s) ``a href`` is removed."""
    if not isinstance(value, str) or not value.strip():
        return ""
    return nh3.clean(
        value,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        url_relative="deny",
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
    )


def safe_url(value: Any) -> str | None:
    """An absolute http(s) URL, or None: a ``javascript:`` logo or link is dropped, not escaped."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in URL_SCHEMES or not parts.netloc or any(c.isspace() for c in url):
        return None
    return url


def text(value: Any, limit: int = 3000) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""
