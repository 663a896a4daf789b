"""Each service's settings in production: the embedded setup's conveniences are refused at start, by name,
unless OFFERFLOW_ALLOW_UNSAFE keeps them; development keeps today's defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path

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
    # Validation and certification have no unsafe default any more: outbound fetches follow the one egress
    # policy (no allow-private switch), and its only development convenience, OFFERFLOW_FILE_URL_ROOT, is unset
    # by default (FETCHING below).
    # The region map has no default: its unsafe value is a map with an http:// endpoint (REQUIRED below).
    ProvisioningSettings: (
        {"OFFERFLOW_PROVISIONING_REGION_MAP_FILE"},
        {"OFFERFLOW_PROVISIONING_REGION_MAP_FILE": "regions-https.json"},
    ),
    PackagingSettings: (
        {"OFFERFLOW_PACKAGING_PAGES_ROOT"},
        {"OFFERFLOW_PACKAGING_PAGES_ROOT": "/data/pages"},
    ),
    NotifierSettings: ({"OFFERFLOW_NOTIFIER_SMTP_HOST", "OFFERFLOW_NOTIFIER_SUPPORT_ADDRESS"},
                       {"OFFERFLOW_NOTIFIER_SMTP_HOST": "smtp.example.com",
                        "OFFERFLOW_NOTIFIER_SUPPORT_ADDRESS": "support@example.com"}),
}
# Settings without a default, at their unsafe value: what every test starts from. Relative map files are read
# from the test's working directory, where the autouse fixture writes them.
REQUIRED: dict[type[BaseSettings], dict[str, str]] = {
    ProvisioningSettings: {"OFFERFLOW_PROVISIONING_REGION_MAP_FILE": "regions-http.json"},
}
CLASSES = sorted(UNSAFE, key=lambda cls: cls.__module__)


def region_map(endpoint: str) -> str:
    regions = [{"name": name, "endpoint_url": endpoint.format(name), "bucket": f"offerflow-{name}",
                "signing_region": name, "access_key_id": "AK", "secret_access_key": "SK"}
               for name in ("eastus", "westeurope")]
    return json.dumps({"regions": regions})


def service_of(cls: type[BaseSettings]) -> str:
    return cls.__module__.split(".")[0]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("OFFERFLOW_")]:
        monkeypatch.delenv(name)
    (tmp_path / "regions-http.json").write_text(region_map("http://objectstore-{}:7070"))
    (tmp_path / "regions-https.json").write_text(region_map("https://objects.{}.example.com"))
    monkeypatch.chdir(tmp_path)


def production(monkeypatch: pytest.MonkeyPatch, cls: type[BaseSettings], **env: str) -> None:
    monkeypatch.setenv("OFFERFLOW_ENVIRONMENT", "production")
    for name, value in {**REQUIRED.get(cls, {}), **env}.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("cls", CLASSES, ids=service_of)
def test_development_starts_with_the_defaults(cls: type[BaseSettings], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.get(cls, {}).items():
        monkeypatch.setenv(name, value)
    cls()


@pytest.mark.parametrize("cls", CLASSES, ids=service_of)
def test_production_refuses_every_unsafe_default_by_name(
    cls: type[BaseSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    production(monkeypatch, cls)
    with pytest.raises(ValidationError) as info:
        cls()
    for name in UNSAFE[cls][0]:
        assert f"{name}=" in str(info.value)


@pytest.mark.parametrize("cls", CLASSES, ids=service_of)
def test_production_refuses_each_one_left_alone(cls: type[BaseSettings], monkeypatch: pytest.MonkeyPatch) -> None:
    names, safe = UNSAFE[cls]
    for left in names:
        production(monkeypatch, cls, **{n: v for n, v in safe.items() if n != left})
        if left not in REQUIRED.get(cls, {}):  # back to its default; a required one stays at its unsafe value
            monkeypatch.delenv(left, raising=False)
        with pytest.raises(ValidationError, match=left):
            cls()


@pytest.mark.parametrize("cls", CLASSES, ids=service_of)
def test_production_starts_with_safe_values(cls: type[BaseSettings], monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, cls, **UNSAFE[cls][1])
    cls()


@pytest.mark.parametrize("cls", CLASSES, ids=service_of)
def test_production_keeps_what_allow_unsafe_names(cls: type[BaseSettings], monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, cls, OFFERFLOW_ALLOW_UNSAFE=",".join(sorted(UNSAFE[cls][0])))
    cls()


FETCHING = [ValidationSettings, CertificationSettings, ProvisioningSettings, PackagingSettings]


@pytest.mark.parametrize("cls", FETCHING, ids=service_of)
def test_no_service_has_a_switch_for_private_targets_or_file_urls(cls: type[BaseSettings]) -> None:
    assert not [f for f in cls.model_fields if f.startswith(("allow_private", "allow_file"))]


@pytest.mark.parametrize("cls", FETCHING, ids=service_of)
def test_production_refuses_a_file_url_root(cls: type[BaseSettings], monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    production(monkeypatch, cls, **UNSAFE.get(cls, (set(), {}))[1], OFFERFLOW_FILE_URL_ROOT=str(tmp_path))
    with pytest.raises(ValidationError, match="OFFERFLOW_FILE_URL_ROOT="):
        cls()
    monkeypatch.setenv("OFFERFLOW_ALLOW_UNSAFE", "OFFERFLOW_FILE_URL_ROOT")
    assert cls().common.file_url_root == tmp_path  # type: ignore[attr-defined]


@pytest.mark.parametrize("environment", ["development", "production"])
def test_provisioning_needs_a_region_map_in_every_environment(
    environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFERFLOW_ENVIRONMENT", environment)
    with pytest.raises(ValidationError, match="OFFERFLOW_PROVISIONING_REGION_MAP_FILE is required"):
        ProvisioningSettings()


def test_production_reads_the_https_map_in_its_order(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, ProvisioningSettings, **UNSAFE[ProvisioningSettings][1])
    regions = ProvisioningSettings().regions
    assert regions.names == ["eastus", "westeurope"]
    assert regions.regions[1].shown == "https://objects.westeurope.example.com/offerflow-westeurope"


def test_a_map_that_cannot_be_read_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, ProvisioningSettings, OFFERFLOW_PROVISIONING_REGION_MAP_FILE="missing.json")
    with pytest.raises(ValidationError, match=r"region map missing\.json: cannot be read"):
        ProvisioningSettings()
