"""format_problems: what PUT rejects with 400, one reason per bad field, never "required"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from offerflow_shared.offer_rules import SECRET_PLACEHOLDER, format_problems
from tests.offers import factory

M = "microsoft-azure-marketplace."
VM = "microsoft-azure-virtualmachines."
IMAGES = "microsoft-azure-corevm.vmImagesPublicAzure"


@pytest.fixture
def doc(tmp_path: Path) -> dict[str, Any]:
    return factory.complete_offer("file:///tmp/os.vhd", tmp_path)


def codes(doc: dict[str, Any]) -> set[tuple[str | None, str]]:
    return {(r.field, r.code) for r in format_problems(doc)}


def test_a_complete_offer_has_no_format_problem(doc: dict[str, Any]) -> None:
    assert format_problems(doc) == []


def test_never_required_even_when_everything_is_missing() -> None:
    assert format_problems({"offerTypeId": "microsoft-azure-virtualmachines", "definition": {}}) == []


def test_not_an_object() -> None:
    assert [r.code for r in format_problems([])] == ["invalid_type"]  # type: ignore[arg-type]


OFFER_CASES: list[tuple[str, Any, str]] = [
    (M + "title", "t" * 51, "too_long"),
    (M + "summary", "s" * 101, "too_long"),
    (M + "longSummary", "l" * 257, "too_long"),
    (M + "description", "d" * 3001, "too_long"),
    (M + "offerMarketingUrlIdentifier", "m" * 51, "too_long"),
    (M + "title", 42, "invalid_type"),
    (M + "cspOfferOptIn", "true", "invalid_type"),
    (M + "allowedSubscriptions", ["not-a-guid"], "invalid_guid"),
    (M + "allowedSubscriptions", [factory.SUBSCRIPTION] * 101, "too_many"),
    (M + "categoryMap", [{"categoryL1": "a"}] * 3, "too_many"),
    (M + "privacyURL", "javascript:alert(1)", "invalid_url"),
    (M + "smallLogo", "ftp://example.com/a.png", "invalid_url"),
    (M + "screenshots", ["x"] * 6, "too_many"),
    (M + "supportContactEmail", "nobody", "invalid_email"),
    (M + "leadDestination", "Carrier pigeon", "invalid_enum"),
]


@pytest.mark.parametrize(("key", "value", "code"), OFFER_CASES)
def test_offer_field_formats(doc: dict[str, Any], key: str, value: Any, code: str) -> None:
    doc["definition"]["offer"][key] = value
    found = codes(doc)
    assert any(f is not None and f.startswith(f"/definition/offer/{key}") and c == code for f, c in found), found


PLAN_CASES: list[tuple[str, Any, str]] = [
    ("planId", "Upper", "invalid_id"),
    ("planId", "ends-with-dash-", "invalid_id"),
    ("planId", "p" * 51, "invalid_id"),
    (VM + "skuTitle", "t" * 51, "too_long"),
    (VM + "skuSummary", "s" * 101, "too_long"),
    (VM + "operatingSystemFamily", "BeOS", "invalid_enum"),
    (VM + "cloudAvailability", ["Moon"], "invalid_enum"),
    (VM + "recommendedVMSizes", [f"a{i}-standard" for i in range(7)], "too_many"),
    (VM + "recommendedVMSizes", ["Not A Size"], "invalid_vm_size"),
    (VM + "openPorts", [{"port": 70000, "protocol": "TCP"}], "invalid_port"),
    ("regions", ["usa"], "invalid_region"),
    ("virtualMachinePricing", {"isByol": "yes"}, "invalid_type"),
    ("virtualMachinePricing", {"isByol": False, "freeTrialDurationInMonths": 2}, "invalid_enum"),
    ("virtualMachinePricing", {"isByol": False, "coreMultiplier": {"currency": "usd"}}, "invalid_currency"),
    ("virtualMachinePricing", {"isByol": False, "coreMultiplier": {"single": -1}}, "out_of_range"),
    ("virtualMachinePricing", {"isByol": False, "coreMultiplier": {"individually": {"3cores": 1}}},
     "invalid_price_key"),
    (IMAGES, {f"1.0.{i}": {} for i in range(9)}, "too_many"),
    (IMAGES, {"1.0": {}}, "invalid_version"),
    (IMAGES, {"1.0.0": {"osVhdUrl": "not a url"}}, "invalid_url"),
    (IMAGES, {"1.0.0": {"lunVhdDetails": [{"lun": 64}]}}, "out_of_range"),
]


@pytest.mark.parametrize(("key", "value", "code"), PLAN_CASES)
def test_plan_field_formats(doc: dict[str, Any], key: str, value: Any, code: str) -> None:
    doc["definition"]["plans"][0][key] = value
    found = codes(doc)
    escaped = key.replace("/", "~1")
    assert any(f is not None and f.startswith(f"/definition/plans/0/{escaped}") and c == code for f, c in found), found


def test_a_bad_version_key_is_named_by_the_key_itself(doc: dict[str, Any]) -> None:
    doc["definition"]["plans"][0][IMAGES] = {"1.0": {}}
    assert codes(doc) == {(f"/definition/plans/0/{IMAGES}/1.0", "invalid_version")}


def test_dated_versions_are_accepted(doc: dict[str, Any]) -> None:
    doc["definition"]["plans"][0][IMAGES] = {"2023.01.05": {"osVhdUrl": "file:///a.vhd"}}
    assert format_problems(doc) == []


def test_each_bad_field_is_named_once_and_all_at_once(doc: dict[str, Any]) -> None:
    doc["offerTypeId"] = "microsoft-azure-containers"
    doc["definition"]["offer"][M + "title"] = "t" * 51
    doc["definition"]["plans"][0]["planId"] = "BAD"
    doc["definition"]["offer"][M + "httpsEndpointLeadConfiguration"] = {"httpsEndpointUrl": "http://x.example/"}
    assert codes(doc) == {
        ("/offerTypeId", "invalid_enum"),
        (f"/definition/offer/{M}title", "too_long"),
        ("/definition/plans/0/planId", "invalid_id"),
        (f"/definition/offer/{M}httpsEndpointLeadConfiguration/httpsEndpointUrl", "invalid_url"),
    }


def test_secret_placeholder_is_not_judged_as_a_url(doc: dict[str, Any]) -> None:
    doc["definition"]["offer"][M + "httpsEndpointLeadConfiguration"] = {"httpsEndpointUrl": SECRET_PLACEHOLDER}
    assert format_problems(doc) == []


def test_subcategories_at_most_two(doc: dict[str, Any]) -> None:
    doc["definition"]["offer"][M + "categoryMap"] = [{"categoryL1": "a", "categoryL2-a": ["x", "y", "z"]}]
    assert codes(doc) == {(f"/definition/offer/{M}categoryMap/0/categoryL2-a", "too_many")}


def test_open_ports_shapes(doc: dict[str, Any]) -> None:
    doc["definition"]["plans"][0][VM + "openPorts"] = [{"port": 8080, "protocol": "TCP"}, "443/TCP", 22, "53/udp"]
    assert format_problems(doc) == []
