from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerflow_shared.settings import CommonSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_CERTIFICATION_", extra="ignore")

    web_port: int = Field(6062, ge=1, le=65535)
    concurrency: int = Field(2, ge=1, le=64)
    max_disk_bytes: int = Field(1024 * 1024**3 + 512, ge=1)
    chunk_bytes: int = Field(4 * 1024 * 1024, ge=4096)
    spool_dir: Path | None = None  # where http(s) images are spooled while tested; the system temp dir if unset
    http_connect_timeout: float = Field(10.0, gt=0)
    http_read_timeout: float = Field(60.0, gt=0)
    # Hard limit on one input of this step, retries included (the step's ETA with room to spare): past it
    # the handler is cancelled and the run fails with step-timed-out.
    step_timeout_seconds: float = Field(2 * 3600, gt=0, le=7 * 24 * 3600)
    common: CommonSettings = Field(default_factory=CommonSettings)
