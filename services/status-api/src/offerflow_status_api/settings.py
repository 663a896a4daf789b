from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerflow_shared.settings import CommonSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_STATUS_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    projection_web_port: int = Field(6066, ge=1, le=65535)
    cancel_wait_seconds: float = Field(15.0, gt=0, le=120)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    # Guards /admin (publishers and tokens); unset disables administration over HTTP.
    admin_token: SecretStr | None = None
    common: CommonSettings = Field(default_factory=CommonSettings)
