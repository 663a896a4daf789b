"""Windows registry hives for test images: an empty regf hive written here, its keys and values added by hivex.

hivex edits hives but cannot create one, so ``empty_hive`` writes the smallest well-formed hive:
the 4 KiB base block and one 4 KiB hive bin holding the root key (nk), its security descriptor (sk) and one free
cell. Everything else goes through ``hivexsh -w`` (``build_hive``), so an independent implementation both writes
and validates the structure the certifier reads. Layout: the regf format as documented by libregf and hivex.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from tests.images.errors import BuilderError

BLOCK: Final = 4096
_HBIN_HEADER: Final = 0x20
_NO_CELL: Final = 0xFFFFFFFF
_FILETIME_EPOCH: Final = 11_644_473_600  # seconds from 1601-01-01 to 1970-01-01
# KEY_HIVE_ENTRY | KEY_NO_DELETE | KEY_COMP_NAME: the root key, name stored as ASCII.
_ROOT_FLAGS: Final = 0x0004 | 0x0008 | 0x0020
_ROOT_NAME: Final = b"ROOT"

# A value in a hive, as hivexsh's setval reads it: ("dword", 0), ("string", "x"), ...
Value = tuple[str, int | str]


def _filetime() -> int:
    return int((time.time() + _FILETIME_EPOCH) * 10_000_000)


def _sid(authority: int, *subs: int) -> bytes:
    return struct.pack("<BB", 1, len(subs)) + authority.to_bytes(6, "big") + struct.pack(f"<{len(subs)}I", *subs)


def security_descriptor() -> bytes:
    """Self-relative: owner and group BUILTIN\\Administrators, a DACL granting Everyone KEY_ALL_ACCESS."""
    admins, everyone = _sid(5, 32, 544), _sid(1, 0)
    ace = struct.pack("<BBHI", 0, 0x02, 8 + len(everyone), 0x000F003F) + everyone  # allowed, container-inherit
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(ace), 1, 0) + ace
    owner_at = 20
    group_at = owner_at + len(admins)
    dacl_at = group_at + len(admins)
    header = struct.pack("<BBHIIII", 1, 0, 0x8004, owner_at, group_at, 0, dacl_at)  # self-relative, DACL present
    return header + admins + admins + acl


def _cell(payload: bytes) -> bytes:
    size = -(-(4 + len(payload)) // 8) * 8
    return struct.pack("<i", -size) + payload.ljust(size - 4, b"\0")


def _nk(sk_offset: int, now: int) -> bytes:
    return (b"nk" + struct.pack("<HQIIIIIIIIIIIIIIIHH", _ROOT_FLAGS, now, 0, _NO_CELL, 0, 0, _NO_CELL, _NO_CELL,
                                0, _NO_CELL, sk_offset, _NO_CELL, 0, 0, 0, 0, 0, len(_ROOT_NAME), 0) + _ROOT_NAME)


def _sk(own_offset: int) -> bytes:
    descriptor = security_descriptor()
    # The list of security cells is circular: the only one points to itself both ways; the root uses it once.
    return b"sk" + struct.pack("<HIIII", 0, own_offset, own_offset, 1, len(descriptor)) + descriptor


def _checksum(base: bytes) -> int:
    x = 0
    for (word,) in struct.iter_unpack("<I", base[:0x1FC]):
        x ^= word
    return {0: 1, 0xFFFFFFFF: 0xFFFFFFFE}.get(x, x)


def empty_hive(name: str = "SYSTEM") -> bytes:
    """A valid hive with only its root key; `name` is the file name recorded in the base block."""
    now = _filetime()
    root_at = _HBIN_HEADER
    root = _nk(0, now)
    sk_at = root_at + len(_cell(root))
    root = _nk(sk_at, now)
    cells = _cell(root) + _cell(_sk(sk_at))
    free = BLOCK - _HBIN_HEADER - len(cells)
    # Offset of this bin, its size, 8 reserved bytes, a timestamp, 4 spare bytes; then the cells.
    hbin = struct.pack("<4sIIQQI", b"hbin", 0, BLOCK, 0, now, 0) + cells + struct.pack("<i", free) + bytes(free - 4)
    base = bytearray(BLOCK)
    struct.pack_into("<4sIIQIIIIII", base, 0, b"regf", 1, 1, now, 1, 5, 0, 1, root_at, BLOCK)
    struct.pack_into("<I", base, 0x2C, 1)  # clustering factor
    # Windows records the hive's own file name here (up to 31 UTF-16 characters); tools identify hives by it.
    recorded = name.encode("utf-16-le")[:62]
    base[0x30 : 0x30 + len(recorded)] = recorded
    struct.pack_into("<I", base, 0x1FC, _checksum(bytes(base)))
    if len(hbin) != BLOCK:
        raise BuilderError(f"internal: hive bin of {len(hbin)} bytes")
    return bytes(base) + hbin


def hivex_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BuilderError(f"{name} not found: install libhivex-bin (scripts/install does)")
    return found


def _value_line(value: Value) -> str:
    kind, data = value
    if kind in ("dword", "qword"):
        return f"{kind}:0x{int(data):x}"
    if kind in ("string", "expandstring"):
        return f"{kind}:{data}"
    raise BuilderError(f"unsupported registry value type {kind!r}")


def hivexsh_script(keys: Mapping[str, Mapping[str, Value]]) -> str:
    """The hivexsh commands that create each key path (parents first) and set its values."""
    lines: list[str] = []
    made: set[str] = set()
    for path, values in keys.items():
        parts = [p for p in path.split("\\") if p]
        for depth, part in enumerate(parts):
            sub = "\\".join(parts[: depth + 1])
            if sub.lower() not in made:
                parent = "\\".join(parts[:depth])
                lines += ["cd \\" + parent, f"add {part}"]
                made.add(sub.lower())
        if values:
            lines += ["cd \\" + "\\".join(parts), f"setval {len(values)}"]
            for name, value in values.items():
                lines += [name, _value_line(value)]
    return "\n".join([*lines, "commit", ""])


def build_hive(out: Path, keys: Mapping[str, Mapping[str, Value]], *, name: str = "SYSTEM") -> Path:
    """Write the empty hive at `out`, then let ``hivexsh -w`` add `keys` (path -> values) and commit."""
    out.write_bytes(empty_hive(name))
    result = subprocess.run([hivex_tool("hivexsh"), "-w", str(out)],
                            input=hivexsh_script(keys), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuilderError(f"hivexsh failed ({result.returncode}): {result.stderr.strip()}")
    return out
