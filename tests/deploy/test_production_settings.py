"""Each service's settings in production: the embedded setup's conveniences are refused at start, by name,
unless OFFERFLOW_ALLOW_UNSAFE keeps them; development keeps today's defaults."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from offerflow_certification.settings import Settings as CertificationSettings
from offerflow_notifier.settings import Settings as NotifierSettings
from offerflow_packaging.settings import Settings as PackagingSettings
from offerflow_provisioning.settings import Settings as ProvisioningSettings
from offerflow_validation.settings import Settings as ValidationSettings

# Settings class -> (the variables production refuses at their development value, the safe values).
UNSAFE: dict[type[BaseSettings], tuple[set[str], dict[str, str]]] = {
    ValidationSettings: (
        {"OFFERFLOW_VALIDATION_ALLOW_FILE_URLS", "OFFERFLOW_VALIDATION_ALLOW_PRIVATE_TARGETS"},
        {"OFFERFLOW_VALIDATION_ALLOW_FILE_URLS": "false", "OFFERFLOW_VALIDATION_ALLOW_PRIVATE_TARGETS": "false"},
    ),
    CertificationSettings: (
        {"OFFERFLOW_CERTIFICATION_ALLOW_PRIVATE_TARGETS"},
        {"OFFERFLOW_CERTIFICATION_ALLOW_PRIVATE_TARGETS": "false"},
    ),
    ProvisioningSettings: (
        {"OFFERFLOW_PROVISIONING_STORAGE_ROOT"},
        {"OFFERFLOW_PROVISIONING_STORAGE_ROOT": "/data/regions"},
    ),
    PackagingSettings: (
        {"OFFERFLOW_PACKAGING_ALLOW_FILE_URLS", "OFFERFLOW_PACKAGING_ALLOW_PRIVATE_TARGETS",
         "OFFERFLOW_PACKAGING_PAGES_ROOT"},
        {"OFFERFLOW_PACKAGING_ALLOW_FILE_URLS": "false", "OFFERFLOW_PACKAGING_ALLOW_PRIVATE_TARGETS": "false",
         "OFFERFLOW_PACKAGING_PAGES_ROOT": "/data/pages"},
    ),
    NotifierSettings: ({"OFFERFLOW_NOTIFIER_SMTP_HOST"}, {"OFFERFLOW_NOTIFIER_SMTP_HOST": "smtp.example.com"}),
}
CLASSES = sorted(UNSAFE, key=lambda cls: cls.__module__)


def service_of(cls: type[BaseSettings]) -> str:
    return cls.__module__.split(".")[0]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("OFFERFLOW_")]:
        monkeypatch.delenv(name)


def production(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    monkeypatch.setenv("OFFERFLOW_ENVIRONMENT", "production")
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("cls", CLASSES, ids=service_of)
def test_development_starts_with_the_defaults(cls: type[BaseSettings]) -> None:
    cls()


@pytest.mark.parametrize("cls", CLASSES, ids=service_of)
def test_production_refuses_every_unsafe_default_by_name(
    cls: type[BaseSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    production(monkeypatch)
    with pytest.raises(ValidationError) as info:
        cls()
    for name in UNSAFE[cls][0]:
        assert f"{name}=" in str(info.value)


@pytest.mark.parametrize("cls", CLASSES, ids=service_of)
def test_production_refuses_each_one_left_alone(cls: type[BaseSettings], monkeypatch: pytest.MonkeyPatch) -> None:
    names, safe = UNSAFE[cls]
    for left in names:
        production(monkeypatch, **{n: v for n, v in safe.items() if n != left})
        monkeypatch.delenv(left, raising=False)
        with pytest.raises(ValidationError, match=left):
            cls()


@pytest.mark.parametrize("cls", CLASSES, ids=service_of)
def test_production_starts_with_safe_values(cls: type[BaseSettings], monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, **UNSAFE[cls][1])
    cls()


@pytest.mark.parametrize("cls", CLASSES, ids=service_of)
def test_production_keeps_what_allow_unsafe_names(cls: type[BaseSettings], monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, OFFERFLOW_ALLOW_UNSAFE=",".join(sorted(UNSAFE[cls][0])))
    cls()


def test_the_safe_values_are_what_the_services_see(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, **UNSAFE[ValidationSettings][1], **UNSAFE[PackagingSettings][1])
    validation, packaging = ValidationSettings(), PackagingSettings()
    assert not validation.allow_file_urls and not validation.allow_private_targets
    assert not packaging.allow_file_urls and not packaging.allow_private_targets


def test_s3_replicas_need_no_local_storage_root(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, OFFERFLOW_PROVISIONING_STORE="s3")
    assert ProvisioningSettings().store == "s3"
