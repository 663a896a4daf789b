from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerflow_shared.settings import CommonSettings, refuse_unsafe


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_VALIDATION_", extra="ignore")

    web_port: int = Field(6061, ge=1, le=65535)
    concurrency: int = Field(2, ge=1, le=64)
    artifact_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    artifact_timeout: float = Field(10.0, gt=0, le=120)
    # file:// artifacts are for development and tests on one machine; turn off where publishers are strangers.
    allow_file_urls: bool = True
    # True only because the embedded dev stack serves test artifacts from 127.0.0.1; production sets false so
    # an offer's URLs cannot reach loopback, private, link-local (cloud metadata) or multicast addresses.
    allow_private_targets: bool = True
    # A presigned (X-Amz-Expires) or SAS (se=) disk URL must stay valid this long after the publish request:
    # certification and provisioning read the disk later in the run, after queues and retries.
    min_url_validity_hours: float = Field(24.0, gt=0, le=24 * 365)
    # Hard limit on one input of this step, retries included (the step's ETA with room to spare): past it
    # the handler is cancelled and the run fails with step-timed-out.
    step_timeout_seconds: float = Field(15 * 60, gt=0, le=7 * 24 * 3600)
    common: CommonSettings = Field(default_factory=CommonSettings)

    @model_validator(mode="after")
    def _safe_in_production(self) -> Settings:
        refuse_unsafe(self, self.common, {"allow_file_urls": self.allow_file_urls,
                                          "allow_private_targets": self.allow_private_targets})
        return self
