"""Offer documents for tests and the demo: one that passes every rule, and broken ones with their problems.

``complete_offer(image_url, assets_dir)`` writes real PNG logos and screenshots of the exact sizes into
``assets_dir`` and points the document at them with file:// URLs. The services read file:// URLs only under
their file root, in the publisher's own folder (``OFFERFLOW_FILE_URL_ROOT/<publisher>/``):
``publisher_dir(publisher)`` is a fresh folder there (with-infra exports the root), ``publisher_file`` puts an
existing file (a built image) into one. The ``broken_*`` builders return the
document and the ``(field, code)`` pairs validation must report for it, all at once.
"""

from __future__ import annotations

import copy
import os
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from PIL import Image

M = "microsoft-azure-marketplace."
VM = "microsoft-azure-virtualmachines."
IMAGES = "microsoft-azure-corevm.vmImagesPublicAzure"
SUBSCRIPTION = "6d8f2e3a-1b2c-4d5e-8f90-123456789abc"
LOGO_SIZES: dict[str, tuple[int, int]] = {
    "smallLogo": (40, 40), "mediumLogo": (90, 90), "largeLogo": (115, 115), "wideLogo": (255, 115),
    "heroLogo": (815, 290),
}
SCREENSHOT_SIZE = (533, 324)
Problems = set[tuple[str, str]]


def publisher_dir(publisher: str, fallback: Path) -> Path:
    """A fresh folder under the stack's file root for ``publisher``; ``fallback`` when no root is set (unit
    tests, where nothing reads the URLs through a service)."""
    root = os.environ.get("OFFERFLOW_FILE_URL_ROOT")
    if not root:
        return fallback
    folder = Path(root) / publisher / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    return folder


def publisher_file(path: Path, publisher: str) -> Path:
    """``path`` placed in a fresh folder of ``publisher`` under the file root (linked when possible)."""
    folder = publisher_dir(publisher, path.parent)
    if folder == path.parent:
        return path
    target = folder / path.name
    try:
        os.link(path, target)
    except OSError:
        shutil.copyfile(path, target)
    return target


