"""Composition roots of the status-api's processes: the HTTP API, the status projection and the outbox relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import faust
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from offerflow_contract import topics
from offerflow_contract.codec import encode, headers_for, key_of
from offerflow_contract.envelope import Envelope
from offerflow_shared import db, logs, service
from offerflow_shared.kafka import ensure_topics
from offerflow_shared.secrets import SecretBox
from offerflow_status_api import eta, supervisor
from offerflow_status_api.adapters.auth import Auth
from offerflow_status_api.adapters.history import CommandLog
from offerflow_status_api.adapters.read_model import ReadModel
from offerflow_status_api.api.app import create_app
from offerflow_status_api.api.deps import AppServices
from offerflow_status_api.api.ratelimit import Rate, RateLimits
from offerflow_status_api.api.server import JsonErrorsProtocol
from offerflow_status_api.api.streams import StreamLimits, StreamRegistry
from offerflow_status_api.commands import CommandService, Quotas
from offerflow_status_api.commands.lifecycle import RunLifecycle
from offerflow_status_api.commands.postgres import PgCommandStore
from offerflow_status_api.commands.relay import OutboxRelay
from offerflow_status_api.projection import handlers
from offerflow_status_api.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


async def open_database(dsn: str, *, max_size: int = 10, timeouts: db.Timeouts | None = None,
                        migration_dsn: str | None = None, session_reset: bool = True) -> asyncpg.Pool:
    return await db.open_migrated(dsn, "status-api", MIGRATIONS, max_size=max_size, timeouts=timeouts,
                                  migration_dsn=migration_dsn, session_reset=session_reset)


def producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=settings.common.kafka_bootstrap, acks="all", enable_idempotence=True,
                            linger_ms=2)


async def start_relay(settings: Settings, stop: asyncio.Event) -> Callable[[], Awaitable[None]]:
    """The outbox relay on its own pool and producer; returns its closer."""
    pool = await open_database(settings.common.database_dsn, max_size=2,
                               migration_dsn=settings.common.database_migration_dsn)
    kafka = producer(settings)
    try:
        await kafka.start()
    except BaseException:
        await pool.close()
        raise
    task = asyncio.create_task(OutboxRelay(pool, kafka).run(stop))

    async def close() -> None:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        await kafka.stop()
        await pool.close()

    return close


def build_api(settings: Settings) -> FastAPI:
    async def open_resources(fastapi_app: FastAPI) -> Callable[[], Awaitable[None]]:
        # The request pool keeps no session state (transaction-scoped locks only), so no reset on release.
        raw = await open_database(settings.common.database_dsn, max_size=settings.pool_size,
                                  timeouts=db.API_TIMEOUTS, migration_dsn=settings.common.database_migration_dsn,
                                  session_reset=False)
        pool = db.BoundedPool(raw, settings.pool_acquire_seconds)
        # Readiness has its own connection: a busy pool is not a dead database.
        health = await db.create_pool(settings.common.database_dsn, min_size=1, max_size=1,
                                      timeouts=db.API_TIMEOUTS)
        await ensure_topics(settings.common.kafka_bootstrap,
                            replication_factor=settings.common.kafka_replication_factor)
        read_model = ReadModel(pool)
        commands = CommandService(store=PgCommandStore(pool), read_model=read_model,
                                  secrets=SecretBox(settings.common.secrets_key_value()),
                                  quotas=Quotas(settings.max_offers_per_publisher, settings.max_runs_per_hour))
        streams = StreamRegistry(StreamLimits(settings.max_streams_per_token, settings.token_recheck_seconds))
        fastapi_app.state.services = AppServices(commands=commands, read_model=read_model, auth=Auth(pool),
                                                 log=CommandLog(pool), admin_token=admin,
                                                 public_url=settings.common.public_url, health=health,
                                                 step_stats=eta.StatsCache(pool).get, streams=streams)
        stop_relay = await start_relay(settings, asyncio.Event()) if settings.embedded_relay else None

        async def close() -> None:
            if stop_relay is not None:
                await stop_relay()
            await health.close()
            await raw.close()

        return close

    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    limits = RateLimits(writes=Rate(settings.write_rate, settings.write_burst),
                        reads=Rate(settings.read_rate, settings.read_burst),
                        writes_in_flight=settings.writes_in_flight, reads_in_flight=settings.reads_in_flight)
    return create_app(open_resources, max_body_bytes=settings.max_body_bytes, rate_limits=limits,
                      admin_token=admin)


# The projection reads every topic of the contract; its step supervisor writes to offerflow.publishing.
PROJECTION = service.ServiceSpec(
    name="status-projection",
    consumes=tuple(t.name for t in topics.ALL),
    emits=topics.PUBLISHING.name,  # the supervisor's step_overdue / step_timed_out
    web_port="projection_web_port",
    concurrency=None,
)


def build_projection(settings: Settings) -> faust.App:
    # The pool needs the worker's event loop, so it is opened when the agent starts, not here.
    pool: service.Late[asyncpg.Pool] = service.Late("the projection's database pool")
    deps: service.Late[handlers.Deps] = service.Late("the read model")

    async def on_start() -> None:
        opened = pool.bind(await open_database(settings.common.database_dsn,
                                               migration_dsn=settings.common.database_migration_dsn))
        deps.bind(handlers.Deps(ReadModel(opened), RunLifecycle(PgCommandStore(opened))))

    worker = service.build(PROJECTION, handlers.HANDLERS, settings, deps, on_start=on_start)
    limits = {**supervisor.DEFAULT_LIMITS, **settings.step_limits}

    async def emit(env: Envelope) -> None:
        await worker.sink.send(topics.PUBLISHING.name, key_of(env), encode(env), headers_for(env))

    @worker.app.timer(interval=settings.supervisor_interval_seconds, on_leader=True)  # type: ignore[untyped-decorator]
    async def supervise() -> None:
        if pool.bound:
            await supervisor.sweep_safely(pool.get(), emit, datetime.now(UTC), limits)

    return worker.app


def main_api() -> None:
    settings = Settings()
    logs.configure("status-api", settings.common.log_level)
    # Open status streams must not hold a shutdown hostage.
    # The HTTP server's own 400s (an unreadable or oversized request head) in the API's error shape too.
    uvicorn.run(build_api(settings), host=settings.host, port=settings.port, log_config=None,
                access_log=False, timeout_graceful_shutdown=3, http=JsonErrorsProtocol)


def main_projection() -> None:
    service.main(PROJECTION, Settings, build_projection)


def main_relay() -> None:
    """The outbox relay as its own process (the API also runs one unless told not to; only one is active)."""
    settings = Settings()
    logs.configure("outbox-relay", settings.common.log_level)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # Started while the database or the broker is away (a restart), the relay waits for them instead of
        # exiting: a relay that is not running leaves every accepted command off Kafka.
        while not stop.is_set():
            try:
                close = await start_relay(settings, stop)
                break
            except Exception as exc:  # any start failure: wait a moment and try again
                logging.getLogger("offerflow.outbox").warning("outbox relay cannot start yet (%r); retrying", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        else:
            return
        await stop.wait()
        await close()

    asyncio.run(serve())
