from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerflow_shared.settings import CommonSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_PACKAGING_", extra="ignore")

    web_port: int = Field(6064, ge=1, le=65535)
    concurrency: int = Field(1, ge=1, le=64)
    pages_root: Path = Path(".run/pages")
    # Public base of the storefront this worker serves; links in events and mails are built from it.
    storefront_url: str = Field("http://127.0.0.1:6064", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # Bound on one test-lead delivery (resolve, connect, send, answer); a hanging destination fails the step.
    lead_timeout_seconds: float = Field(10.0, gt=0, le=300)
    # True suits the embedded setup (endpoints on this machine); production sets false so an offer cannot
    # point packaging at loopback or private addresses (and only https:// is accepted).
    allow_private_targets: bool = True
    # Bounds on copying one logo or screenshot into the page store.
    artifact_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    artifact_timeout_seconds: float = Field(10.0, gt=0, le=120)
    # file:// artifacts are for development and tests on one machine; turn off where publishers are strangers.
    allow_file_urls: bool = True
    # A PEM CA bundle trusted for lead endpoints in addition to the public roots (an internal CRM's CA).
    lead_ca_file: Path | None = None
    # Where web-to-lead forms go when the offer's leadConfiguration names no salesForceUrl.
    salesforce_url: str = Field(
        "https://webto.salesforce.com/servlet/servlet.WebToLead?encoding=UTF-8", pattern=r"^https?://\S+$"
    )
    common: CommonSettings = Field(default_factory=CommonSettings)

    @field_validator("storefront_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
