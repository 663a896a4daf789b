from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from offerflow_shared.settings import CommonSettings
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_REGIONS = (
    "eastus",
    "westus2",
    "westeurope",
    "northeurope",
    "southeastasia",
    "japaneast",
    "brazilsouth",
    "australiaeast",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_PROVISIONING_", extra="ignore")

    web_port: int = Field(6063, ge=1, le=65535)
    concurrency: int = Field(1, ge=1, le=64)
    # Comma-separated in the environment (``eastus,westeurope``); order is the replication order.
    regions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_REGIONS), min_length=1
    )
    storage_root: Path = Path(".run/regions")
    chunk_mib: int = Field(4, ge=1, le=8)
    parallel_copies: int = Field(4, ge=1, le=64)
    copy_attempts: int = Field(4, ge=1, le=20)
    retry_delay_seconds: float = Field(2.0, ge=0, le=300)
    common: CommonSettings = Field(default_factory=CommonSettings)

    @field_validator("regions", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [r.strip() for r in value.split(",") if r.strip()]
        return value
