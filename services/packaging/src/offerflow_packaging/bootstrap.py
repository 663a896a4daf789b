"""Composition root: settings → adapters → ``Deps`` → the shared worker runtime. Nothing runs at import."""

from __future__ import annotations

import faust

from offerflow_contract import topics
from offerflow_contract.envelope import Envelope
from offerflow_contract.events import GoLiveFailed, GoLiveRequested, PackagingFailed, StagingPassed
from offerflow_packaging import handlers, lead_rules, storefront
from offerflow_packaging.access import PreviewAccess
from offerflow_packaging.adapters.artifacts import ArtifactSource, reader
from offerflow_packaging.adapters.lead_azure import AzureBlobSender
from offerflow_packaging.adapters.lead_crm import DynamicsSender, MarketoSender
from offerflow_packaging.adapters.lead_http import HttpsEndpointSender, SalesforceSender, TargetGuard, tls_context
from offerflow_packaging.adapters.lead_table import TableSender
from offerflow_packaging.adapters.leads import LeadRouter
from offerflow_packaging.adapters.pages import LocalPageStore
from offerflow_packaging.adapters.pg_grants import MIGRATIONS, LazyPool, PostgresGrantStore
from offerflow_packaging.settings import Settings
from offerflow_shared import db, service
from offerflow_shared.egress_policy import EgressPolicy
from offerflow_shared.secrets import SecretBox

# A given-up offer.publish_canceled is only dead-lettered: that run has already ended, canceled.
SPEC = service.stage("packaging", (topics.STAGING.name, topics.PUBLISHING.name), topics.PACKAGING.name,
                     ends_run_with={StagingPassed: PackagingFailed, GoLiveRequested: GoLiveFailed})


async def close_preview(deps: handlers.Deps, failed: Envelope) -> None:
    """After the runtime ended a run itself: its preview links stop working at once, as for any other end."""
    await deps.access.grants.close_run(failed.publisher_id, failed.offer_id, failed.run_id, "run failed")


def build_leads(settings: Settings) -> LeadRouter:
    # The one egress policy: public targets or named endpoints; the platform database and brokers never.
    guard = TargetGuard(EgressPolicy.from_settings(settings.common))
    timeout = settings.lead_timeout_seconds
    verify = tls_context(settings.lead_ca_file)
    return LeadRouter(
        {
            lead_rules.HTTPS: HttpsEndpointSender(guard, timeout, verify),
            lead_rules.SALESFORCE: SalesforceSender(guard, settings.salesforce_url, timeout, verify),
            lead_rules.TABLE: TableSender(guard, timeout, verify),
            lead_rules.BLOB: AzureBlobSender(guard, timeout, verify),
            lead_rules.DYNAMICS: DynamicsSender(guard, settings.dynamics_authority_url,
                                                settings.dynamics_public_client_id, timeout, verify),
            lead_rules.MARKETO: MarketoSender(guard, settings.marketo_url, timeout, verify),
        },
        timeout=timeout,
    )


def build_artifacts(settings: Settings) -> ArtifactSource:
    # The same reader as validation: egress-checked http(s), file:// only under the development file root.
    return reader(EgressPolicy.from_settings(settings.common), max_bytes=settings.artifact_max_bytes,
                 timeout=settings.artifact_timeout_seconds, user_agent="offerflow-packaging")


def build_access(settings: Settings) -> PreviewAccess:
    key = settings.preview_key()  # first: a worker that cannot sign links must not start at all
    # Opened on first use, on the worker's loop: both the agent and the storefront views run there.
    pool = LazyPool(lambda: db.open_migrated(settings.common.database_dsn, SPEC.name, MIGRATIONS,
                                             migration_dsn=settings.common.database_migration_dsn))
    return PreviewAccess(key, PostgresGrantStore(pool), settings.preview_link_ttl_seconds)


def build(settings: Settings) -> faust.App:
    pages = LocalPageStore(settings.pages_root)
    access = build_access(settings)
    deps = handlers.Deps(pages=pages, leads=build_leads(settings), artifacts=build_artifacts(settings),
                         storefront_url=settings.storefront_url, access=access,
                         secrets=SecretBox(settings.common.secrets_key_value()))
    worker = service.build(SPEC, handlers.HANDLERS, settings, deps, after_failure=close_preview)
    storefront.register(worker.app, storefront.Storefront(pages, access))
    return worker.app


def main() -> None:
    service.main(SPEC, Settings, build)
