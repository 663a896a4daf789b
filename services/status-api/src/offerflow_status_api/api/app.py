"""FastAPI application factory; resources are opened in the lifespan, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from offerflow_shared import metrics
from offerflow_status_api import portal
from offerflow_status_api.api import (
    errors,
    guard,
    ratelimit,
    routes_admin,
    routes_inventory,
    routes_offers,
    routes_portal,
    routes_publishing,
    routes_staging,
    routes_stream,
    routes_support,
)
from offerflow_status_api.api.deps import AppServices

Opener = Callable[[FastAPI], Awaitable[Callable[[], Awaitable[None]]]]


def create_app(open_resources: Opener, *, max_body_bytes: int = 1_048_576,
               rate_limits: ratelimit.RateLimits | None = None, admin_token: str | None = None) -> FastAPI:
    """``open_resources`` puts the AppServices on ``app.state.services`` and returns their closer; without
    ``rate_limits`` no token is rate limited (unit tests; the real process always passes its settings)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        close = await open_resources(app)
        try:
            yield
        finally:
            await close()

    app = FastAPI(title="Offerflow publisher API", version="2017-10-31", lifespan=lifespan,
                  description="Marketplace offer publishing: offers, publish, go live, cancel and status.")
    errors.install(app)
    for module in (routes_offers, routes_publishing, routes_inventory, routes_staging, routes_admin, routes_support):
        app.include_router(module.router, responses=errors.COMMON_RESPONSES)
    errors.document(app)
    app.include_router(routes_stream.router, responses=errors.COMMON_RESPONSES)
    app.include_router(routes_portal.router)  # before the static mount: it redirects old mail links
    app.mount("/portal", StaticFiles(directory=portal.STATIC_DIR, html=True), name="portal")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        services: AppServices = request.app.state.services
        try:
            await services.health.fetchval("SELECT 1")
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "database": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    app.add_middleware(guard.RequestGuard, max_body_bytes=max_body_bytes)  # before any route: see guard.py
    if rate_limits is not None:  # outermost: a refused request costs nothing, not even reading its body
        app.add_middleware(ratelimit.RateLimit, limits=rate_limits, admin_token=admin_token)
    return app
