"""Preview access credentials: pure signing, verification and expiry rules. No I/O, no clock of its own.

A preview link is a credential for ONE whitelisted subscription of ONE run's preview. It carries a token
``<payload>.<signature>`` (both base64url, no padding): the payload names publisher, offer, run, subscription
and the expiry (epoch seconds); the signature is HMAC-SHA256 over the payload with the packaging secret.
A valid signature only proves packaging issued the token: the storefront also asks the grant store whether
the grant still stands (revoked when the subscription leaves the list or the run ends).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from offerflow_packaging import rules

# A secret shorter than this is refused: HMAC-SHA256 keys below 256 bits can be brute-forced offline
# from any one leaked link.
MIN_SECRET_BYTES = 32
DEFAULT_TTL_SECONDS = 30 * 24 * 3600
# Separates these signatures from any other use of the same key.
_DOMAIN = b"offerflow-preview-access-v1\n"
TOKEN_PARAM = "access"
SUBSCRIPTION_PARAM = "subscriptionId"
_MAX_TOKEN = 2048


class WeakSecret(ValueError):
    pass


@dataclass(frozen=True)
class Grant:
    publisher: str
    offer: str
    run_id: str
    subscription: str  # canonical lowercase GUID
    expires_at: int  # epoch seconds


def check_secret(secret: str | None) -> bytes:
    """The secret as key bytes, or WeakSecret saying what is wrong (missing or too short)."""
    if not secret:
        raise WeakSecret(
            "OFFERFLOW_PACKAGING_PREVIEW_SECRET is not set: preview links are signed with it "
            f"(at least {MIN_SECRET_BYTES} random bytes, e.g. 43 base64url characters)"
        )
    key = secret.encode()
    if len(key) < MIN_SECRET_BYTES or len(set(key)) < 8:
        raise WeakSecret(
            f"OFFERFLOW_PACKAGING_PREVIEW_SECRET is too weak: use at least {MIN_SECRET_BYTES} random bytes"
        )
    return key


def expiry(issued_at: datetime, ttl_seconds: int) -> int:
    """Expiry from the time of the event that issued the grant: a redelivery yields the same link."""
    return int(issued_at.timestamp()) + ttl_seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, _DOMAIN + payload.encode(), hashlib.sha256).digest()


def sign(key: bytes, grant: Grant) -> str:
    body = {"p": grant.publisher, "o": grant.offer, "r": grant.run_id, "s": grant.subscription,
            "e": grant.expires_at}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_b64(_mac(key, payload))}"


def verify(key: bytes, token: str | None, now: float) -> Grant | None:
    """The grant a token carries if it was signed with ``key`` and has not expired; None for anything else."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN or token.count(".") != 1:
        return None
    payload, signature = token.split(".")
    try:
        given = _unb64(signature)
        body: Any = json.loads(_unb64(payload))
    except (binascii.Error, ValueError):
        return None
    # Compared in constant time, and before the payload is trusted in any way.
    if not hmac.compare_digest(given, _mac(key, payload)):
        return None
    if not isinstance(body, dict):
        return None
    fields = body.get("p"), body.get("o"), body.get("r"), body.get("s")
    expires = body.get("e")
    if not all(isinstance(f, str) and f for f in fields) or type(expires) is not int:
        return None
    subscription = rules.normalise_subscription(fields[3])
    if subscription is None or expires <= now:
        return None
    return Grant(str(fields[0]), str(fields[1]), str(fields[2]), subscription, expires)


def admits(grant: Grant | None, publisher: str, offer: str, subscription_id: str | None) -> bool:
    """The token is for this offer's preview and for the subscription the link names, nobody else."""
    return (
        grant is not None
        and grant.publisher == publisher
        and grant.offer == offer
        and rules.normalise_subscription(subscription_id) == grant.subscription
    )


def link(storefront_url: str, token: str, grant: Grant) -> str:
    base = f"{storefront_url}/preview/{rules.slug(grant.publisher, grant.offer)}"
    return f"{base}?{SUBSCRIPTION_PARAM}={quote(grant.subscription)}&{TOKEN_PARAM}={quote(token)}"


def query(subscription: str, token: str) -> str:
    """The query string of the preview's own sub-resources (images, listing) for the same viewer."""
    return f"{SUBSCRIPTION_PARAM}={quote(subscription)}&{TOKEN_PARAM}={quote(token)}"
