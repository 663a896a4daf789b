"""publish_problems: every rule at once, each problem next to its field (pointers into the definition)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from offerflow_shared.offer_rules import publish_problems
from tests.offers import factory
from tests.offers.factory import sas_url

M = "microsoft-azure-marketplace."
VM = "microsoft-azure-virtualmachines."
IMAGES = "microsoft-azure-corevm.vmImagesPublicAzure"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
IMG = f"/plans/0/{IMAGES}"


@pytest.fixture
def d(tmp_path: Path) -> dict[str, Any]:
    definition: dict[str, Any] = factory.complete_offer("file:///tmp/os.vhd", tmp_path)["definition"]
    return definition


def found(d: dict[str, Any]) -> set[tuple[str | None, str]]:
    return {(r.field, r.code) for r in publish_problems(d, now=NOW)}


def test_the_complete_offer_passes_every_rule(d: dict[str, Any]) -> None:
    assert publish_problems(d, now=NOW) == []


def test_a_deliberately_broken_offer_returns_every_one_of_its_problems_at_once(tmp_path: Path) -> None:
    doc, expected = factory.broken_offer("file:///tmp/os.vhd", tmp_path, now=NOW)
    problems = publish_problems(doc["definition"], now=NOW)
    assert {(r.field, r.code) for r in problems} == expected
    assert len(problems) == len(expected)  # each once
    assert all(r.message and r.level == "error" for r in problems)


def test_an_empty_offer_lists_every_required_field() -> None:
    got = found({"offer": {}, "plans": []})
    assert ("/plans", "required") in got
    assert (f"/offer/{M}allowedSubscriptions", "too_few") in got
    for key in ("title", "summary", "longSummary", "description", "offerMarketingUrlIdentifier", "categoryMap",
                "smallLogo", "mediumLogo", "largeLogo", "wideLogo", "privacyURL", "termsOfUse",
                "engineeringContactName", "engineeringContactEmail", "engineeringContactPhone",
                "supportContactName", "supportContactEmail", "supportContactPhone"):
        assert (f"/offer/{M}{key}", "required") in got
    assert all(code in ("required", "too_few") for _, code in got)


def test_a_plan_lists_its_required_fields() -> None:
    got = found({"offer": {}, "plans": [{}]})
    for key in ("planId", VM + "skuTitle", VM + "skuSummary", VM + "skuDescription", VM + "cloudAvailability",
                "regions", VM + "operatingSystemFamily", VM + "operationSystem", VM + "recommendedVMSizes",
                "virtualMachinePricing/isByol", IMAGES):
        assert (f"/plans/0/{key}", "required") in got


def test_hero_logo_is_optional(d: dict[str, Any]) -> None:
    del d["offer"][M + "heroLogo"]
    assert publish_problems(d, now=NOW) == []


def test_preview_subscriptions_between_1_and_100(d: dict[str, Any]) -> None:
    d["offer"][M + "allowedSubscriptions"] = [factory.SUBSCRIPTION.replace("abc", f"{i:03x}") for i in range(100)]
    assert publish_problems(d, now=NOW) == []
    d["offer"][M + "allowedSubscriptions"].append("00000000-0000-0000-0000-000000000000")
    assert found(d) == {(f"/offer/{M}allowedSubscriptions", "too_many")}
    d["offer"][M + "allowedSubscriptions"] = []
    assert found(d) == {(f"/offer/{M}allowedSubscriptions", "too_few")}


def test_at_most_six_vm_sizes(d: dict[str, Any]) -> None:
    d["plans"][0][VM + "recommendedVMSizes"] = [f"a{i}-standard" for i in range(6)]
    assert publish_problems(d, now=NOW) == []
    d["plans"][0][VM + "recommendedVMSizes"].append("a7-standard")
    assert found(d) == {(f"/plans/0/{VM}recommendedVMSizes", "too_many")}


def test_at_most_two_categories(d: dict[str, Any]) -> None:
    d["offer"][M + "categoryMap"] = [{"categoryL1": "a"}, {"categoryL1": "b"}]
    assert publish_problems(d, now=NOW) == []
    d["offer"][M + "categoryMap"].append({"categoryL1": "c"})
    assert found(d) == {(f"/offer/{M}categoryMap", "too_many")}


def test_usage_based_plans_need_prices_and_a_currency(d: dict[str, Any]) -> None:
    d["plans"][0]["virtualMachinePricing"] = {"isByol": False}
    assert found(d) == {("/plans/0/virtualMachinePricing/coreMultiplier", "required")}
    d["plans"][0]["virtualMachinePricing"] = {"isByol": False, "coreMultiplier": {"single": 0.05}}
    assert found(d) == {("/plans/0/virtualMachinePricing/coreMultiplier/currency", "required")}
    d["plans"][0]["virtualMachinePricing"]["coreMultiplier"]["currency"] = "USD"
    assert publish_problems(d, now=NOW) == []


def test_duplicate_plan_ids_including_disk_generations(d: dict[str, Any]) -> None:
    gen = {"planId": "standard", IMAGES: {"1.0.0": {"osVhdUrl": "file:///g.vhd"}}}
    d["plans"][0]["diskGenerations"] = [gen]
    assert found(d) == {("/plans/0/diskGenerations/0/planId", "duplicate_plan_id")}
    gen["planId"] = "standard-gen2"
    assert publish_problems(d, now=NOW) == []
    gen[IMAGES] = {}
    assert found(d) == {(f"/plans/0/diskGenerations/0/{IMAGES}", "required")}


# --- versions -------------------------------------------------------------------------------------------

def images(d: dict[str, Any], versions: dict[str, int]) -> None:
    """versions: name → number of data disks."""
    d["plans"][0][IMAGES] = {
        v: {"osVhdUrl": f"file:///img/{v}.vhd",
            "lunVhdDetails": [{"lun": n, "lunVhdUrl": f"file:///img/{v}-{n}.vhd"} for n in range(disks)]}
        for v, disks in versions.items()}


def test_versions_strictly_increasing(d: dict[str, Any]) -> None:
    images(d, {"1.0.0": 0, "1.0.1": 0, "1.10.0": 0, "2.0.0": 0})
    assert publish_problems(d, now=NOW) == []
    images(d, {"1.0.0": 0, "2.0.0": 0, "1.5.0": 0})
    assert found(d) == {(f"{IMG}/1.5.0", "version_not_increasing")}


def test_equal_versions_written_differently_are_duplicates(d: dict[str, Any]) -> None:
    images(d, {"2024.01.05": 0, "2024.1.5": 0})
    assert found(d) == {(f"{IMG}/2024.1.5", "duplicate_version")}


def test_dated_versions_follow_semver_ones(d: dict[str, Any]) -> None:
    images(d, {"1.0.0": 0, "2023.12.31": 0, "2024.01.01": 0})
    assert publish_problems(d, now=NOW) == []


def test_at_most_eight_versions(d: dict[str, Any]) -> None:
    images(d, {f"1.0.{i}": 0 for i in range(8)})
    assert publish_problems(d, now=NOW) == []
    images(d, {f"1.0.{i}": 0 for i in range(9)})
    assert found(d) == {(IMG, "too_many")}


def test_data_disk_count_unchanged_across_versions(d: dict[str, Any]) -> None:
    images(d, {"1.0.0": 2, "1.0.1": 2})
    assert publish_problems(d, now=NOW) == []
    images(d, {"1.0.0": 2, "1.0.1": 1, "1.0.2": 2})
    assert found(d) == {(f"{IMG}/1.0.1/lunVhdDetails", "data_disk_count_changed")}


def test_duplicate_luns(d: dict[str, Any]) -> None:
    images(d, {"1.0.0": 2})
    d["plans"][0][IMAGES]["1.0.0"]["lunVhdDetails"][1]["lun"] = 0
    assert found(d) == {(f"{IMG}/1.0.0/lunVhdDetails/1/lun", "duplicate_lun")}


def test_every_version_needs_its_disk_urls(d: dict[str, Any]) -> None:
    d["plans"][0][IMAGES] = {"1.0.0": {"osVhdUrl": "", "lunVhdDetails": [{"lun": 0}]}}
    assert found(d) == {(f"{IMG}/1.0.0/osVhdUrl", "required"), (f"{IMG}/1.0.0/lunVhdDetails/0/lunVhdUrl", "required")}


def test_the_legacy_image_key_is_pointed_out(d: dict[str, Any]) -> None:
    d["plans"][0][VM + "vmImages"] = d["plans"][0].pop(IMAGES)
    [problem] = publish_problems(d, now=NOW)
    assert (problem.field, problem.code) == (IMG, "required") and "vmImages" in problem.message


# --- image URLs and SAS -----------------------------------------------------------------------------------

def url_problems(d: dict[str, Any], url: str) -> set[tuple[str | None, str]]:
    d["plans"][0][IMAGES] = {"1.0.0": {"osVhdUrl": url, "lunVhdDetails": []}}
    return {(f, c) for f, c in found(d)}


OS = f"{IMG}/1.0.0/osVhdUrl"


def test_a_good_sas_url_passes(d: dict[str, Any]) -> None:
    assert url_problems(d, sas_url(now=NOW)) == set()
    assert url_problems(d, sas_url(sp="lr", now=NOW)) == set()


@pytest.mark.parametrize("sp", ["r", "rw", "rwl", "rld", "racwdl", ""])
def test_sas_read_and_list_only(d: dict[str, Any], sp: str) -> None:
    assert url_problems(d, sas_url(sp=sp, now=NOW)) == {(OS, "sas_permissions")}


def test_sas_container_only(d: dict[str, Any]) -> None:
    assert url_problems(d, sas_url(sr="b", now=NOW)) == {(OS, "sas_resource")}


@pytest.mark.parametrize("value", ["2024-05-30", "2024-05-30T00:00", "yesterday", ""])
def test_sas_dates_are_full_iso_date_times(d: dict[str, Any], value: str) -> None:
    assert url_problems(d, sas_url(start=value, now=NOW)) == {(OS, "sas_start_invalid")}
    assert url_problems(d, sas_url(expiry=value, now=NOW)) == {(OS, "sas_expiry_invalid")}


def test_sas_expiry_at_least_three_weeks_ahead(d: dict[str, Any]) -> None:
    exactly = (NOW + timedelta(weeks=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert url_problems(d, sas_url(expiry=exactly, now=NOW)) == set()
    short = (NOW + timedelta(weeks=3) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert url_problems(d, sas_url(expiry=short, now=NOW)) == {(OS, "sas_expiry_too_soon")}
    assert url_problems(d, sas_url(expiry="2024-05-22T13:00:00+02:00", now=NOW)) == {(OS, "sas_expiry_too_soon")}


def test_sas_start_one_day_back_is_a_warning(d: dict[str, Any]) -> None:
    d["plans"][0][IMAGES] = {"1.0.0": {"osVhdUrl": sas_url(start="2024-05-01T11:00:00Z", now=NOW)}}
    [problem] = publish_problems(d, now=NOW)
    assert (problem.code, problem.level) == ("sas_start_too_late", "warning")


def test_naive_now_is_taken_as_utc(d: dict[str, Any]) -> None:
    d["plans"][0][IMAGES] = {"1.0.0": {"osVhdUrl": sas_url(now=NOW)}}
    assert publish_problems(d, now=NOW.replace(tzinfo=None)) == []


@pytest.mark.parametrize(("url", "code"), [
    ("https://a.blob.core.windows.net/c/disk.img", "vhd_extension"),
    ("file:///tmp/os.vhdx", "vhd_extension"),
    ("https://a.blob.core.windows.net/c/my%20disk.vhd", "vhd_name_invalid"),
    ('file:///tmp/a"b.vhd', "vhd_name_invalid"),
])
def test_the_url_names_a_plain_vhd(d: dict[str, Any], url: str, code: str) -> None:
    assert url_problems(d, url) == {(OS, code)}


def test_a_malformed_url_is_one_format_problem(d: dict[str, Any]) -> None:
    assert url_problems(d, "os.vhd") == {(OS, "invalid_url")}
    assert url_problems(d, "https:///nohost.vhd") == {(OS, "invalid_url")}


def test_non_sas_urls_skip_the_sas_rules(d: dict[str, Any]) -> None:
    assert url_problems(d, "https://images.example.com/os.vhd?sp=w") == set()


def test_data_disk_urls_follow_the_same_rules(d: dict[str, Any]) -> None:
    d["plans"][0][IMAGES] = {"1.0.0": {"osVhdUrl": "file:///os.vhd",
                                       "lunVhdDetails": [{"lun": 0, "lunVhdUrl": sas_url("d.vhd", sr="b", now=NOW)}]}}
    assert found(d) == {(f"{IMG}/1.0.0/lunVhdDetails/0/lunVhdUrl", "sas_resource")}
