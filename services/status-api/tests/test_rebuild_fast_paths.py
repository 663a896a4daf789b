"""The rebuild's faster paths decide exactly what the slower ones decide: the record decoder, the JSON writer of
the read model's columns and the fold's step-state builder."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from offerflow_contract.envelope import ContractError
from offerflow_contract.samples import stored_samples
from offerflow_status_api.adapters.run_writes import dumps
from offerflow_status_api.projection.state import EMPTY_STEP, Note, StepState, step_state
from offerflow_status_api.rebuild import decode, decode_fast

SAMPLES = [s.raw for s in stored_samples()]
# A draft: its definition is free-form JSON, so what the JSON parsers make of odd values reaches the event.
DRAFT = next(s.raw for s in stored_samples() if s.name == "offer.draft_saved.v1")
ENVELOPE = json.loads(DRAFT)


def variant(**changes: object) -> bytes:
    return json.dumps({**ENVELOPE, **changes}).encode()


def in_definition(value: object) -> bytes:
    return variant(payload={**ENVELOPE["payload"], "definition": {"x": value}})


ODD = {
    "tombstone": None,
    "empty": b"",
    "not json": b"not json",
    "an array": b"[1, 2]",
    "a string": b'"text"',
    "utf-8 BOM": b"\xef\xbb\xbf" + DRAFT,
    "utf-16": DRAFT.decode().encode("utf-16"),
    "not utf-8": DRAFT.replace(b"{", b"{\xff", 1),
    "nested too deeply": b"[" * 100_000 + b"]" * 100_000,
    "nested deeper than pydantic reads": in_definition(json.loads("[" * 300 + "]" * 300)),
    "NaN": in_definition(float("nan")),
    "Infinity": in_definition(float("inf")),
    "huge integer": in_definition(10**40),
    "float digits": in_definition(0.1 + 0.2),
    "escapes": in_definition("\u00e9\u2028\n\"\\ \U0001f600"),
    "lone surrogate in the payload": in_definition("\ud800"),
    "unknown event type": variant(event_type="offer.unheard_of"),
    "unknown field": variant(surprise=1),
    "missing field": json.dumps({k: v for k, v in ENVELOPE.items() if k != "producer"}).encode(),
    "bad payload": variant(payload={"nonsense": True}),
    "naive time": variant(occurred_at="2026-01-01T00:00:00"),
    "bad id": variant(event_id="not-a-uuid"),
    "duplicate key": DRAFT.replace(b"{", b'{"producer": "first", ', 1),
    "lone surrogate": variant(producer="\ud800"),
}


def verdict(parse: object, raw: bytes | None) -> object:
    try:
        env, event = parse(raw)  # type: ignore[operator]
    except ContractError as exc:
        return ("refused", type(exc))
    return env.model_dump(), event.model_dump(), type(event)


@pytest.mark.parametrize("raw", SAMPLES + list(ODD.values()),
                         ids=[f"sample{i}" for i in range(len(SAMPLES))] + list(ODD))
def test_the_fast_decoder_decides_as_the_codec(raw: bytes | None) -> None:
    # Compared as text: a NaN is not equal to itself.
    assert repr(verdict(decode_fast, raw)) == repr(verdict(decode, raw))


def test_the_samples_decode() -> None:
    assert all(verdict(decode_fast, raw)[0] != "refused" for raw in SAMPLES)


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, None, True, "é\u2028"], "b": {"c": ()}},
    {"big": 10**40, "small": -(2**70)},
    {"surrogate": "\ud800"},
    [("2026-01-01T00:00:00.000000+00:00", str(uuid.UUID(int=1))), 3],
])
def test_dumps_writes_what_json_writes(value: object) -> None:
    assert json.loads(dumps(value)) == json.loads(json.dumps(value))


def test_step_state_builds_what_the_dataclass_builds() -> None:
    key = (datetime(2026, 1, 1, tzinfo=UTC).isoformat(), str(uuid.UUID(int=2)))
    fields: dict[str, object] = {"first_change": (key, "inProgress", False), "stage_start": key,
                                 "progress": ((key, 40),), "notes": (Note(key, 0, "information", "hi"),)}
    built = step_state(**fields)
    assert built == StepState(**fields)  # type: ignore[arg-type]
    assert hash(built) == hash(StepState(**fields))  # type: ignore[arg-type]
    assert step_state() == EMPTY_STEP
    with pytest.raises(TypeError, match="no field"):
        step_state(progres=())


def test_a_join_with_the_empty_step_is_the_other_step() -> None:
    key = ("2026-01-01T00:00:00.000000+00:00", str(uuid.UUID(int=3)))
    step = StepState(first_set=key, last_set=(key, "failed"), finished=key)
    assert EMPTY_STEP.join(step) is step
    assert step.join(EMPTY_STEP) is step
    assert step.join(StepState(done=True)) == StepState(first_set=key, last_set=(key, "failed"), finished=key,
                                                       done=True)
