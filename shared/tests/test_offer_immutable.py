"""immutable_problems: what a PUT may not change once the offer is live."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from offerflow_shared.offer_rules import immutable_problems
from tests.offers import factory

M = "microsoft-azure-marketplace."
IMAGES = "microsoft-azure-corevm.vmImagesPublicAzure"
PRICING = "/plans/0/virtualMachinePricing"


@pytest.fixture
def live(tmp_path: Path) -> dict[str, Any]:
    definition: dict[str, Any] = factory.complete_offer("file:///tmp/os.vhd", tmp_path)["definition"]
    definition["plans"][0][IMAGES]["1.0.0"]["lunVhdDetails"] = [{"lun": 0, "lunVhdUrl": "file:///d.vhd"}]
    return definition


def diff(live: dict[str, Any], new: dict[str, Any]) -> set[tuple[str | None, str]]:
    return {(r.field, r.code) for r in immutable_problems(live, new)}


def test_unchanged_and_allowed_changes_pass(live: dict[str, Any]) -> None:
    new = copy.deepcopy(live)
    new["offer"][M + "title"] = "A new title"
    new["plans"][0][IMAGES]["1.1.0"] = {"osVhdUrl": "file:///b.vhd",
                                        "lunVhdDetails": [{"lun": 0, "lunVhdUrl": "file:///e.vhd"}]}
    new["plans"].append({"planId": "premium"})
    assert immutable_problems(live, new) == []


def test_plan_removed_or_renamed(live: dict[str, Any]) -> None:
    new = copy.deepcopy(live)
    new["plans"][0]["planId"] = "renamed"
    assert diff(live, new) == {("/plans/0/planId", "plan_removed")}
    new["plans"] = []
    assert diff(live, new) == {("/plans/0/planId", "plan_removed")}


def test_data_disk_count(live: dict[str, Any]) -> None:
    new = copy.deepcopy(live)
    new["plans"][0][IMAGES]["1.1.0"] = {"osVhdUrl": "file:///b.vhd", "lunVhdDetails": []}
    assert diff(live, new) == {(f"/plans/0/{IMAGES}/1.1.0/lunVhdDetails", "data_disk_count_changed")}


def test_new_versions_above_the_live_ones(live: dict[str, Any]) -> None:
    new = copy.deepcopy(live)
    new["plans"][0][IMAGES] = {"0.9.0": copy.deepcopy(live["plans"][0][IMAGES]["1.0.0"]),
                               **new["plans"][0][IMAGES]}
    assert diff(live, new) == {(f"/plans/0/{IMAGES}/0.9.0", "version_not_increasing")}


def test_license_model(live: dict[str, Any]) -> None:
    new = copy.deepcopy(live)
    new["plans"][0]["virtualMachinePricing"]["isByol"] = False
    assert diff(live, new) == {(f"{PRICING}/isByol", "license_model_changed")}


def priced(defn: dict[str, Any], multiplier: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(defn)
    out["plans"][0]["virtualMachinePricing"] = {"isByol": False, "coreMultiplier": {"currency": "USD", **multiplier}}
    return out


def test_price_decrease_allowed_increase_refused(live: dict[str, Any]) -> None:
    was = priced(live, {"single": 0.10})
    assert immutable_problems(was, priced(live, {"single": 0.08})) == []
    assert diff(was, priced(live, {"single": 0.12})) == {(f"{PRICING}/coreMultiplier/single", "price_increased")}


def test_price_per_size(live: dict[str, Any]) -> None:
    was = priced(live, {"individually": {"1core": 0.1, "2core": 0.2}})
    assert immutable_problems(was, priced(live, {"individually": {"1core": 0.1, "2core": 0.15}})) == []
    assert diff(was, priced(live, {"individually": {"1core": 0.1, "2core": 0.25}})) == {
        (f"{PRICING}/coreMultiplier/individually/2core", "price_increased")}


def test_price_form_change_is_compared_per_size(live: dict[str, Any]) -> None:
    was = priced(live, {"single": 0.1})
    assert immutable_problems(was, priced(live, {"individually": {"4core": 0.4}})) == []
    assert diff(was, priced(live, {"individually": {"4core": 0.5}})) == {
        (f"{PRICING}/coreMultiplier/individually/4core", "price_increased")}
    sized = priced(live, {"individually": {"2core": 0.1}})
    assert diff(sized, priced(live, {"single": 0.06})) == {(f"{PRICING}/coreMultiplier/single", "price_increased")}


def test_currency(live: dict[str, Any]) -> None:
    was = priced(live, {"single": 0.1})
    now = priced(live, {"single": 0.1})
    now["plans"][0]["virtualMachinePricing"]["coreMultiplier"]["currency"] = "EUR"
    assert diff(was, now) == {(f"{PRICING}/coreMultiplier/currency", "currency_changed")}


def test_hero_logo_cannot_be_deleted(live: dict[str, Any]) -> None:
    new = copy.deepcopy(live)
    del new["offer"][M + "heroLogo"]
    assert diff(live, new) == {(f"/offer/{M}heroLogo", "hero_logo_removed")}


def test_everything_at_once(live: dict[str, Any]) -> None:
    new = copy.deepcopy(live)
    new["offer"][M + "heroLogo"] = ""
    new["plans"][0]["virtualMachinePricing"]["isByol"] = False
    new["plans"][0][IMAGES]["1.0.0"]["lunVhdDetails"] = []
    new["plans"].append({"planId": "extra"})
    assert {c for _, c in diff(live, new)} == {"hero_logo_removed", "license_model_changed", "data_disk_count_changed"}
