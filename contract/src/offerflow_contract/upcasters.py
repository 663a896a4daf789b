"""Upcasters: an old ``schema_version`` of an event is rewritten, step by step, into the current one on read.

Topics keep every event forever (they are the source of truth), so a payload written years ago must still be
read by today's code. When an event's shape changes, its class gets ``schema_version = n + 1`` and one upcaster
``(event_type, n) -> payload`` is registered here; the envelope applies the chain until it reaches a version that
has a class. Old messages are never rewritten on the topic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn`` as the step from ``from_version`` to ``from_version + 1`` of ``event_type``."""

    def decorate(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS and _UPCASTERS[key] is not fn:
            raise RuntimeError(f"two upcasters for {event_type} v{from_version}")
        _UPCASTERS[key] = fn
        return fn

    return decorate


def upcast(event_type: str, version: int, payload: Payload, known: Callable[[str, int], bool]) -> tuple[int, Payload]:
    """Apply upcasters from ``version`` until ``known(event_type, v)``; the input is returned as is when none apply."""
    while not known(event_type, version):
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            break
        payload = step(dict(payload))
        version += 1
    return version, payload


def registered_upcasters() -> dict[tuple[str, int], Upcaster]:
    return dict(_UPCASTERS)


# --- certification.passed / certification.failed v1 -> v2: each test gets its TestID number -----------------
# v1 carried only the stable key. The table is the numbering as it stood when v2 was introduced (the keys a v1
# certifier could emit); it is frozen here on purpose: the certifier's catalog may grow, v1 messages do not.
# A v1 message that carried a number as its key (the first stored sample did) keeps that number.
_V1_TEST_NUMBERS: dict[str, int] = {
    "linux.agent_version": 39, "linux.kernel_parameters": 40, "linux.swap": 41, "linux.root_partition": 42,
    "linux.openssl": 44, "linux.python": 45, "linux.client_alive_interval": 46, "linux.bash_history": 48,
    "linux.architecture": 49, "linux.auto_update": 51, "linux.kernel_version": 52,
    "image.readable": 1001, "vhd.cookie": 1002, "vhd.checksum": 1003, "vhd.disk_type": 1004,
    "vhd.min_size": 1005, "vhd.size_alignment": 1006, "vhd.file_length": 1007,
    "mbr.partition_table": 1010, "mbr.partitions_inside_disk": 1011, "mbr.first_mib_free": 1012,
    "disk.first_mib_empty": 1020, "disk.size_limit": 1021, "os.detected": 1030, "linux.filesystem": 1031,
    "linux.default_credentials": 1040, "linux.generalized": 1041,
    "windows.architecture": 1100, "windows.bitlocker": 1101, "windows.srv_sys": 1102, "windows.rdp": 1103,
    "windows.offline_limits": 1104,
}
_V1_KEYS_BY_NUMBER = {n: k for k, n in _V1_TEST_NUMBERS.items()}


def _numbered_test(test: Any) -> Any:
    if not isinstance(test, dict) or "number" in test:
        return test
    key = str(test.get("test_id", ""))
    if key.isdigit():  # an early v1 writer put the number in test_id: keep it, and give the key it stands for
        return {**test, "test_id": _V1_KEYS_BY_NUMBER.get(int(key), key), "number": int(key)}
    return {**test, "number": _V1_TEST_NUMBERS.get(key, 0)}


def _certification_v1_to_v2(payload: Payload) -> Payload:
    reports = payload.get("reports")
    if not isinstance(reports, list):
        return payload
    return {**payload, "reports": [
        {**r, "tests": [_numbered_test(t) for t in r.get("tests", [])]} if isinstance(r, dict) else r
        for r in reports]}


upcaster("certification.passed", 1)(_certification_v1_to_v2)
upcaster("certification.failed", 1)(_certification_v1_to_v2)
