"""JSON on the wire, with CloudEvents (binary mode) and W3C trace headers beside it.

Ops read topics with Kafka's console consumer, so the value is plain, readable JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping

from pydantic import ValidationError

from offerflow_contract.envelope import ContractError, Envelope

Headers = list[tuple[str, bytes]]


def encode(envelope: Envelope) -> bytes:
    return envelope.model_dump_json().encode()


def key_of(envelope: Envelope) -> bytes:
    return envelope.offer_id.encode()


def decode(raw: bytes | None) -> Envelope:
    if raw is None:
        raise ContractError("empty message (tombstone) where an event was expected")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(f"not JSON: {exc}") from exc
    except RecursionError as exc:  # absurdly deep nesting: hostile or broken, never an event
        raise ContractError("not JSON: nested too deeply") from exc
    if not isinstance(data, dict):
        raise ContractError("not a JSON object")
    try:
        return Envelope.model_validate(data)
    except ValidationError as exc:
        raise ContractError(f"not an event envelope: {exc}") from exc
    except RecursionError as exc:
        raise ContractError("not an event envelope: nested too deeply") from exc


def traceparent_for(envelope: Envelope, parent: str | None = None) -> str:
    """Keep the trace id of the causing message (if any) so one publish is one trace."""
    trace_id = envelope.correlation_id.replace("-", "")[:32].rjust(32, "0")
    if parent:
        parts = parent.split("-")
        if len(parts) == 4 and len(parts[1]) == 32:
            trace_id = parts[1]
    return f"00-{trace_id}-{os.urandom(8).hex()}-01"


def headers_for(envelope: Envelope, parent_traceparent: str | None = None) -> Headers:
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(envelope.event_id).encode()),
        ("ce_source", f"offerflow/{envelope.producer}".encode()),
        ("ce_type", envelope.event_type.encode()),
        ("ce_time", envelope.occurred_at.isoformat().encode()),
        ("ce_subject", envelope.offer_id.encode()),
        ("content-type", b"application/json"),
        ("traceparent", traceparent_for(envelope, parent_traceparent).encode()),
    ]


def header(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None, name: str) -> str | None:
    if not headers:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    for k, v in items:
        if k == name:
            return v.decode(errors="replace") if isinstance(v, bytes | bytearray) else str(v)
    return None
