from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
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
    # Per-publisher quotas, decided on the command side: offers held, and publish runs started in any hour.
    max_offers_per_publisher: int = Field(100, ge=1, le=1_000_000)
    max_runs_per_hour: int = Field(30, ge=1, le=1_000_000)
    # Per-token rate limits of the publisher API (token buckets in this process): requests per second and the
    # burst a quiet token may send at once; writes are every method but GET, HEAD and OPTIONS.
    # 10 writes a second is well above what a publisher's tools need (an offer takes a handful of writes) and
    # keeps one token's accepted writes from crowding out the others' (bench/fairness.py: at 20 a second another
    # publisher's p99 during a burst was 1.6-2.2x its p99 alone, at 10 a second 1.4-1.7x).
    write_rate: float = Field(10.0, gt=0, le=100_000)
    write_burst: int = Field(20, ge=1, le=1_000_000)
    read_rate: float = Field(50.0, gt=0, le=100_000)
    read_burst: int = Field(200, ge=1, le=1_000_000)
    # And how many requests one token may have in work at once (in this process), writes and reads apart: one
    # token's burst must not queue every other publisher behind it (bench/fairness.py). Beyond: 429, Retry-After 1.
    writes_in_flight: int = Field(2, ge=1, le=10_000)
    reads_in_flight: int = Field(8, ge=1, le=10_000)
    # Status streams: how many one token may hold open (in this process), and how often an open stream re-checks
    # that its token is still live (a revoke in another API process ends it within this many seconds).
    max_streams_per_token: int = Field(5, ge=1, le=1000)
    token_recheck_seconds: float = Field(1.0, gt=0, le=10)
    # Guards /admin (publishers and tokens); unset disables administration over HTTP.
    admin_token: SecretStr | None = None
    common: CommonSettings = Field(default_factory=CommonSettings)

    @model_validator(mode="after")
    def _bursts_hold_a_second(self) -> Self:
        # A burst below the rate would cap the rate at the burst: almost certainly a mistaken value.
        for kind in ("write", "read"):
            rate, burst = getattr(self, f"{kind}_rate"), getattr(self, f"{kind}_burst")
            if burst < rate:
                raise ValueError(f"OFFERFLOW_STATUS_API_{kind.upper()}_BURST ({burst}) must be at least "
                                 f"OFFERFLOW_STATUS_API_{kind.upper()}_RATE ({rate:g}): a burst holds a second's "
                                 "requests at least")
        return self
