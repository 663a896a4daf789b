"""refuse_unsafe: production refuses the embedded setup's conveniences unless OFFERFLOW_ALLOW_UNSAFE names them."""

from __future__ import annotations

import logging
import os

import pytest
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerflow_shared.settings import CommonSettings, refuse_unsafe


class Demo(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERFLOW_DEMO_", extra="ignore")

    use_dev_paths: bool = True
    common: CommonSettings = Field(default_factory=CommonSettings)

    @model_validator(mode="after")
    def _safe(self) -> Demo:
        refuse_unsafe(self, self.common, {"use_dev_paths": self.use_dev_paths})
        return self


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("OFFERFLOW_")]:
        monkeypatch.delenv(name)


def test_development_keeps_the_convenient_defaults() -> None:
    assert Demo().use_dev_paths is True


def test_production_refuses_a_default_left_unsafe_and_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFERFLOW_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match=r"OFFERFLOW_DEMO_USE_DEV_PATHS=true \(the development default\)"):
        Demo()


def test_production_refuses_an_unsafe_value_set_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFERFLOW_ENVIRONMENT", "production")
    monkeypatch.setenv("OFFERFLOW_DEMO_USE_DEV_PATHS", "true")
    with pytest.raises(ValidationError) as info:
        Demo()
    assert "OFFERFLOW_DEMO_USE_DEV_PATHS=true:" in str(info.value)
    assert "OFFERFLOW_ALLOW_UNSAFE" in str(info.value)  # the message says how to keep it on purpose


def test_production_accepts_the_safe_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFERFLOW_ENVIRONMENT", "production")
    monkeypatch.setenv("OFFERFLOW_DEMO_USE_DEV_PATHS", "false")
    assert Demo().use_dev_paths is False


def test_allow_unsafe_keeps_it_and_says_so_loudly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OFFERFLOW_ENVIRONMENT", "production")
    monkeypatch.setenv("OFFERFLOW_ALLOW_UNSAFE", " offerflow_demo_use_dev_paths , OFFERFLOW_OTHER ")
    with caplog.at_level(logging.WARNING, logger="offerflow.settings"):
        assert Demo().use_dev_paths is True
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "UNSAFE" in record.getMessage() and "OFFERFLOW_DEMO_USE_DEV_PATHS=true" in record.getMessage()


def test_allow_unsafe_is_a_set_of_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFERFLOW_ALLOW_UNSAFE", "a_b, ,C")
    assert CommonSettings().allow_unsafe == frozenset({"A_B", "C"})
    monkeypatch.delenv("OFFERFLOW_ALLOW_UNSAFE")
    assert CommonSettings().allow_unsafe == frozenset()


def test_egress_endpoints_are_host_port_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFERFLOW_EGRESS_ALLOWED_ENDPOINTS", " 127.0.0.1:9101, [::1]:9102 ,objects.internal:443")
    assert CommonSettings().egress_allowed_endpoints == {"127.0.0.1:9101", "[::1]:9102", "objects.internal:443"}
    monkeypatch.setenv("OFFERFLOW_EGRESS_ALLOWED_ENDPOINTS", "127.0.0.1")
    with pytest.raises(ValidationError, match=r"'127\.0\.0\.1' is not host:port"):
        CommonSettings()


def test_production_refuses_a_file_url_root(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("OFFERFLOW_FILE_URL_ROOT", str(tmp_path))
    assert CommonSettings().file_url_root is not None  # development: file:// under <root>/<publisher>/
    monkeypatch.setenv("OFFERFLOW_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="OFFERFLOW_FILE_URL_ROOT="):
        CommonSettings()
