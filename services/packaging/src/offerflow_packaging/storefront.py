"""The storefront served by the worker's own web server: live pages, audience-only previews, health.

The decisions live in :class:`Storefront` (testable without a server); ``register`` only maps them onto
Faust views. A preview answers exactly like a missing page to anyone outside its audience, so its
existence is never revealed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote

import faust
from faust import web

from offerflow_packaging import rules
from offerflow_packaging.adapters.pages import PageStore
from offerflow_packaging.render import SUBSCRIPTION_TOKEN

HTML = "text/html; charset=utf-8"
JSON = "application/json"
_SECURITY = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    # Preview URLs carry a subscription id: never hand it to the sites the page links to.
    "Referrer-Policy": "no-referrer",
}
_Route = Callable[..., Awaitable[web.Response]]
_PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex, nofollow"}
# Live assets are content-addressed: a name never changes meaning, so caches may keep them.
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


NOT_FOUND = Reply(404, b'{"error": "not found"}', JSON, {**_SECURITY, **_PRIVATE})


class Storefront:
    def __init__(self, pages: PageStore) -> None:
        self.pages = pages

    async def _read(self, publisher: str, offer: str, slot: str, name: str) -> bytes | None:
        return await asyncio.to_thread(self.pages.read, publisher, offer, slot, name)

    async def _live(self, slug: str, name: str, content_type: str, extra: dict[str, str] | None = None) -> Reply:
        ids = rules.parse_slug(slug)
        if ids is None:
            return NOT_FOUND
        body = await self._read(*ids, rules.PRODUCTION, name)
        return NOT_FOUND if body is None else Reply(200, body, content_type, {**_SECURITY, **(extra or {})})

    async def _preview(self, slug: str, subscription_id: str | None, name: str, content_type: str) -> Reply:
        ids = rules.parse_slug(slug)
        if ids is None or rules.normalise_subscription(subscription_id) is None:
            return NOT_FOUND
        raw = await self._read(*ids, rules.PREVIEW, rules.AUDIENCE)
        if raw is None or not rules.in_audience(_audience(raw), subscription_id):
            return NOT_FOUND
        body = await self._read(*ids, rules.PREVIEW, name)
        return NOT_FOUND if body is None else Reply(200, body, content_type, {**_SECURITY, **_PRIVATE})

    async def live_page(self, slug: str) -> Reply:
        return await self._live(slug, rules.PAGE, HTML)

    async def live_listing(self, slug: str) -> Reply:
        return await self._live(slug, rules.LISTING, JSON)

    async def live_asset(self, slug: str, file: str) -> Reply:
        content_type = rules.asset_type(file)
        if content_type is None:
            return NOT_FOUND
        return await self._live(slug, f"{rules.ASSETS}/{file}", content_type, _IMMUTABLE)

    async def preview_page(self, slug: str, subscription_id: str | None) -> Reply:
        reply = await self._preview(slug, subscription_id, rules.PAGE, HTML)
        subscription = rules.normalise_subscription(subscription_id)
        if reply.status != 200 or subscription is None:
            return reply
        # The page's image URLs carry the viewer's own (validated, canonical) id, so they pass the same check.
        body = reply.body.replace(SUBSCRIPTION_TOKEN.encode(), quote(subscription).encode())
        return Reply(reply.status, body, reply.content_type, reply.headers)

    async def preview_asset(self, slug: str, file: str, subscription_id: str | None) -> Reply:
        content_type = rules.asset_type(file)
        if content_type is None:
            return NOT_FOUND
        return await self._preview(slug, subscription_id, f"{rules.ASSETS}/{file}", content_type)

    async def preview_listing(self, slug: str, subscription_id: str | None) -> Reply:
        return await self._preview(slug, subscription_id, rules.LISTING, JSON)

    def health(self) -> Reply:
        return Reply(200, b'{"status": "ok"}', JSON)


def _audience(raw: bytes) -> list[str]:
    try:
        value: Any = json.loads(raw)
    except ValueError:
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _respond(view: web.View, reply: Reply) -> web.Response:
    # The full type goes in the header: the server refuses a charset inside its content_type argument.
    headers = {**reply.headers, "Content-Type": reply.content_type}
    return view.bytes(reply.body, status=reply.status, headers=headers)


def _subscription(request: web.Request) -> str | None:
    value = request.query.get("subscriptionId")
    return value if isinstance(value, str) else None


def register(app: faust.App, storefront: Storefront) -> None:
    """Add the storefront routes to the app's web server (the one on ``web_port``)."""
    # Faust ships no type information; a typed alias keeps the route functions checked.
    page = cast(Callable[..., Callable[[_Route], _Route]], app.page)

    @page("/apps/{slug}/listing.json", name="live-listing")
    async def live_listing(self: web.View, request: web.Request, slug: str) -> web.Response:
        return _respond(self, await storefront.live_listing(slug))

    @page("/apps/{slug}", name="live-page")
    async def live_page(self: web.View, request: web.Request, slug: str) -> web.Response:
        return _respond(self, await storefront.live_page(slug))

    @page("/apps/{slug}/assets/{file}", name="live-asset")
    async def live_asset(self: web.View, request: web.Request, slug: str, file: str) -> web.Response:
        return _respond(self, await storefront.live_asset(slug, file))

    @page("/preview/{slug}/assets/{file}", name="preview-asset")
    async def preview_asset(self: web.View, request: web.Request, slug: str, file: str) -> web.Response:
        return _respond(self, await storefront.preview_asset(slug, file, _subscription(request)))

    @page("/preview/{slug}/listing.json", name="preview-listing")
    async def preview_listing(self: web.View, request: web.Request, slug: str) -> web.Response:
        return _respond(self, await storefront.preview_listing(slug, _subscription(request)))

    @page("/preview/{slug}", name="preview-page")
    async def preview_page(self: web.View, request: web.Request, slug: str) -> web.Response:
        return _respond(self, await storefront.preview_page(slug, _subscription(request)))

    @page("/healthz", name="healthz")
    async def healthz(self: web.View, request: web.Request) -> web.Response:
        return _respond(self, storefront.health())
