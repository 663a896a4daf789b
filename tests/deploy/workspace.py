"""What the deploy files are checked against, read from the workspace itself (never a copied list)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import objectstore  # deploy/dev, on sys.path through tests/conftest.py: what the dev stack runs
from pydantic_settings import BaseSettings

from offerflow_certification.settings import Settings as CertificationSettings
from offerflow_notifier.settings import Settings as NotifierSettings
from offerflow_packaging.settings import Settings as PackagingSettings
from offerflow_provisioning.settings import Settings as ProvisioningSettings
from offerflow_shared.settings import CommonSettings
from offerflow_staging.settings import Settings as StagingSettings
from offerflow_status_api.settings import Settings as StatusApiSettings
from offerflow_validation.settings import Settings as ValidationSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MAILSINK_SOURCE = ROOT / "services/notifier/src/offerflow_notifier/sink.py"

# The default regions in replication order, and the object-store server release every setup pins.
DEFAULT_REGIONS: list[str] = list(objectstore.REGIONS)
VERSITYGW_VERSION: str = objectstore.VERSION

# Console script -> the settings class its process reads. The mail sink reads os.environ directly.
SETTINGS: dict[str, type[BaseSettings] | None] = {
    "offerflow-validation": ValidationSettings,
    "offerflow-certification": CertificationSettings,
    "offerflow-provisioning": ProvisioningSettings,
    "offerflow-staging": StagingSettings,
    "offerflow-packaging": PackagingSettings,
    "offerflow-notifier": NotifierSettings,
    "offerflow-status-api": StatusApiSettings,
    "offerflow-projection": StatusApiSettings,
    "offerflow-mailsink": None,
}

# Console scripts that need no container of their own, with the status-api setting that makes that true: the API
# process runs the outbox relay itself while it is on (only one relay sends at a time either way). The tests
# check that no deployment turns it off.
EMBEDDED: dict[str, tuple[str, str]] = {
    "offerflow-outbox-relay": ("offerflow-status-api", "embedded_relay"),
}

# Console scripts deployed nowhere, and why: compose and k8s run Mailpit as the development mail sink; the project's
# own sink serves the local stack (`make up`) only.
NOT_DEPLOYED: dict[str, str] = {
    "offerflow-mailsink": "the local stack's mail sink; compose and k8s run Mailpit",
}

# The services that fetch what offers name (logos, disk images, lead destinations) or write and read the regions'
# object stores: the only ones that may reach the internet. Found from their code, never listed by hand.
FETCH_MARKERS = ("offerflow_shared.egress", "offerflow_shared import egress", "offerflow_shared.regionmap")


def fetching_services() -> set[str]:
    """Service directories under services/ whose code uses the egress policy or the region map."""
    found: set[str] = set()
    for src in sorted((ROOT / "services").glob("*/src")):
        if any(marker in path.read_text() for path in src.rglob("*.py") for marker in FETCH_MARKERS):
            found.add(src.parent.name)
    return found


def workspace_version() -> str:
    """The version the services' image is tagged with."""
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


# Names an Offerflow container may carry besides settings: read by Python or Faust themselves.
RUNTIME_ENV = {"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "APP_DATADIR", "PATH", "HOME", "TZ"}


@dataclass(frozen=True)
class Needs:
    """The variables a process cannot run right in a container without."""

    names: frozenset[str]
    web_port: str  # the variable holding the port its probes and healthchecks must use


_KAFKA = "OFFERFLOW_KAFKA_BOOTSTRAP"
_DB = "OFFERFLOW_DATABASE_DSN"
_KEY = "OFFERFLOW_SECRETS_KEY"
NEEDS: dict[str, Needs] = {
    "offerflow-validation": Needs(frozenset({_KAFKA}), "OFFERFLOW_VALIDATION_WEB_PORT"),
    "offerflow-certification": Needs(frozenset({_KAFKA, _DB}), "OFFERFLOW_CERTIFICATION_WEB_PORT"),
    "offerflow-provisioning": Needs(
        frozenset({_KAFKA, "OFFERFLOW_PROVISIONING_REGION_MAP_FILE"}), "OFFERFLOW_PROVISIONING_WEB_PORT"
    ),
    "offerflow-staging": Needs(
        frozenset({_KAFKA, _DB, "OFFERFLOW_STAGING_REGION_MAP_FILE", "OFFERFLOW_STAGING_WORK_DIR"}),
        "OFFERFLOW_STAGING_WEB_PORT",
    ),
    "offerflow-packaging": Needs(
        frozenset({_KAFKA, _DB, _KEY, "OFFERFLOW_PACKAGING_PAGES_ROOT", "OFFERFLOW_PACKAGING_STOREFRONT_URL",
                   "OFFERFLOW_PACKAGING_PREVIEW_SECRET"}),
        "OFFERFLOW_PACKAGING_WEB_PORT",
    ),
    "offerflow-notifier": Needs(
        frozenset(
            {
                _KAFKA,
                _DB,
                "OFFERFLOW_PUBLIC_URL",
                "OFFERFLOW_NOTIFIER_SMTP_HOST",
                "OFFERFLOW_NOTIFIER_SMTP_PORT",
            }
        ),
        "OFFERFLOW_NOTIFIER_WEB_PORT",
    ),
    "offerflow-status-api": Needs(
        frozenset({_KAFKA, _DB, _KEY, "OFFERFLOW_STATUS_API_HOST", "OFFERFLOW_STATUS_API_ADMIN_TOKEN"}),
        "OFFERFLOW_STATUS_API_PORT",
    ),
    "offerflow-projection": Needs(frozenset({_KAFKA, _DB}), "OFFERFLOW_STATUS_API_PROJECTION_WEB_PORT"),
    "offerflow-mailsink": Needs(
        frozenset({"OFFERFLOW_MAILSINK_DIR", "OFFERFLOW_MAILSINK_SMTP_PORT"}), "OFFERFLOW_MAILSINK_HTTP_PORT"
    ),
}


def service_scripts() -> dict[str, str]:
    """Console script -> entry point, for every member under services/ (the CLI is a tool, not a process)."""
    scripts: dict[str, str] = {}
    for pyproject in sorted((ROOT / "services").glob("*/pyproject.toml")):
        scripts.update(tomllib.loads(pyproject.read_text())["project"].get("scripts", {}))
    return scripts


def workspace_members() -> list[Path]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members: list[Path] = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        members += [p.parent.relative_to(ROOT) for p in sorted(ROOT.glob(f"{pattern}/pyproject.toml"))]
    return members


def setting_names(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {prefix + name.upper() for name in cls.model_fields if name != "common"}


def mailsink_names() -> set[str]:
    return set(re.findall(r"\"(OFFERFLOW_MAILSINK_[A-Z_]+)\"", MAILSINK_SOURCE.read_text()))


def known_names() -> set[str]:
    """Every OFFERFLOW_* variable some process of the workspace reads."""
    names = setting_names(CommonSettings) | mailsink_names()
    for cls in SETTINGS.values():
        if cls is not None:
            names |= setting_names(cls)
    return names
