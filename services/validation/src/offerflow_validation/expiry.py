"""When a time-limited disk URL stops working: AWS SigV4 presigned URLs and Azure SAS URLs.

A disk URL is read twice after validation, by certification and then by provisioning, possibly hours later
(a queue, retries, a long certification of a large image). A signature that expires in between fails the run
late and for a reason the publisher could have fixed at once, so validation asks for enough time up front.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from offerflow_contract.events import Reason
from offerflow_shared.offer import DiskRef

AMZ_DATE = "%Y%m%dT%H%M%SZ"
AMZ_MAX_EXPIRES = 7 * 24 * 3600  # SigV4 refuses a presigned URL valid longer than 7 days


@dataclass(frozen=True)
class Expiry:
    at: datetime | None  # None: the URL is signed but its expiry cannot be read
    problem: str = ""


def signature_expiry(url: str) -> Expiry | None:
    """The expiry of a presigned (``X-Amz-Date`` + ``X-Amz-Expires``) or SAS (``se=``) URL; None if unsigned."""
    try:
        query = {k.lower(): v for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    except ValueError:
        return None
    if "x-amz-expires" in query or "x-amz-date" in query:
        return _sigv4(query.get("x-amz-date", ""), query.get("x-amz-expires", ""))
    if "se" in query:
        return _sas(query["se"])
    return None


def _sigv4(date: str, expires: str) -> Expiry:
    try:
        signed = datetime.strptime(date, AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        return Expiry(None, f"X-Amz-Date {date!r} is not a date like 20240501T000000Z")
    if not expires.isdigit() or not 0 < int(expires) <= AMZ_MAX_EXPIRES:
        return Expiry(None, f"X-Amz-Expires {expires!r} is not a number of seconds from 1 to {AMZ_MAX_EXPIRES}")
    return Expiry(signed + timedelta(seconds=int(expires)))


def _sas(se: str) -> Expiry:
    # Azure accepts a date, a date-time with Z, or a date-time with an offset for se.
    value = se.strip().replace("Z", "+00:00")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return Expiry(None, f"the SAS expiry se={se!r} is not an ISO 8601 date-time")
    return Expiry(at if at.tzinfo else at.replace(tzinfo=UTC))


def validity_problems(refs: list[DiskRef], *, now: datetime, min_validity: timedelta,
                      already: Collection[str] = ()) -> list[Reason]:
    """One error per signed disk URL that expires before ``now + min_validity`` (fields in ``already`` skipped:
    the offer rules have said so there)."""
    out: list[Reason] = []
    needed = now + min_validity
    for ref in refs:
        expiry = signature_expiry(ref.url)
        if expiry is None or ref.pointer in already:
            continue
        if expiry.at is None:
            out.append(Reason(code="disk_url_signature_invalid", field=ref.pointer, level="error",
                              message=f"The disk URL's signature cannot be read: {expiry.problem}."))
        elif expiry.at <= now:
            out.append(Reason(code="disk_url_expired", field=ref.pointer, level="error",
                              message=f"The disk URL's signature expired at {_shown(expiry.at)}; give a URL valid "
                                      f"until at least {_shown(needed)}."))
        elif expiry.at < needed:
            out.append(Reason(code="disk_url_expires_too_soon", field=ref.pointer, level="error",
                              message=f"The disk URL's signature expires at {_shown(expiry.at)}; give a URL valid "
                                      f"until at least {_shown(needed)} (certification and replication read the "
                                      "disk during the run)."))
    return out


def _shown(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
