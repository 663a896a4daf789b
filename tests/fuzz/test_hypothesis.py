"""Property-based fuzzing of what reads untrusted bytes: the event decoder and the disk image readers.

The rule: garbage in → a ContractError (events) or an ImageError / findings (images), within a time
bound; never another exception, never a hang. ``derandomize`` keeps CI runs reproducible.
"""

from __future__ import annotations

import io
import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offerflow_certification.image import vhd
from offerflow_certification.image.certifier import Profile, format_tests, os_tests
from offerflow_certification.image.disk import Region
from offerflow_certification.image.ext4 import Ext4
from offerflow_certification.image.findings import Finding, ImageError
from offerflow_contract import codec
from offerflow_contract.envelope import ContractError
from tests.contract.examples import sample_documents

FUZZ = settings(derandomize=True, deadline=None, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=15), inner, max_size=5),
    max_leaves=30)
SAMPLES = sample_documents()


def decode_fully(raw: bytes) -> None:
    with suppress(ContractError):
        codec.decode(raw).event()


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_decode_or_contract_error(raw: bytes) -> None:
    decode_fully(raw)


@FUZZ
@given(JSON)
def test_arbitrary_json_decodes_or_contract_error(doc: Any) -> None:
    decode_fully(json.dumps(doc).encode())


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


@FUZZ
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_mutated_valid_envelopes_decode_or_contract_error(name: str, data: st.DataObject) -> None:
    doc = json.loads(json.dumps(SAMPLES[name]))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(JSON)
    decode_fully(json.dumps(doc).encode())


@FUZZ
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_byte_flipped_envelopes_decode_or_contract_error(name: str, data: st.DataObject) -> None:
    raw = bytearray(json.dumps(SAMPLES[name]).encode())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    decode_fully(bytes(raw))


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"a":' * 100_000])
def test_deeply_nested_json_is_a_contract_error(raw: bytes) -> None:
    decode_fully(raw)


# ------------------------------------------------------------------------------------------ images


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """A hang becomes a failure (the readers are synchronous; SIGALRM interrupts them)."""
    def expired(*_: object) -> None:
        raise TimeoutError(f"the image reader took over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@FUZZ
@given(st.binary(max_size=4096))
def test_vhd_readers_on_arbitrary_bytes(raw: bytes) -> None:
    with time_bound(5):
        with suppress(ImageError):
            vhd.read_footer(io.BytesIO(raw), len(raw))
        try:
            findings = vhd.check_vhd(io.BytesIO(raw), len(raw))
            assert all(f.result for f in findings)
        except ImageError:
            pass


@pytest.fixture(scope="module")
def linux_image(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, int, int]:
    """A real image, the byte offset of its ext4 file system and the end of group 0's inode table."""
    from tests.images.builder import build_linux_vhd

    path = build_linux_vhd(tmp_path_factory.mktemp("fuzz") / "os.vhd")
    raw = Path(path).read_bytes()
    parts = vhd.parse_mbr(raw[:512])
    start = parts[0].lba_start * 512
    with path.open("rb") as f:
        fs = Ext4(Region(f, start, len(raw) - 512 - start))
        gdt = (fs.first_data_block + 1) * fs.block_size
        table = int.from_bytes(raw[start + gdt + 8 : start + gdt + 12], "little")
        end = (table * fs.block_size) + fs.inodes_per_group * fs.inode_size
    return raw, start, min(end, len(raw) - 512 - start)


def _certify(raw: bytes) -> list[Finding]:
    """Every test's finding: a damaged image may fail tests, but the certifier always reports on each."""
    f = io.BytesIO(raw)
    findings = [*format_tests(f, len(raw), Profile()), *os_tests(f, len(raw), Profile()).findings]
    assert findings and all(x.result in ("Passed", "Warning", "Failed") for x in findings)
    return findings


def test_the_unmutated_image_is_certified(linux_image: tuple[bytes, int, int]) -> None:
    failed = [f"{x.test_id} {x.name}: {x.actual} (required {x.required})"
              for x in _certify(linux_image[0]) if not x.passed]
    assert not failed, failed


@settings(FUZZ, max_examples=120)
@given(st.data())
def test_ext4_reader_on_mutated_metadata(linux_image: tuple[bytes, int, int], data: st.DataObject) -> None:
    raw, start, end = linux_image
    image = bytearray(raw)
    # Superblock (1 KiB in), group descriptors, bitmaps and the inode table of group 0.
    region = data.draw(st.sampled_from([(1024, 2048), (2048, 8192), (0, end)]))
    for _ in range(data.draw(st.integers(1, 16))):
        offset = start + data.draw(st.integers(region[0], max(region[0], region[1] - 1)))
        image[offset] = data.draw(st.integers(0, 255))
    began = time.monotonic()
    with time_bound(20):
        try:
            _certify(bytes(image))
        except ImageError as exc:
            assert exc.message
    assert time.monotonic() - began < 20
