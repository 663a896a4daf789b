"""Composition root: settings → adapters → ``Deps`` → the shared worker runtime. Nothing runs at import."""

from __future__ import annotations

import faust

from offerflow_contract import topics
from offerflow_contract.events import CertificationPassed, ProvisioningFailed
from offerflow_provisioning import handlers, rules
from offerflow_provisioning.adapters.regions import LocalRegionStore, RegionStore
from offerflow_provisioning.adapters.s3 import S3RegionStore
from offerflow_provisioning.adapters.sources import FileDiskSource, SchemeRouter
from offerflow_provisioning.replicator import Replicator
from offerflow_provisioning.settings import Settings
from offerflow_shared import service

SPEC = service.stage("provisioning", (topics.CERTIFICATION.name,), topics.PROVISIONING.name,
                     ends_run_with={CertificationPassed: ProvisioningFailed})


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


def build(settings: Settings) -> faust.App:
    deps = handlers.Deps(build_replicator(settings), list(settings.regions))
    return service.build(SPEC, handlers.HANDLERS, settings, deps).app


def main() -> None:
    service.main(SPEC, Settings, build)
