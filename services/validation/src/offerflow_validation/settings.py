from __future__ import annotations

from offerflow_shared.settings import CommonSettings
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_VALIDATION_", extra="ignore")

    web_port: int = Field(6061, ge=1, le=65535)
    concurrency: int = Field(2, ge=1, le=64)
    common: CommonSettings = Field(default_factory=CommonSettings)
