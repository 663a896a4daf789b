"""Hashing skips a sparse file's holes but gives the digest of every byte, as a plain read would."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from offerflow_certification.image.certifier import sha256_stream
from offerflow_certification.image.findings import ImageError

MIB = 1 << 20


def sparse(path: Path, size: int, writes: list[tuple[int, bytes]]) -> bytes:
    with open(path, "wb") as f:
        f.truncate(size)
        for at, data in writes:
            f.seek(at)
            f.write(data)
    return path.read_bytes()


@pytest.mark.parametrize("writes", [
    [],  # all hole
    [(0, os.urandom(5000))],  # data first, hole to the end
    [(3 * MIB + 17, os.urandom(100_000)), (20 * MIB - 3, b"end")],  # holes around and between, data at the end
    [(0, os.urandom(MIB + 1)), (8 * MIB, os.urandom(2 * MIB))],  # chunk-sized runs, unaligned
])
def test_a_sparse_file_hashes_like_its_bytes(tmp_path: Path, writes: list[tuple[int, bytes]]) -> None:
    data = sparse(tmp_path / "disk.vhd", 20 * MIB, writes)
    expected = (hashlib.sha256(data).hexdigest(), len(data))
    with open(tmp_path / "disk.vhd", "rb") as f:
        assert sha256_stream(f, MIB, 1 << 40) == expected
    assert sha256_stream(io.BytesIO(data), MIB, 1 << 40) == expected  # the plain path agrees


def test_a_sparse_file_over_the_limit_is_refused_before_hashing(tmp_path: Path) -> None:
    sparse(tmp_path / "big.vhd", 64 * MIB, [])
    with open(tmp_path / "big.vhd", "rb") as f, pytest.raises(ImageError, match="over the limit"):
        sha256_stream(f, MIB, 32 * MIB)
