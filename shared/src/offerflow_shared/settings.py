"""Settings every service shares, read from ``OFFERFLOW_*``; each service adds its own prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_", extra="ignore")

    kafka_bootstrap: str = Field("127.0.0.1:9092", min_length=3)
    # 1 for the single local broker; 3 on a cluster (Faust's own topics and topics created by the services).
    kafka_replication_factor: int = Field(1, ge=1, le=5)
    database_dsn: str = "postgresql://offerflow:offerflow@127.0.0.1:55432/offerflow"
    log_level: str = Field("INFO", pattern=r"(?i)^(debug|info|warning|error)$")
    public_url: str = "http://127.0.0.1:8080"
    # Fernet key that seals lead credentials in events and tables (status-api and packaging only).
    secrets_key: SecretStr | None = None
    # Where this deployment runs; production refuses settings meant for tests (fault injection).
    environment: Literal["development", "test", "production"] = "development"
    # Fault injection (offerflow_shared.faults): a file named after a service here lists offer ids whose
    # input events fail on purpose. Unset by default; tests and chaos runs set it.
    faults_dir: Path | None = None

    @model_validator(mode="after")
    def _no_faults_in_production(self) -> CommonSettings:
        if self.environment == "production" and self.faults_dir is not None:
            raise ValueError("OFFERFLOW_FAULTS_DIR must not be set when OFFERFLOW_ENVIRONMENT is production")
        return self

    def secrets_key_value(self) -> str | None:
        return self.secrets_key.get_secret_value() if self.secrets_key else None
