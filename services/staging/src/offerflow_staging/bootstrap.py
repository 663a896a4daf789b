"""Composition root: settings → adapters → ``Deps`` → the shared worker runtime. Nothing runs at import."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

import faust

from offerflow_contract import topics
from offerflow_contract.events import ProvisioningPassed, StagingFailed, StagingReport
from offerflow_shared import db, service, worker
from offerflow_staging import handlers
from offerflow_staging.adapters.replicas import S3Replicas
from offerflow_staging.adapters.results import PostgresResultStore
from offerflow_staging.settings import Settings

log = logging.getLogger("offerflow.staging")
MIGRATIONS = Path(__file__).parent / "migrations"

SPEC = service.stage("staging", (topics.PROVISIONING.name, topics.PUBLISHING.name), topics.STAGING.name,
                     ends_run_with={ProvisioningPassed: StagingFailed})
# A boot holds its input for minutes and the shared agent takes one input at a time, so the publishing topic gets
# an agent of its own: a new Publish, a step time-out or a cancel reaches the worker while a boot runs and stops
# it. It emits nothing, so it needs no failure event.
BOOT_SPEC = dataclasses.replace(SPEC, consumes=(topics.PROVISIONING.name,))
CONTROL_SPEC = dataclasses.replace(SPEC, name="staging-control", consumes=(topics.PUBLISHING.name,), failure=None,
                                   faults=False, step_timeout=None)


class EngineBooter:
    """The boot engine (``offerflow_staging.engine``) behind the handlers' ``Booter`` port."""

    def __init__(self, settings: Settings) -> None:
        from offerflow_staging import engine

        self._engine: Any = engine
        self._settings = engine.BootSettings(
            work_dir=settings.boots_dir, qemu_binary=settings.qemu_binary, memory_mib=settings.memory_mib,
            accelerator=settings.accelerator, boot_timeout_seconds=settings.boot_timeout_seconds,
            login_timeout_seconds=settings.login_timeout_seconds, user=settings.user)

    async def boot_check(self, image: Path, *, plan_id: str, image_version: str, region: str, location: str,
                         on_check: handlers.OnCheck | None = None) -> StagingReport:
        try:
            report: StagingReport = await self._engine.boot_check(
                image, plan_id=plan_id, image_version=image_version, region=region, location=location,
                settings=self._settings, on_check=on_check)
        except self._engine.UnusableImage as exc:
            raise handlers.Unbootable(str(exc)) from exc
        return report

    def reap(self) -> list[int]:
        pids: list[int] = self._engine.reap_leftovers(self._settings.work_dir)
        return pids


def clean_work_dir(settings: Settings, booter: EngineBooter) -> None:
    """What a killed worker left: its QEMU processes (killed) and its downloads (never complete ones)."""
    settings.boots_dir.mkdir(parents=True, exist_ok=True)
    reaped = booter.reap()
    if reaped:
        log.warning("killed %d QEMU process(es) a previous worker left: %s", len(reaped), reaped)
    shutil.rmtree(settings.replicas_dir, ignore_errors=True)
    settings.replicas_dir.mkdir(parents=True, exist_ok=True)


def build(settings: Settings) -> faust.App:
    booter = EngineBooter(settings)
    replicas = S3Replicas(settings.regions, settings.replicas_dir, max_bytes=settings.max_replica_bytes,
                          timeout=settings.download_timeout_seconds)
    deps: service.Late[handlers.Deps] = service.Late("the result store")
    lock = asyncio.Lock()

    async def on_start() -> None:
        # Both agents call this; the first one binds. The pool belongs to the worker's loop, so it is made here.
        async with lock:
            if deps.bound:
                return
            await asyncio.to_thread(clean_work_dir, settings, booter)
            pool = await db.open_migrated(settings.common.database_dsn, SPEC.name, MIGRATIONS,
                                          migration_dsn=settings.common.database_migration_dsn)
            deps.bind(handlers.Deps(booter, replicas, PostgresResultStore(pool), settings.regions.names,
                                    enforce=settings.enforce))

    built = service.build(BOOT_SPEC, handlers.BOOTS, settings, deps, on_start=on_start)
    control = service.dispatcher(CONTROL_SPEC, handlers.CONTROL, deps, built.sink)
    worker.attach(built.app, CONTROL_SPEC.consumes, control, concurrency=1, on_start=on_start)
    return built.app


def main() -> None:
    service.main(SPEC, Settings, build)
