"""Composition roots of the two processes: the HTTP API and the status projection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import faust
import uvicorn
from fastapi import FastAPI

from offerflow_shared import db, logs
from offerflow_shared.kafka import KafkaSink, ensure_topics
from offerflow_shared.runtime import Dispatcher, Sink
from offerflow_shared.secrets import SecretBox
from offerflow_shared.worker import FaustSink, run
from offerflow_status_api import agents, app, handlers
from offerflow_status_api.adapters.auth import Auth
from offerflow_status_api.adapters.bus import SinkBus
from offerflow_status_api.adapters.drafts import Drafts
from offerflow_status_api.adapters.history import CommandLog
from offerflow_status_api.adapters.read_model import ReadModel
from offerflow_status_api.api.app import create_app
from offerflow_status_api.api.deps import AppServices
from offerflow_status_api.commands import CommandService
from offerflow_status_api.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


async def open_database(dsn: str) -> asyncpg.Pool:
    return await db.open_migrated(dsn, "status-api", MIGRATIONS, max_size=10)


def build_api(settings: Settings) -> FastAPI:
    async def open_resources(fastapi_app: FastAPI) -> Callable[[], Awaitable[None]]:
        pool = await open_database(settings.common.database_dsn)
        await ensure_topics(settings.common.kafka_bootstrap,
                            replication_factor=settings.common.kafka_replication_factor)
        sink = KafkaSink(settings.common.kafka_bootstrap)
        await sink.start()
        commands = CommandService(pool=pool, drafts=Drafts(pool), read_model=ReadModel(pool), bus=SinkBus(sink),
                                  secrets=SecretBox(settings.common.secrets_key_value()),
                                  cancel_wait_seconds=settings.cancel_wait_seconds)
        admin = settings.admin_token.get_secret_value() if settings.admin_token else None
        fastapi_app.state.services = AppServices(commands=commands, auth=Auth(pool), log=CommandLog(pool),
                                                 admin_token=admin, public_url=settings.common.public_url)

        async def close() -> None:
            await sink.stop()
            await pool.close()

        return close

    return create_app(open_resources, max_body_bytes=settings.max_body_bytes)


def build_projection(settings: Settings) -> faust.App:
    faust_app = app.make_app(settings)
    # The pool needs the worker's event loop, so it is opened when the agent starts, not here.
    projection = handlers.Deferred()

    async def on_start() -> None:
        projection.target = ReadModel(await open_database(settings.common.database_dsn))

    sink: Sink = FaustSink(faust_app)
    dispatcher = Dispatcher(service=app.SERVICE, out_topic=app.EMITS,
                            handlers=handlers.build_handlers(projection), sink=sink)
    agents.register(faust_app, dispatcher, on_start)
    return faust_app


def main_api() -> None:
    settings = Settings()
    logs.configure("status-api", settings.common.log_level)
    # Open status streams must not hold a shutdown hostage.
    uvicorn.run(build_api(settings), host=settings.host, port=settings.port, log_config=None,
                access_log=False, timeout_graceful_shutdown=3)


def main_projection() -> None:
    settings = Settings()
    logs.configure(app.SERVICE, settings.common.log_level)
    run(build_projection(settings), settings.common.log_level.lower())