def png(path: Path, size: tuple[int, int], colour: tuple[int, int, int] = (0, 120, 212)) -> str:
    """Write a real PNG of ``size`` and return its file:// URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format="PNG")
    return path.resolve().as_uri()


def sas_url(name: str = "os.vhd", *, sp: str = "rl", sr: str = "c", start: str | None = None,
            expiry: str | None = None, now: datetime | None = None) -> str:
    """A blob-storage style SAS URL (never fetched), valid by default for 30 days from ``now``."""
    now = now or datetime.now(UTC)
    st = start if start is not None else (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    se = expiry if expiry is not None else (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"https://contoso.blob.core.windows.net/vhds/{quote(name)}?sv=2014-02-14&sr={sr}"
            f"&sig=abc%2Bdef%3D&st={quote(st)}&se={quote(se)}&sp={sp}")


def presigned_url(name: str = "os.vhd", *, signed: datetime | None = None, expires_in: int = 7 * 24 * 3600,
                  date: str | None = None, expires: str | None = None) -> str:
    """An S3 SigV4 presigned URL (never fetched): signed at ``signed``, valid ``expires_in`` seconds."""
    amz_date = date if date is not None else (signed or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return (f"https://publisher.s3.example/disks/{quote(name)}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential=AK%2F20240501%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date={amz_date}"
            f"&X-Amz-Expires={expires if expires is not None else expires_in}&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=0123abcd")


def complete_offer(image_url: str, assets_dir: Path) -> dict[str, Any]:
    """A whole offer document (``{offerTypeId, definition}``) that passes every validation rule."""
    logos = {f"{M}{key}": png(assets_dir / f"{key}.png", size) for key, size in LOGO_SIZES.items()}
    shots = [png(assets_dir / f"screenshot-{i}.png", SCREENSHOT_SIZE, (30 * i, 90, 60)) for i in (1, 2)]
    return {
        "offerTypeId": "microsoft-azure-virtualmachines",
        "definition": {
            "displayText": "Offerflow Demo Linux",
            "offer": {
                M + "title": "Offerflow Demo Linux",
                M + "summary": "A hardened Ubuntu 22.04 image, ready for the cloud.",
                M + "longSummary": "A small, generalized Ubuntu 22.04 image with the VM agent, tuned kernel "
                                   "parameters and SSH keep-alives.",
                M + "description": "<p>Demo offer published by <b>Offerflow</b>.</p><ul><li>Ubuntu 22.04</li></ul>",
                M + "cspOfferOptIn": False,
                M + "offerMarketingUrlIdentifier": "offerflow-demo-linux",
                M + "allowedSubscriptions": [SUBSCRIPTION],
                M + "usefulLinks": [{"linkTitle": "Documentation", "linkUrl": "https://example.com/docs"}],
                M + "categoryMap": [{"categoryL1": "compute", "categoryL2-compute": ["operating-systems"]}],
                **logos,
                M + "screenshots": shots,
                M + "videos": [],
                M + "leadDestination": "None",
                M + "privacyURL": "https://example.com/privacy",
                M + "useEnterpriseContract": False,
                M + "termsOfUse": "Use it well.",
                M + "termsOfUseURL": "https://example.com/terms",
                M + "publisherDisplayName": "Offerflow Demo Publisher",
                M + "engineeringContactName": "Ada Lovelace",
                M + "engineeringContactEmail": "engineering@example.com",
                M + "engineeringContactPhone": "+1-555-0100",
                M + "supportContactName": "Grace Hopper",
                M + "supportContactEmail": "support@example.com",
                M + "supportContactPhone": "+1-555-0101",
                M + "publicAzureSupportUrl": "https://example.com/support",
                M + "fairfaxSupportUrl": "",
            },
            "plans": [
                {
                    "planId": "standard",
                    VM + "skuTitle": "Standard",
                    VM + "skuSummary": "Ubuntu 22.04 LTS, general purpose",
                    VM + "skuDescription": "General purpose plan.",
                    VM + "hideSKUForSolutionTemplate": False,
                    VM + "cloudAvailability": ["PublicAzure"],
                    "regions": ["US", "GB", "DE"],
                    "virtualMachinePricing": {"isByol": True, "freeTrialDurationInMonths": 0},
                    VM + "operatingSystemFamily": "Linux",
                    VM + "operationSystem": "Ubuntu 22.04 LTS",
                    VM + "recommendedVMSizes": ["d2s-standard-v3", "b2s-standard"],
                    VM + "openPorts": [],
                    IMAGES: {"1.0.0": {"osVhdUrl": image_url, "lunVhdDetails": [], "label": "1.0.0",
                                       "mediaName": "offerflow-demo-1-0-0", "showInGui": True}},
                }
            ],
        },
    }


def broken_offer(image_url: str, assets_dir: Path, *, now: datetime) -> tuple[dict[str, Any], Problems]:
    """One problem of nearly every kind; the pairs are what publish_problems must report (definition pointers)."""
    doc = complete_offer(image_url, assets_dir)
    offer, plan = doc["definition"]["offer"], doc["definition"]["plans"][0]
    del offer[M + "title"]
    offer[M + "summary"] = "s" * 101
    offer[M + "allowedSubscriptions"] = []
    offer[M + "categoryMap"] = [{"categoryL1": "a"}, {"categoryL1": "b"}, {"categoryL1": "c"}]
    offer[M + "supportContactEmail"] = "not-an-email"
    offer[M + "leadDestination"] = "HttpsEndpoint"
    offer[M + "httpsEndpointLeadConfiguration"] = {}
    plan[VM + "recommendedVMSizes"] = [f"a{i}-standard" for i in range(7)]
    plan["planId"] = "Standard-"
    plan[IMAGES] = {
        "1.0.0": {"osVhdUrl": image_url, "lunVhdDetails": []},
        "2.0.0": {"osVhdUrl": sas_url("os disk.vhd", sp="rwl", now=now),
                  "lunVhdDetails": [{"lun": 0, "lunVhdUrl": sas_url("lun0.vhd", sr="b", now=now,
                                                                      expiry=_iso(now + timedelta(days=5)))}]},
        "1.5.0": {"osVhdUrl": "https://example.com/os.img", "lunVhdDetails": []},
    }
    i = "/plans/0/" + IMAGES.replace("/", "~1")
    expected = {
        ("/offer/" + M + "title", "required"),
        ("/offer/" + M + "summary", "too_long"),
        ("/offer/" + M + "allowedSubscriptions", "too_few"),
        ("/offer/" + M + "categoryMap", "too_many"),
        ("/offer/" + M + "supportContactEmail", "invalid_email"),
        ("/offer/" + M + "httpsEndpointLeadConfiguration/httpsEndpointUrl", "required"),
        ("/plans/0/" + VM + "recommendedVMSizes", "too_many"),
        ("/plans/0/planId", "invalid_id"),
        (f"{i}/2.0.0/lunVhdDetails", "data_disk_count_changed"),
        (f"{i}/2.0.0/osVhdUrl", "sas_permissions"),
        (f"{i}/2.0.0/osVhdUrl", "vhd_name_invalid"),
        (f"{i}/2.0.0/lunVhdDetails/0/lunVhdUrl", "sas_resource"),
        (f"{i}/2.0.0/lunVhdDetails/0/lunVhdUrl", "sas_expiry_too_soon"),
        (f"{i}/1.5.0", "version_not_increasing"),
        (f"{i}/1.5.0/osVhdUrl", "vhd_extension"),
    }
    return doc, expected


def broken_artifacts(image_url: str, assets_dir: Path) -> tuple[dict[str, Any], Problems]:
    """Logos and a screenshot of the wrong pixel size, and a logo that is not an image at all."""
    doc = complete_offer(image_url, assets_dir)
    offer = doc["definition"]["offer"]
    offer[M + "mediumLogo"] = png(assets_dir / "wrong-medium.png", (91, 90))
    offer[M + "heroLogo"] = png(assets_dir / "wrong-hero.png", (800, 290))
    not_png = assets_dir / "not-an-image.png"
    not_png.write_bytes(b"this is not an image")
    offer[M + "wideLogo"] = not_png.resolve().as_uri()
    offer[M + "screenshots"] = [offer[M + "screenshots"][0], png(assets_dir / "wrong-shot.png", (534, 324))]
    expected = {
        ("/offer/" + M + "mediumLogo", "logo_wrong_size"),
        ("/offer/" + M + "heroLogo", "logo_wrong_size"),
        ("/offer/" + M + "wideLogo", "artifact_unreadable"),
        ("/offer/" + M + "screenshots/1", "screenshot_wrong_size"),
    }
    return doc, expected


def with_unknown_keys(doc: dict[str, Any]) -> dict[str, Any]:
    """The document plus keys no model knows, at every level (they must survive round trips verbatim)."""
    out = copy.deepcopy(doc)
    out["changedTime"] = "2017-06-07T06:15:39.7349221Z"
    out["definition"]["offer"]["microsoft-azure-marketplace-testdrive.enabled"] = False
    out["definition"]["offer"][M + "futureField"] = {"nested": [1, 2.5, None, "x"]}
    plan = out["definition"]["plans"][0]
    plan["microsoft-azure-virtualmachines.certificationsFairfax"] = []
    plan[IMAGES]["1.0.0"]["somethingNew"] = {"a": 1}
    return out


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
