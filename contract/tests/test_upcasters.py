"""An event whose shape changed is still read from messages written with its old schema version."""

from __future__ import annotations

from typing import ClassVar

import pytest

from offerflow_contract import codec, envelope, upcasters
from offerflow_contract.envelope import Event, UnknownEventType, wrap


class RenamedField(Event):
    event_type: ClassVar[str] = "test.renamed_field"
    schema_version: ClassVar[int] = 3
    display_name: str
    regions: list[str]


def _v1_to_v2(payload: dict[str, object]) -> dict[str, object]:
    return {"display_name": payload.pop("title"), "region": payload["region"]}


def _v2_to_v3(payload: dict[str, object]) -> dict[str, object]:
    return {"display_name": payload["display_name"], "regions": [payload["region"]]}


@pytest.fixture
def evolved(monkeypatch: pytest.MonkeyPatch) -> None:
    # Registered for this test only, so the contract's own registry (and its samples test) stays as shipped.
    monkeypatch.setitem(envelope._REGISTRY, ("test.renamed_field", 3), RenamedField)
    monkeypatch.setattr(upcasters, "_UPCASTERS", dict(upcasters._UPCASTERS))
    upcasters.upcaster("test.renamed_field", 1)(_v1_to_v2)
    upcasters.upcaster("test.renamed_field", 2)(_v2_to_v3)


def _old_message(version: int, payload: dict[str, object]) -> bytes:
    current = wrap(RenamedField(display_name="x", regions=["y"]), offer_id="o", publisher_id="p", run_id=None,
                   producer="test")
    old = envelope.Envelope.model_validate({**current.model_dump(), "schema_version": version, "payload": payload})
    return codec.encode(old)


def test_a_v1_message_is_read_as_the_current_version(evolved: None) -> None:
    env = codec.decode(_old_message(1, {"title": "Demo", "region": "westeurope"}))
    assert env.event() == RenamedField(display_name="Demo", regions=["westeurope"])
    assert env.schema_version == 1  # the message itself is not rewritten


def test_the_chain_starts_where_the_message_is(evolved: None) -> None:
    env = codec.decode(_old_message(2, {"display_name": "Demo", "region": "eastus"}))
    assert env.event() == RenamedField(display_name="Demo", regions=["eastus"])


def test_a_version_with_neither_class_nor_upcaster_is_unknown(evolved: None) -> None:
    with pytest.raises(UnknownEventType):
        codec.decode(_old_message(9, {})).event()


def test_two_upcasters_for_one_step_are_refused(evolved: None) -> None:
    with pytest.raises(RuntimeError):
        upcasters.upcaster("test.renamed_field", 1)(_v2_to_v3)
