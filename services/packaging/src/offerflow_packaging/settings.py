from __future__ import annotations

from pathlib import Path

from offerflow_shared.settings import CommonSettings
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_PACKAGING_", extra="ignore")

    web_port: int = Field(6064, ge=1, le=65535)
    concurrency: int = Field(1, ge=1, le=64)
    pages_root: Path = Path(".run/pages")
    # Public base of the storefront this worker serves; links in events and mails are built from it.
    storefront_url: str = Field("http://127.0.0.1:6064", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    common: CommonSettings = Field(default_factory=CommonSettings)

    @field_validator("storefront_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
