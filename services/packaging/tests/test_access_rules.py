"""Signing, verification and expiry of preview links, and the secret's checks (pure, no store)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from offerflow_packaging import access_rules
from offerflow_packaging.access_rules import Grant, WeakSecret
from offerflow_packaging.settings import Settings

KEY = b"k3y-for-signing-preview-links-in-unit-tests"
SUB = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
OTHER = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
NOW = 1_800_000_000
GRANT = Grant("contoso", "web", "run-1", SUB, NOW + 60)


def test_a_signed_grant_verifies_until_it_expires() -> None:
    token = access_rules.sign(KEY, GRANT)
    assert access_rules.verify(KEY, token, NOW) == GRANT
    assert access_rules.verify(KEY, token, NOW + 59.9) == GRANT
    assert access_rules.verify(KEY, token, NOW + 60) is None  # expired at the second it names
    assert access_rules.sign(KEY, GRANT) == token  # deterministic: a redelivery re-issues the same link


def test_an_altered_or_foreign_token_is_refused() -> None:
    token = access_rules.sign(KEY, GRANT)
    payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = dict(body, s=OTHER, e=NOW + 10**9)
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (
        f"{forged_payload}.{signature}",  # another subscription / a later expiry under the old signature
        f"{payload}.{flipped}",
        access_rules.sign(b"another-key-of-sufficient-length-000000", GRANT),
        payload,
        f"{payload}.{signature}.x",
        "",
        "not base64!.@@@",
        "x" * 5000,
        None,
    ):
        assert access_rules.verify(KEY, bad, NOW) is None, bad


def test_a_genuine_token_admits_only_its_own_offer_and_subscription() -> None:
    assert access_rules.admits(GRANT, "contoso", "web", SUB.upper())
    assert not access_rules.admits(GRANT, "contoso", "web", OTHER)
    assert not access_rules.admits(GRANT, "contoso", "web", None)
    assert not access_rules.admits(GRANT, "contoso", "other", SUB)
    assert not access_rules.admits(GRANT, "fabrikam", "web", SUB)
    assert not access_rules.admits(None, "contoso", "web", SUB)


def test_link_names_the_subscription_and_carries_the_token() -> None:
    token = access_rules.sign(KEY, GRANT)
    link = access_rules.link("http://shop.test", token, GRANT)
    assert link == f"http://shop.test/preview/contoso.web?subscriptionId={SUB}&access={token}"


def test_expiry_follows_the_issuing_event_not_the_clock() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    assert access_rules.expiry(at, 3600) == int(at.timestamp()) + 3600


@pytest.mark.parametrize("secret", [None, "", "short", "a" * 64, "ab" * 40])
def test_missing_or_weak_secrets_are_refused(secret: str | None) -> None:
    with pytest.raises(WeakSecret):
        access_rules.check_secret(secret)


def test_settings_refuse_a_weak_secret_and_need_one_to_sign(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OFFERFLOW_PACKAGING_PREVIEW_SECRET", raising=False)
    with pytest.raises(WeakSecret, match="not set"):
        Settings().preview_key()
    monkeypatch.setenv("OFFERFLOW_PACKAGING_PREVIEW_SECRET", "too-short")
    with pytest.raises(ValidationError, match="too weak"):
        Settings()
    strong = "Zq3vV8o1kYbXr0N2m5TqW7eL4sJ9hC6uA1dF3gH8"
    monkeypatch.setenv("OFFERFLOW_PACKAGING_PREVIEW_SECRET", strong)
    assert Settings().preview_key() == strong.encode()
    assert "Zq3v" not in repr(Settings())  # a secret is never printed with the settings
