from __future__ import annotations

import pytest

from offerflow_shared.names import UnsafeName, is_safe_segment, safe_segment, version_key


@pytest.mark.parametrize(
    "good", ["contoso", "web-app", "gold_plan", "1.0.0", "2024.01.05", "lun0", "eastus2", "A" * 128]
)
def test_ids_regions_and_versions_are_safe_segments(good: str) -> None:
    assert safe_segment(good, "name") == good


@pytest.mark.parametrize(
    "bad",
    [
        "", ".", "..", "../x", "a/b", "a\\b", ".hidden", "-rf", "_x", "a..b", "a b", "a%2F", "a?b", "a#b",
        "caf\u00e9", "x" * 129,
    ],
)
def test_names_that_could_leave_a_folder_or_change_a_key_are_refused(bad: str) -> None:
    assert not is_safe_segment(bad)
    with pytest.raises(UnsafeName, match="offer id"):
        safe_segment(bad, "offer id")


def test_semver_and_dated_versions_order_numerically() -> None:
    ordered = ["0.9.0", "1.2.0", "1.10.0", "10.0.0", "999.0.0", "2023.12.31", "2024.01.05", "2024.02.01"]
    assert sorted(reversed(ordered), key=version_key) == ordered
    assert version_key("2024.01.05") == version_key("2024.1.5")


def test_any_version_name_gets_a_total_order() -> None:
    # Text parts sort after numbers, so a pre-release tag never outranks a plain higher release.
    assert sorted(["1.0.0-beta", "1.0.0", "0.9", "1.0.1"], key=version_key) == ["0.9", "1.0.0", "1.0.0-beta", "1.0.1"]
