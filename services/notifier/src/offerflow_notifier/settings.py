from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerflow_shared.settings import CommonSettings, refuse_unsafe

TlsMode = Literal["none", "starttls", "tls"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_NOTIFIER_", extra="ignore")

    smtp_host: str = Field("127.0.0.1", min_length=1)
    smtp_port: int = Field(1025, ge=1, le=65535)
    smtp_username: str | None = None
    # SecretStr keeps the password out of reprs and logs; only the SMTP adapter unwraps it.
    smtp_password: SecretStr | None = None
    smtp_tls: TlsMode = "none"
    smtp_timeout: float = Field(30.0, gt=0)
    smtp_attempts: int = Field(4, ge=1, le=20)
    smtp_retry_delay: float = Field(1.0, ge=0)
    smtp_retry_max_delay: float = Field(20.0, ge=0)
    sender: str = Field("Offerflow <noreply@offerflow.local>", min_length=3)
    # Where publishers' support requests and replies are mailed (the desk answers with `offerflow support`).
    support_address: str = Field("support@offerflow.local", pattern=r"^[^@\s,;<>]+@[^@\s,;<>]+$")
    web_port: int = Field(6065, ge=1, le=65535)
    # 1 keeps the mails about one offer in the order their events were read.
    concurrency: int = Field(1, ge=1, le=64)
    common: CommonSettings = Field(default_factory=CommonSettings)

    @model_validator(mode="after")
    def _safe_in_production(self) -> Settings:
        # The default host is the dev stack's mail sink on this machine; production names its relay.
        refuse_unsafe(self, self.common, {"smtp_host": "smtp_host" not in self.model_fields_set,
                                          "support_address": "support_address" not in self.model_fields_set})
        return self
