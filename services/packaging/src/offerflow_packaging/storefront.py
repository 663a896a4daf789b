"""The storefront served by the worker's own web server: live pages, audience-only previews, health.

The decisions live in :class:`Storefront` (testable without a server); ``register`` only maps them onto
Faust views. A preview is served only on a preview link: a signed, unexpired, unrevoked grant for the
subscription the link names (see ``access.py``). Anything else answers exactly like a missing page, so a
preview's existence is never revealed.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from faust import web

from offerflow_packaging import access_rules, rules
from offerflow_packaging.access import PreviewAccess
from offerflow_packaging.adapters.pages import PageStore
from offerflow_packaging.render import ACCESS_TOKEN

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


log = logging.getLogger("offerflow.packaging.storefront")
_PLAIN = "<!doctype html><meta charset=utf-8><title>{0}</title><p>{0}</p>\n"
NOT_FOUND = Reply(404, _PLAIN.format("Not found").encode(), HTML, {**_SECURITY, **_PRIVATE})
# The grant store could not be asked: refuse (never show a preview unchecked), and say it may pass.
UNAVAILABLE = Reply(
    503, _PLAIN.format("Temporarily unavailable, try again shortly").encode(), HTML,
    {**_SECURITY, **_PRIVATE, "Retry-After": "5"},
)


class Storefront:
    def __init__(self, pages: PageStore, access: PreviewAccess) -> None:
        self.pages = pages
        self.access = access

    async def _read(self, publisher: str, offer: str, slot: str, name: str) -> bytes | None:
        return await asyncio.to_thread(self.pages.read, publisher, offer, slot, name)

    async def _live(self, slug: str, name: str, content_type: str, extra: dict[str, str] | None = None) -> Reply:
        ids = rules.parse_slug(slug)
        if ids is None:
            return NOT_FOUND
        body = await self._read(*ids, rules.PRODUCTION, name)
        return NOT_FOUND if body is None else Reply(200, body, content_type, {**_SECURITY, **(extra or {})})

    async def _preview(
        self, slug: str, subscription_id: str | None, token: str | None, name: str, content_type: str
    ) -> Reply:
        ids = rules.parse_slug(slug)
        if ids is None or rules.normalise_subscription(subscription_id) is None or not token:
            return NOT_FOUND
        try:
            grant = await self.access.admit(*ids, subscription_id, token)
        except Exception:
            # Whatever broke (database down, pool exhausted), the answer is "not now", never the preview.
            log.exception("preview grant check failed for %s", slug)
            return UNAVAILABLE
        if grant is None:
            return NOT_FOUND
        # The slot's own list stays a second lock: a grant never outlives the preview it was issued for.
        raw = await self._read(*ids, rules.PREVIEW, rules.AUDIENCE)
        if raw is None or not rules.in_audience(_audience(raw), grant.subscription):
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

    async def preview_page(self, slug: str, subscription_id: str | None, token: str | None) -> Reply:
        reply = await self._preview(slug, subscription_id, token, rules.PAGE, HTML)
        subscription = rules.normalise_subscription(subscription_id)
        if reply.status != 200 or subscription is None or token is None:
            return reply
        # The page's image URLs carry the viewer's own (just verified) credential, so they pass the same check.
        query = html.escape(access_rules.query(subscription, token))
        body = reply.body.replace(ACCESS_TOKEN.encode(), query.encode())
        return Reply(reply.status, body, reply.content_type, reply.headers)

    async def preview_asset(
        self, slug: str, file: str, subscription_id: str | None, token: str | None
    ) -> Reply:
        content_type = rules.asset_type(file)
        if content_type is None:
            return NOT_FOUND
        return await self._preview(slug, subscription_id, token, f"{rules.ASSETS}/{file}", content_type)

    async def preview_listing(self, slug: str, subscription_id: str | None, token: str | None) -> Reply:
        return await self._preview(slug, subscription_id, token, rules.LISTING, JSON)

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


def _param(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    return value if isinstance(value, str) else None


def _viewer(request: web.Request) -> tuple[str | None, str | None]:
    return _param(request, access_rules.SUBSCRIPTION_PARAM), _param(request, access_rules.TOKEN_PARAM)


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
        return _respond(self, await storefront.preview_asset(slug, file, *_viewer(request)))

    @page("/preview/{slug}/listing.json", name="preview-listing")
    async def preview_listing(self: web.View, request: web.Request, slug: str) -> web.Response:
        return _respond(self, await storefront.preview_listing(slug, *_viewer(request)))

    @page("/preview/{slug}", name="preview-page")
    async def preview_page(self: web.View, request: web.Request, slug: str) -> web.Response:
        return _respond(self, await storefront.preview_page(slug, *_viewer(request)))

    @page("/healthz", name="healthz")
    async def healthz(self: web.View, request: web.Request) -> web.Response:
        return _respond(self, storefront.health())
