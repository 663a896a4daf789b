from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from offerflow_shared.settings import CommonSettings, refuse_unsafe

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

# The dev stack's folder under the working directory: production keeps replicas on a volume of its own.
DEV_STORAGE_ROOT = Path(".run/regions")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_PROVISIONING_", extra="ignore")

    web_port: int = Field(6063, ge=1, le=65535)
    concurrency: int = Field(1, ge=1, le=64)
    # Comma-separated in the environment (``eastus,westeurope``); order is the replication order.
    regions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_REGIONS), min_length=1
    )
    # "local": a folder per region under storage_root; "s3": a bucket per region in S3-compatible storage.
    store: Literal["local", "s3"] = "local"
    storage_root: Path = DEV_STORAGE_ROOT
    s3_endpoint_url: str | None = None
    s3_bucket_template: str = Field("offerflow-{region}", pattern=r"^[a-z0-9.-]*\{region\}[a-z0-9.-]*$")
    s3_region_name: str = "us-east-1"
    s3_access_key_id: str | None = None
    # SecretStr keeps it out of reprs and logs; only the S3 adapter unwraps it.
    s3_secret_access_key: SecretStr | None = None
    s3_part_mib: int = Field(8, ge=5, le=512)
    s3_create_buckets: bool = True
    # Read every replica back and hash it before marking it verified (doubles the traffic, trusts nothing).
    s3_verify_readback: bool = True
    s3_timeout_seconds: float = Field(30.0, gt=0, le=600)
    chunk_mib: int = Field(4, ge=1, le=8)
    parallel_copies: int = Field(4, ge=1, le=64)
    copy_attempts: int = Field(4, ge=1, le=20)
    retry_delay_seconds: float = Field(2.0, ge=0, le=300)
    # Hard limit on one input of this step, retries included (the step's ETA with room to spare): past it
    # the handler is cancelled and the run fails with step-timed-out.
    step_timeout_seconds: float = Field(24 * 3600, gt=0, le=7 * 24 * 3600)
    common: CommonSettings = Field(default_factory=CommonSettings)

    @field_validator("regions", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [r.strip() for r in value.split(",") if r.strip()]
        return value

    @model_validator(mode="after")
    def _safe_in_production(self) -> Settings:
        refuse_unsafe(self, self.common,
                      {"storage_root": self.store == "local" and self.storage_root == DEV_STORAGE_ROOT})
        return self
