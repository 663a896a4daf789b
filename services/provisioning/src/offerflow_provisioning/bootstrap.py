"""Composition root: settings → adapters → handlers → dispatcher → Faust app. Nothing runs at import."""

from __future__ import annotations

import faust

from offerflow_provisioning import agents, app, handlers, rules
from offerflow_provisioning.adapters.regions import LocalRegionStore, RegionStore
from offerflow_provisioning.adapters.s3 import S3RegionStore
from offerflow_provisioning.adapters.sources import FileDiskSource, SchemeRouter
from offerflow_provisioning.replicator import Replicator
from offerflow_provisioning.settings import Settings
from offerflow_shared import logs
from offerflow_shared.events import CertificationPassed, ProvisioningFailed
from offerflow_shared.failures import stage_failures
from offerflow_shared.faults import Faults
from offerflow_shared.runtime import Dispatcher, Sink
from offerflow_shared.worker import FaustSink, run


def build_store(settings: Settings) -> RegionStore:
    if settings.store == "s3":
        secret = settings.s3_secret_access_key
        return S3RegionStore(
            endpoint_url=settings.s3_endpoint_url,
            bucket_template=settings.s3_bucket_template,
            region_name=settings.s3_region_name,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            part_size=settings.s3_part_mib * rules.MIB,
            create_buckets=settings.s3_create_buckets,
            verify_readback=settings.s3_verify_readback,
            timeout=settings.s3_timeout_seconds,
        )
    return LocalRegionStore(settings.storage_root)


def build_replicator(settings: Settings) -> Replicator:
    return Replicator(
        SchemeRouter({"file": FileDiskSource()}),
        build_store(settings),
        chunk_size=settings.chunk_mib * rules.MIB,
        parallel=settings.parallel_copies,
        attempts=settings.copy_attempts,
        retry_delay=settings.retry_delay_seconds,
    )


# What the run ends with when the runtime gives up on an input (see offerflow_shared.failures).
FAILURES = stage_failures({CertificationPassed.event_type: ProvisioningFailed})


def build_dispatcher(sink: Sink, replicator: Replicator, settings: Settings) -> Dispatcher:
    return Dispatcher(
        service=app.SERVICE,
        out_topic=app.EMITS,
        handlers=handlers.build_handlers(replicator, settings.regions),
        sink=sink,
        failure=FAILURES,
        step_timeout=settings.step_timeout_seconds,
        faults=Faults(settings.common.faults_dir, app.SERVICE),
    )


def build(settings: Settings) -> faust.App:
    faust_app = app.make_app(settings)
    dispatcher = build_dispatcher(FaustSink(faust_app), build_replicator(settings), settings)
    agents.register(faust_app, dispatcher, concurrency=settings.concurrency)
    return faust_app


def main() -> None:
    settings = Settings()
    logs.configure(app.SERVICE, settings.common.log_level)
    run(build(settings), settings.common.log_level.lower())
