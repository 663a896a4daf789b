"""Every event round-trips through the wire format, and every stored sample still parses."""

from __future__ import annotations

import json

import pytest

from offerflow_contract import codec
from offerflow_contract.envelope import ContractError, Envelope, UnknownEventType, registered_events
from offerflow_contract.samples import Sample, stored_samples
from offerflow_contract.topics import ALL, all_topic_names
from tests.contract.examples import EXAMPLES, envelope_of

SAMPLES = list(stored_samples())


def test_every_registered_event_has_an_example() -> None:
    assert {(e.event_type, e.schema_version) for e in EXAMPLES} == set(registered_events())


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.event_type)
def test_round_trip(event: object) -> None:
    env = envelope_of(event)  # type: ignore[arg-type]
    raw = codec.encode(env)
    back = codec.decode(raw)
    assert back == env
    assert back.event() == event
    assert json.loads(raw)["event_type"] == env.event_type  # readable JSON, stable name, no class path
    assert "offerflow_shared" not in raw.decode()


def test_every_registered_event_has_a_stored_sample() -> None:
    stored = {s.name for s in SAMPLES}
    assert {f"{t}.v{v}" for t, v in registered_events()} <= stored


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_stored_samples_still_parse(sample: Sample) -> None:
    env = codec.decode(sample.raw)
    event = env.event()
    assert f"{env.event_type}.v{env.schema_version}" == sample.name
    assert event.event_type == env.event_type


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"event_type": "x"}', None,
                                 b'{"event_id": "nope"}', "\udcff".encode("utf-8", "surrogatepass")])
def test_garbage_is_a_contract_error(raw: bytes | None) -> None:
    with pytest.raises(ContractError):
        codec.decode(raw)


def test_unknown_event_type_and_bad_payload_are_contract_errors() -> None:
    env = envelope_of(EXAMPLES[0])
    unknown = Envelope.model_validate({**env.model_dump(), "event_type": "offer.exploded"})
    with pytest.raises(UnknownEventType):
        unknown.event()
    bad = Envelope.model_validate({**env.model_dump(), "payload": {"draft_version": "many"}})
    with pytest.raises(ContractError):
        bad.event()


def test_cloudevents_headers_name_the_event_and_offer() -> None:
    env = envelope_of(EXAMPLES[1])
    headers = dict(codec.headers_for(env))
    assert headers["ce_type"] == env.event_type.encode()
    assert headers["ce_subject"] == b"demo"
    assert headers["ce_id"] == str(env.event_id).encode()
    assert headers["traceparent"].startswith(b"00-")


def test_each_topic_has_one_writer_and_a_dlq() -> None:
    writers = [t.writer for t in ALL]
    assert len(writers) == len(set(writers))
    assert all(t.dlq in all_topic_names() for t in ALL)
