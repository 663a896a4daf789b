"""Composition root: settings → adapters → ``Deps`` → the shared worker runtime. Nothing runs at import."""

from __future__ import annotations

from pathlib import Path

import faust

from offerflow_certification import handlers
from offerflow_certification.adapters.pg_store import PostgresReportStore
from offerflow_certification.adapters.source import DiskSource, ImageIntake
from offerflow_certification.settings import Settings
from offerflow_contract import topics
from offerflow_contract.events import CertificationFailed, ValidationPassed
from offerflow_shared import db, service, sources
from offerflow_shared.egress_policy import EgressPolicy

MIGRATIONS = Path(__file__).parent / "migrations"

SPEC = service.stage("certification", (topics.VALIDATION.name,), topics.CERTIFICATION.name,
                     ends_run_with={ValidationPassed: CertificationFailed})


def build_source(settings: Settings) -> DiskSource:
    # The one egress policy: https:// to public hosts or named endpoints (the dev object stores), file:// only
    # under the development file root, in the publisher's own folder.
    disks = sources.UrlDiskSource(
        max_bytes=settings.max_disk_bytes, chunk_bytes=settings.chunk_bytes,
        policy=EgressPolicy.from_settings(settings.common),
        ca_file=settings.common.trusted_ca_file, connect_timeout=settings.http_connect_timeout,
        read_timeout=settings.http_read_timeout)
    return ImageIntake(disks, chunk_bytes=settings.chunk_bytes, spool_dir=settings.spool_dir)


def build(settings: Settings) -> faust.App:
    source = build_source(settings)
    deps: service.Late[handlers.Deps] = service.Late("the report store")

    async def on_start() -> None:
        # The pool belongs to the worker's event loop, so it is made here and not at build time.
        pool = await db.open_migrated(settings.common.database_dsn, SPEC.name, MIGRATIONS,
                                      migration_dsn=settings.common.database_migration_dsn)
        deps.bind(handlers.Deps(source, PostgresReportStore(pool)))

    return service.build(SPEC, handlers.HANDLERS, settings, deps, on_start=on_start).app


def main() -> None:
    service.main(SPEC, Settings, build)
