from __future__ import annotations

import pytest

from offerflow_shared.offer_rules import SECRET_PLACEHOLDER, format_problems, publish_problems
from offerflow_shared.secrets import SecretBox, SecretUnavailable, new_key

KEY = "microsoft-azure-marketplace.httpsEndpointLeadConfiguration"
SECRET = "https://leads.example.com/hook?sig=TOP-SECRET"


def definition(url: str = SECRET) -> dict:  # type: ignore[type-arg]
    return {"offer": {"microsoft-azure-marketplace.leadDestination": "HttpsEndpoint", KEY: {"httpsEndpointUrl": url}}}


def test_seal_then_unseal_round_trips_and_hides_the_secret() -> None:
    box = SecretBox(new_key())
    sealed = box.seal(definition())
    assert "TOP-SECRET" not in str(sealed)
    assert sealed["offer"][KEY]["httpsEndpointUrl"].startswith("sealed:v1:")
    assert box.seal(sealed) == sealed  # sealing twice changes nothing
    assert box.unseal(sealed) == definition()


def test_without_a_key_secrets_are_dropped_never_kept_in_clear() -> None:
    sealed = SecretBox(None).seal(definition())
    assert sealed["offer"][KEY]["httpsEndpointUrl"] == SECRET_PLACEHOLDER


def test_another_key_or_no_key_cannot_open_a_sealed_secret() -> None:
    sealed = SecretBox(new_key()).seal(definition())
    for box in (SecretBox(new_key()), SecretBox(None)):
        with pytest.raises(SecretUnavailable):
            box.unseal(sealed)


def test_sealed_values_count_as_set_and_are_not_judged_as_urls() -> None:
    from datetime import UTC, datetime

    sealed = SecretBox(new_key()).seal(definition())
    assert not [r for r in format_problems({"definition": sealed}) if r.field and "httpsEndpointUrl" in r.field]
    problems = publish_problems(sealed, now=datetime.now(UTC))
    assert not [r for r in problems if r.field and "httpsEndpointUrl" in r.field]
