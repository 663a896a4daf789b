from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerflow_shared.settings import CommonSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_VALIDATION_", extra="ignore")

    web_port: int = Field(6061, ge=1, le=65535)
    concurrency: int = Field(2, ge=1, le=64)
    artifact_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    artifact_timeout: float = Field(10.0, gt=0, le=120)
    # A presigned (X-Amz-Expires) or SAS (se=) disk URL must stay valid this long after the publish request:
    # certification and provisioning read the disk later in the run, after queues and retries.
    min_url_validity_hours: float = Field(24.0, gt=0, le=24 * 365)
    # Hard limit on one input of this step, retries included (the step's ETA with room to spare): past it
    # the handler is cancelled and the run fails with step-timed-out.
    step_timeout_seconds: float = Field(15 * 60, gt=0, le=7 * 24 * 3600)
    common: CommonSettings = Field(default_factory=CommonSettings)
