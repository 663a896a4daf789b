from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerflow_packaging.access_rules import DEFAULT_TTL_SECONDS, check_secret
from offerflow_shared.settings import CommonSettings, refuse_unsafe

# The dev stack's folder under the working directory: production keeps pages on a volume of its own.
DEV_PAGES_ROOT = Path(".run/pages")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_PACKAGING_", extra="ignore")

    web_port: int = Field(6064, ge=1, le=65535)
    concurrency: int = Field(1, ge=1, le=64)
    pages_root: Path = DEV_PAGES_ROOT
    # Public base of the storefront this worker serves; links in events and mails are built from it.
    storefront_url: str = Field("http://127.0.0.1:6064", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # Bound on one test-lead delivery (resolve, connect, send, answer); a hanging destination fails the step.
    lead_timeout_seconds: float = Field(10.0, gt=0, le=300)
    # Bounds on copying one logo or screenshot into the page store.
    artifact_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    artifact_timeout_seconds: float = Field(10.0, gt=0, le=120)
    # A PEM CA bundle trusted for lead endpoints in addition to the public roots (an internal CRM's CA).
    lead_ca_file: Path | None = None
    # Where web-to-lead forms go when the offer's leadConfiguration names no salesForceUrl.
    salesforce_url: str = Field(
        "https://webto.salesforce.com/servlet/servlet.WebToLead?encoding=UTF-8", pattern=r"^https?://\S+$"
    )
    # Dynamics leads: the Microsoft identity platform that issues the Web API token, and the public client id
    # used with an offer's Office 365 user (password grant). Tests point the authority at a local server.
    dynamics_authority_url: str = Field("https://login.microsoftonline.com", pattern=r"^https?://\S+$")
    dynamics_public_client_id: str = "51f81489-12ee-4a9e-aaae-a2591f45987d"
    # Marketo leads: the REST base, ``{munchkinId}`` replaced by the offer's Munchkin id.
    marketo_url: str = Field("https://{munchkinId}.mktorest.com", pattern=r"^https?://\S+$")
    # Hard limit on one input of this step, retries included (the step's ETA with room to spare): past it
    # the handler is cancelled and the run fails with step-timed-out.
    step_timeout_seconds: float = Field(3600, gt=0, le=7 * 24 * 3600)
    # HMAC key of the preview links (at least 32 random bytes). The worker refuses to start without one; the
    # dev stack generates one per run. Rotating it invalidates every open preview link.
    preview_secret: SecretStr | None = None
    # How long a preview link works at most (it stops earlier when revoked).
    preview_link_ttl_seconds: int = Field(DEFAULT_TTL_SECONDS, ge=60, le=365 * 24 * 3600)
    common: CommonSettings = Field(default_factory=CommonSettings)

    @field_validator("preview_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_secret(value.get_secret_value())  # a weak secret is refused as soon as it is read
        return value

    def preview_key(self) -> bytes:
        """The signing key; a missing or weak secret stops the worker at start with a message saying why."""
        return check_secret(self.preview_secret.get_secret_value() if self.preview_secret else None)

    @field_validator("storefront_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _safe_in_production(self) -> Settings:
        refuse_unsafe(self, self.common, {"pages_root": self.pages_root == DEV_PAGES_ROOT})
        return self
