from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerflow_contract.steps import StepId
from offerflow_shared.settings import CommonSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_STATUS_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    projection_web_port: int = Field(6066, ge=1, le=65535)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    # Database connections of the API, and how long a request waits for one before it answers 503.
    pool_size: int = Field(10, ge=2, le=200)
    pool_acquire_seconds: float = Field(2.0, gt=0, le=30)
    # The API process relays its outbox to Kafka itself unless a separate `offerflow-outbox-relay` does
    # (only one relay is active at a time either way).
    embedded_relay: bool = True
    # The step supervisor (in the projection process): how often it looks, and each step's hard limit in
    # seconds, e.g. OFFERFLOW_STATUS_API_STEP_LIMITS='{"displayprovision": 93600}' (unset steps keep defaults).
    supervisor_interval_seconds: float = Field(30.0, gt=0, le=3600)
    step_limits: dict[StepId, int] = Field(default_factory=dict)
    # Guards /admin (publishers and tokens); unset disables administration over HTTP.
    admin_token: SecretStr | None = None
    common: CommonSettings = Field(default_factory=CommonSettings)
