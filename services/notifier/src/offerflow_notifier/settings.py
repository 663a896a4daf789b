from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerflow_shared.settings import CommonSettings

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
    web_port: int = Field(6065, ge=1, le=65535)
    # 1 keeps the mails about one offer in the order their events were read.
    concurrency: int = Field(1, ge=1, le=64)
    common: CommonSettings = Field(default_factory=CommonSettings)
