from __future__ import annotations

import pytest

from offerflow_packaging import rules
from offerflow_shared.names import UnsafeName


def test_slug_joins_the_ids_and_parses_back() -> None:
    assert rules.slug("contoso", "web-app") == "contoso.web-app"
    assert rules.parse_slug("contoso.web-app") == ("contoso", "web-app")


@pytest.mark.parametrize(("publisher", "offer"), [("con.toso", "web"), ("contoso", "web.app"), ("contoso", "../x")])
def test_an_id_that_would_make_the_address_ambiguous_or_unsafe_is_refused(publisher: str, offer: str) -> None:
    with pytest.raises(UnsafeName):
        rules.slug(publisher, offer)


@pytest.mark.parametrize("value", ["contoso", "contoso.", ".web", "a.b.c", "contoso...", "contoso.we b"])
def test_malformed_slugs_are_not_parsed(value: str) -> None:
    assert rules.parse_slug(value) is None


def test_highest_version_orders_semver_and_dates_numerically() -> None:
    assert rules.highest_version(["1.10.0", "1.9.0", "1.2.0"]) == "1.10.0"
    assert rules.highest_version(["2024.01.05", "2023.12.31", "1.0.0"]) == "2024.01.05"
    assert rules.highest_version([]) is None
