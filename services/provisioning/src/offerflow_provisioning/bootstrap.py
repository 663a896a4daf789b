"""Composition root: settings → adapters → ``Deps`` → the shared worker runtime. Nothing runs at import."""

from __future__ import annotations

import faust

from offerflow_contract import topics
from offerflow_contract.events import CertificationPassed, ProvisioningFailed
from offerflow_provisioning import handlers, rules
from offerflow_provisioning.adapters.s3 import S3RegionStore
from offerflow_provisioning.replicator import Replicator
from offerflow_provisioning.settings import Settings
from offerflow_shared import service
from offerflow_shared.egress_policy import EgressPolicy
from offerflow_shared.sources import UrlDiskSource

SPEC = service.stage("provisioning", (topics.CERTIFICATION.name,), topics.PROVISIONING.name,
                     ends_run_with={CertificationPassed: ProvisioningFailed})


def build_replicator(settings: Settings) -> Replicator:
    stores = {r.name: S3RegionStore(r, timeout=settings.timeout_seconds, readback=settings.readback)
              for r in settings.regions.regions}
    return Replicator(
        # The same source as certification: streamed, size-bounded, TLS-verified, every connection checked by
        # the one egress policy; file:// only under the development file root, in the publisher's own folder.
        UrlDiskSource(max_bytes=settings.max_disk_bytes, policy=EgressPolicy.from_settings(settings.common),
                      ca_file=settings.common.trusted_ca_file,
                      connect_timeout=settings.timeout_seconds, read_timeout=settings.timeout_seconds),
        stores,
        part_size=settings.part_mib * rules.MIB,
        parallel=settings.parallel_disks,
        attempts=settings.copy_attempts,
        retry_delay=settings.retry_delay_seconds,
    )


def build(settings: Settings) -> faust.App:
    deps = handlers.Deps(build_replicator(settings), settings.regions.names)
    return service.build(SPEC, handlers.HANDLERS, settings, deps).app


def main() -> None:
    service.main(SPEC, Settings, build)
