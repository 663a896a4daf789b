from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from offerflow_shared.names import version_key
from offerflow_shared.offer_model import OfferDocument
from offerflow_shared.offer_rules import format_problems
from offerflow_shared.offer_types import is_image_version
from tests.offers import factory

ROOT = Path(__file__).resolve().parents[2]


def demo() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((ROOT / "deploy/dev/demo_offer.json").read_text()
                                     .replace("@IMAGE_URL@", "file:///tmp/os.vhd"))
    return doc


def round_trip(doc: dict[str, Any]) -> dict[str, Any]:
    return OfferDocument.model_validate(doc).model_dump(by_alias=True, exclude_unset=True)


def test_demo_offer_round_trips_verbatim() -> None:
    assert round_trip(demo()) == demo()


def test_factory_offer_round_trips_verbatim(tmp_path: Path) -> None:
    doc = factory.complete_offer("file:///tmp/os.vhd", tmp_path)
    assert round_trip(doc) == doc


def test_unknown_keys_survive_at_every_level(tmp_path: Path) -> None:
    doc = factory.with_unknown_keys(factory.complete_offer("file:///tmp/os.vhd", tmp_path))
    dumped = round_trip(doc)
    assert dumped == doc
    assert json.dumps(dumped, sort_keys=True) == json.dumps(doc, sort_keys=True)  # 2.5 stays 2.5, None stays null


def test_an_empty_draft_is_a_valid_document() -> None:
    assert round_trip({}) == {}
    assert round_trip({"definition": {"offer": {}, "plans": [{}]}}) == {"definition": {"offer": {}, "plans": [{}]}}
    assert format_problems({"definition": {"offer": {}, "plans": [{}]}}) == []


def test_the_original_api_example_shape_is_accepted() -> None:
    # The documented GET example: empty strings for unset URLs, empty lead objects, the legacy image key.
    doc = {
        "offerTypeId": "microsoft-azure-virtualmachines", "publisherId": "contoso", "status": "failed",
        "id": "059afc24-07de-4126-b004-4e42a51816fe", "version": 5,
        "definition": {"displayText": "Contoso", "offer": {
            "microsoft-azure-marketplace.tableLeadConfiguration": {},
            "microsoft-azure-marketplace.publicAzureSupportUrl": "",
            "microsoft-azure-marketplace.categoryMap": [
                {"categoryL1": "analytics", "categoryL2-analytics": ["visualization-and-reporting"]}],
        }, "plans": [{"planId": "contososkuidentifier",
                      "virtualMachinePricing": {"isByol": True, "freeTrialDurationInMonths": 0},
                      "microsoft-azure-virtualmachines.vmImages": {"1.0.1": {"osVhdUrl": "http://a.b/c.vhd",
                                                                             "lunVhdDetails": []}}}],
            "changedTime": "2017-06-07T06:15:39.7349221Z"},
    }
    assert format_problems(doc) == []
    assert round_trip(doc) == doc


@pytest.mark.parametrize("version", ["0.0.1", "1.0.0", "10.20.30", "2023.01.05", "2024.02.29"])
def test_image_versions_accepted(version: str) -> None:
    assert is_image_version(version)


@pytest.mark.parametrize("version", ["1.0", "01.0.0", "1.0.0-beta", "v1.0.0", "2023.13.01", "2023.02.30", "1.0.0.0"])
def test_image_versions_rejected(version: str) -> None:
    assert not is_image_version(version)


def test_versions_order_numerically_and_dates_chronologically() -> None:
    ordered = ["0.9.9", "1.0.9", "1.0.10", "2.0.0", "2023.01.05", "2023.1.6", "2023.12.31", "2024.01.01"]
    assert sorted(reversed(ordered), key=version_key) == ordered
    assert version_key("2024.01.05") == version_key("2024.1.5")
