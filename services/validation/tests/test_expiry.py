"""Signed disk URLs must stay valid long enough for the run: presigned (SigV4) and SAS expiries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from offerflow_shared.offer import DiskRef
from offerflow_validation import expiry, rules
from tests.offers import factory

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def ref(url: str) -> DiskRef:
    return DiskRef("std", "1.0.0", "os", url, "/plans/0/x/1.0.0/osVhdUrl")


def test_sigv4_expiry_is_the_signing_date_plus_expires() -> None:
    url = factory.presigned_url(signed=NOW, expires_in=3600)
    assert expiry.signature_expiry(url) == expiry.Expiry(NOW + timedelta(hours=1))


def test_sas_expiry_is_se_and_unsigned_urls_have_none() -> None:
    at = expiry.signature_expiry(factory.sas_url(expiry="2024-05-09T00:00:00Z"))
    assert at == expiry.Expiry(datetime(2024, 5, 9, tzinfo=UTC))
    assert expiry.signature_expiry("https://cdn.example/os.vhd") is None
    assert expiry.signature_expiry("file:///tmp/os.vhd") is None


def test_a_presigned_url_valid_for_the_run_passes() -> None:
    url = factory.presigned_url(signed=NOW - timedelta(hours=1), expires_in=7 * 24 * 3600)
    assert expiry.validity_problems([ref(url)], now=NOW, min_validity=DAY) == []


def test_a_url_expiring_too_soon_names_both_instants() -> None:
    url = factory.presigned_url(signed=NOW - timedelta(hours=1), expires_in=5 * 3600)
    [reason] = expiry.validity_problems([ref(url)], now=NOW, min_validity=DAY)
    assert (reason.code, reason.level, reason.field) == ("disk_url_expires_too_soon", "error", ref(url).pointer)
    assert "expires at 2024-05-01 16:00:00Z" in reason.message
    assert "valid until at least 2024-05-02 12:00:00Z" in reason.message
    assert "0123abcd" not in reason.message  # never the signature


def test_an_expired_url_says_so() -> None:
    url = factory.presigned_url(signed=NOW - timedelta(days=8), expires_in=7 * 24 * 3600)
    [reason] = expiry.validity_problems([ref(url)], now=NOW, min_validity=DAY)
    assert reason.code == "disk_url_expired" and "expired at 2024-04-30 12:00:00Z" in reason.message


def test_the_minimum_is_a_setting() -> None:
    url = factory.presigned_url(signed=NOW, expires_in=2 * 3600)
    assert expiry.validity_problems([ref(url)], now=NOW, min_validity=timedelta(hours=1)) == []
    assert len(expiry.validity_problems([ref(url)], now=NOW, min_validity=timedelta(hours=3))) == 1


@pytest.mark.parametrize(("date", "expires", "named"), [
    ("2024-05-01", "3600", "X-Amz-Date"), ("20240501T120000Z", "abc", "X-Amz-Expires"),
    ("20240501T120000Z", "604801", "X-Amz-Expires"), ("20240501T120000Z", "0", "X-Amz-Expires"),
])
def test_unreadable_presign_parameters_are_errors(date: str, expires: str, named: str) -> None:
    url = factory.presigned_url(date=date, expires=expires)
    [reason] = expiry.validity_problems([ref(url)], now=NOW, min_validity=DAY)
    assert reason.code == "disk_url_signature_invalid" and named in reason.message


def test_offer_check_reports_a_short_presign_once_and_a_short_sas_once(tmp_path: Path) -> None:
    doc = factory.complete_offer("file:///tmp/os.vhd", tmp_path)
    versions = doc["definition"]["plans"][0][factory.IMAGES]
    versions["1.0.0"]["osVhdUrl"] = factory.presigned_url(signed=NOW, expires_in=600)
    versions["1.0.0"]["lunVhdDetails"] = [{"lun": 0, "lunVhdUrl": factory.sas_url(
        "lun0.vhd", now=NOW, expiry="2024-05-01T13:00:00Z")}]
    problems = rules.check(doc["definition"], now=NOW)
    expiring = [(p.field.rsplit("/", 1)[-1], p.code) for p in problems if "expir" in p.code]
    # The SAS gets the offer rules' 3-week error only, not this rule's as well.
    assert expiring == [("lunVhdUrl", "sas_expiry_too_soon"), ("osVhdUrl", "disk_url_expires_too_soon")]
