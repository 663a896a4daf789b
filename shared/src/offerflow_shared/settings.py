"""Settings every service shares, read from ``OFFERFLOW_*``; each service adds its own prefix."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger("offerflow.settings")


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_", extra="ignore")

    kafka_bootstrap: str = Field("127.0.0.1:9092", min_length=3)
    # 1 for the single local broker; 3 on a cluster (Faust's own topics and topics created by the services).
    kafka_replication_factor: int = Field(1, ge=1, le=5)
    # The services' role (rows only; no password here: the dev stack passes the generated one, see deploy/postgres).
    database_dsn: str = "postgresql://offerflow_app@127.0.0.1:55432/offerflow"
    # The schema owner's DSN, used only to apply migrations at start; empty: they run on database_dsn.
    database_migration_dsn: str = ""
    log_level: str = Field("INFO", pattern=r"(?i)^(debug|info|warning|error)$")
    public_url: str = "http://127.0.0.1:8080"
    # Fernet key that seals lead credentials in events and tables (status-api and packaging only).
    secrets_key: SecretStr | None = None
    # Where this deployment runs; production refuses settings meant for tests (fault injection).
    environment: Literal["development", "test", "production"] = "development"
    # Fault injection (offerflow_shared.faults): a file named after a service here lists offer ids whose
    # input events fail on purpose. Unset by default; tests and chaos runs set it.
    faults_dir: Path | None = None
    # A PEM file of extra certificate authorities trusted for outbound https (disk and object-store URLs), added
    # to the public ones; the dev stack points it at its own CA. Unset: the public trust store only.
    trusted_ca_file: Path | None = None
    # Outbound fetches (offerflow_shared.egress): host:port pairs (comma-separated) reachable although not
    # public, e.g. the dev stack's object stores; never a blanket "allow private". The platform's database and
    # Kafka brokers are always refused, as is every pair in EGRESS_DENIED_ENDPOINTS.
    egress_allowed_endpoints: Annotated[frozenset[str], NoDecode] = frozenset()
    egress_denied_endpoints: Annotated[frozenset[str], NoDecode] = frozenset()
    # file:// URLs in offers, development only: read under <root>/<publisher id>/ and nowhere else. Unset: refused.
    file_url_root: Path | None = None
    # Variable names (comma-separated) a production deployment keeps at an unsafe value on purpose, e.g.
    # OFFERFLOW_FILE_URL_ROOT for a single-tenant install. Each is logged as a warning at start.
    allow_unsafe: Annotated[frozenset[str], NoDecode] = frozenset()

    @field_validator("allow_unsafe", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(n.strip().upper() for n in value.split(",") if n.strip())
        return value

    @field_validator("egress_allowed_endpoints", "egress_denied_endpoints", mode="before")
    @classmethod
    def _split_endpoints(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = frozenset(n.strip() for n in value.split(",") if n.strip())
        if isinstance(value, frozenset | set | list | tuple):
            from offerflow_shared.egress_policy import parse_endpoints

            parse_endpoints(value)  # a malformed entry stops the process, naming it
        return value

    @model_validator(mode="after")
    def _no_faults_in_production(self) -> CommonSettings:
        if self.environment == "production" and self.faults_dir is not None:
            raise ValueError("OFFERFLOW_FAULTS_DIR must not be set when OFFERFLOW_ENVIRONMENT is production")
        refuse_unsafe(self, self, {"file_url_root": self.file_url_root is not None})
        return self

    def secrets_key_value(self) -> str | None:
        return self.secrets_key.get_secret_value() if self.secrets_key else None


def _shown(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def refuse_unsafe(settings: BaseSettings, common: CommonSettings, unsafe: Mapping[str, bool]) -> None:
    """Stop a production process whose settings keep a convenience of the embedded setup.

    ``unsafe`` maps a field of ``settings`` to whether its current value is unsafe. Outside production nothing
    is checked, so development keeps its defaults. In production an unsafe value is refused (``ValueError``,
    naming each variable) unless its variable is listed in ``OFFERFLOW_ALLOW_UNSAFE``; an accepted one is
    logged as a warning, so the choice is visible in the logs of every start.
    """
    if common.environment != "production":
        return
    prefix = str(settings.model_config.get("env_prefix", ""))
    refused: list[str] = []
    accepted: list[str] = []
    for field, is_unsafe in unsafe.items():
        if not is_unsafe:
            continue
        name = f"{prefix}{field}".upper()
        origin = "" if field in settings.model_fields_set else " (the development default)"
        (accepted if name in common.allow_unsafe else refused).append(
            f"{name}={_shown(getattr(settings, field))}{origin}"
        )
    if accepted:
        log.warning("UNSAFE settings kept in production because OFFERFLOW_ALLOW_UNSAFE names them: %s",
                    ", ".join(accepted))
    if refused:
        raise ValueError(
            f"OFFERFLOW_ENVIRONMENT is production, which refuses {', '.join(refused)}: set a safe value, or name "
            "the variable in OFFERFLOW_ALLOW_UNSAFE to keep it on purpose"
        )
