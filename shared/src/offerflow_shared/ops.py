"""Operations pages of every Faust worker (``/healthz``, ``/readyz``, ``/metrics``, with its consumer lag).

Installed by :func:`offerflow_shared.worker.run`, after the service has added its own pages, so a page a
service already serves (packaging's storefront has its own ``/healthz``) is left as it is.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import faust
from aiokafka.admin import AIOKafkaAdminClient

from offerflow_shared import lag, metrics

log = logging.getLogger("offerflow.ops")

Check = Callable[[], Awaitable[object]]
CHECK_TIMEOUT = 5.0


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str


def _json(status: int, data: Mapping[str, Any]) -> Reply:
    return Reply(status, json.dumps(data).encode(), "application/json")


def healthz() -> Reply:
    return _json(200, {"status": "ok"})


def metrics_page() -> Reply:
    return Reply(200, metrics.exposition(), metrics.CONTENT_TYPE)


async def broker_reachable(bootstrap: str) -> None:
    """A metadata request to the cluster: raises if no broker answers."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(CHECK_TIMEOUT * 1000))
    try:
        await admin.start()
        await admin.describe_cluster()
    finally:
        await admin.close()


async def readyz(checks: Mapping[str, Check]) -> Reply:
    """Ready when every check (broker, and the database for services that have one) passes."""
    failed: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    if failed:
        return _json(503, {"status": "unavailable", **failed})
    return _json(200, {"status": "ready", "checks": sorted(checks)})


def _bootstrap(app: faust.App) -> str:
    return ",".join(str(url).removeprefix("kafka://") for url in app.conf.broker)


_Route = Callable[..., Awaitable[Any]]


def install(app: faust.App, checks: Mapping[str, Check] | None = None) -> None:
    """Add the operations pages (those the app does not serve yet) and the lag timer."""
    service = str(app.conf.id).removeprefix("offerflow-")
    bootstrap = _bootstrap(app)
    all_checks: dict[str, Check] = {"broker": lambda: broker_reachable(bootstrap), **(checks or {})}
    # Faust ships no type information; a typed alias keeps the route functions checked.
    page = cast(Callable[..., Callable[[_Route], _Route]], app.page)
    served = set(app.web.views)

    def respond(view: Any, reply: Reply) -> Any:
        # The full type goes in the header: the server refuses a charset inside its content_type argument.
        return view.bytes(reply.body, status=reply.status, headers={"Content-Type": reply.content_type})

    if "/healthz" not in served:
        @page("/healthz", name="ops-healthz")
        async def health(self: Any, request: Any) -> Any:
            return respond(self, healthz())

    if "/readyz" not in served:
        @page("/readyz", name="ops-readyz")
        async def ready(self: Any, request: Any) -> Any:
            return respond(self, await readyz(all_checks))

    if "/metrics" not in served:
        @page("/metrics", name="ops-metrics")
        async def scrape(self: Any, request: Any) -> Any:
            return respond(self, metrics_page())

    # Lag is read at scrape time from the worker's own consumer (offerflow_shared.lag); the timer only refreshes
    # the end offsets of partitions the consumer is not fetching, through that same consumer.
    offsets = lag.FaustOffsets(app)
    lag.COLLECTOR.track(offsets.group, offsets.snapshot)

    async def refresh() -> None:
        try:
            await offsets.refresh()
        except Exception as exc:  # a missed refresh is harmless; the next tick tries again
            log.warning("consumer end offsets not refreshed: %r", exc)

    app.timer(lag.REFRESH_SECONDS, name=f"{service}-consumer-offsets")(refresh)
