"""certification.passed/failed v1 (no TestID number, no inventory) is read as v2."""

from __future__ import annotations

from typing import Any

from offerflow_contract import codec
from offerflow_contract.envelope import Envelope
from offerflow_contract.events import CertificationFailed, CertificationPassed
from offerflow_contract.samples import stored_samples


def _v1(event_type: str, payload: dict[str, Any]) -> Envelope:
    sample = next(s for s in stored_samples() if s.name == f"{event_type}.v1")
    env = codec.decode(sample.raw)
    return Envelope.model_validate({**env.model_dump(), "payload": {**env.payload, **payload}})


def _report(*keys: str) -> dict[str, Any]:
    return {"plan_id": "p", "image_version": "1.0.0", "disk": "os", "url": "file:///x.vhd",
            "certifier_version": "1.0.0", "test_result": "Fail",
            "tests": [{"test_id": k, "test_case_name": k, "description": "", "result": "Failed",
                       "actual_value": "a", "required_value": "r"} for k in keys]}


def test_the_stored_v1_sample_gets_the_number_it_carried_and_its_key() -> None:
    sample = next(s for s in stored_samples() if s.name == "certification.passed.v1")
    event = codec.decode(sample.raw).event()
    assert isinstance(event, CertificationPassed)
    [test] = event.reports[0].tests
    assert (test.number, test.test_id) == (48, "linux.bash_history")
    assert event.reports[0].packages is None


def test_v1_keys_are_numbered_as_the_catalog_numbered_them() -> None:
    env = _v1("certification.failed", {"reports": [_report("linux.kernel_version", "vhd.cookie", "windows.rdp",
                                                           "future.test")]})
    event = env.event()
    assert isinstance(event, CertificationFailed)
    assert [(t.test_id, t.number) for t in event.reports[0].tests] == [
        ("linux.kernel_version", 52), ("vhd.cookie", 1002), ("windows.rdp", 1103), ("future.test", 0)]
    assert env.schema_version == 1  # read as v2, the message itself is untouched

