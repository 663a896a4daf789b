"""Composition root: settings → adapters → handlers → dispatcher → Faust app. Nothing runs at import."""

from __future__ import annotations

import faust
import httpx

from offerflow_packaging import agents, app, handlers, lead_rules, storefront
from offerflow_packaging.adapters.artifacts import ArtifactSource, FileSource, HttpSource, SchemeRouter
from offerflow_packaging.adapters.lead_http import HttpsEndpointSender, SalesforceSender, TargetGuard, tls_context
from offerflow_packaging.adapters.lead_table import TableSender
from offerflow_packaging.adapters.leads import LeadRouter
from offerflow_packaging.adapters.pages import LocalPageStore
from offerflow_packaging.settings import Settings
from offerflow_shared import logs
from offerflow_shared.runtime import Dispatcher, Sink
from offerflow_shared.secrets import SecretBox
from offerflow_shared.worker import FaustSink, run


def build_dispatcher(sink: Sink, deps: handlers.Deps) -> Dispatcher:
    return Dispatcher(
        service=app.SERVICE, out_topic=app.EMITS, handlers=handlers.build_handlers(deps), sink=sink
    )


def build_leads(settings: Settings) -> LeadRouter:
    guard = TargetGuard(settings.allow_private_targets)
    timeout = settings.lead_timeout_seconds
    verify = tls_context(settings.lead_ca_file)
    return LeadRouter(
        {
            lead_rules.HTTPS: HttpsEndpointSender(guard, timeout, verify),
            lead_rules.SALESFORCE: SalesforceSender(guard, settings.salesforce_url, timeout, verify),
            lead_rules.TABLE: TableSender(guard, timeout),
        },
        timeout=timeout,
    )


def build_artifacts(settings: Settings) -> ArtifactSource:
    limit, timeout = settings.artifact_max_bytes, settings.artifact_timeout_seconds
    client = httpx.AsyncClient(timeout=timeout, headers={"User-Agent": "offerflow-packaging"})
    web = HttpSource(client, max_bytes=limit, timeout=timeout, allow_private=settings.allow_private_targets)
    sources: dict[str, ArtifactSource] = {"https": web, "http": web}
    if settings.allow_file_urls:
        sources["file"] = FileSource(max_bytes=limit)
    return SchemeRouter(sources)


def build(settings: Settings) -> faust.App:
    pages = LocalPageStore(settings.pages_root)
    deps = handlers.Deps(pages=pages, leads=build_leads(settings), artifacts=build_artifacts(settings),
                         storefront_url=settings.storefront_url,
                         secrets=SecretBox(settings.common.secrets_key_value()))
    faust_app = app.make_app(settings)
    agents.register(faust_app, build_dispatcher(FaustSink(faust_app), deps), concurrency=settings.concurrency)
    storefront.register(faust_app, storefront.Storefront(pages))
    return faust_app


def main() -> None:
    settings = Settings()
    logs.configure(app.SERVICE, settings.common.log_level)
    run(build(settings), settings.common.log_level.lower())
