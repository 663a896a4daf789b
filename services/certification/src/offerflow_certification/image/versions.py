"""Version strings found inside images, and the minimums the tests require."""

from __future__ import annotations

import re
from typing import Final

REQUIRED_AGENT: Final = "2.2.41"
REQUIRED_OPENSSL: Final = "0.9.8"
REQUIRED_PYTHON: Final = "2.6"

# CVE-2019-11477/8/9 (TCP SACK): the first fixed kernel of each series. Distribution kernels keep the
# upstream base and count their own ABI after it (x.y.0-N), so they have their own minimums.
_UPSTREAM_SACK: Final[dict[tuple[int, int], str]] = {
    (3, 16): "3.16.69", (4, 4): "4.4.182", (4, 9): "4.9.182", (4, 14): "4.14.127", (4, 19): "4.19.52",
    (5, 1): "5.1.11",
}
_DISTRO_SACK: Final[dict[tuple[int, int], str]] = {
    (3, 10): "3.10.0-957.21.3",  # RHEL / CentOS 7
    (4, 4): "4.4.0-151",  # Ubuntu 16.04
    (4, 12): "4.12.14-95.19.1",  # SLES 12 SP4
    (4, 15): "4.15.0-52",  # Ubuntu 18.04
    (4, 18): "4.18.0-80.4.2",  # RHEL 8
    (5, 0): "5.0.0-17",  # Ubuntu 19.04 HWE
}
FIRST_FIXED_SERIES: Final = (5, 2)


def numbers(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version)[:8])


def at_least(version: str, minimum: str) -> bool:
    return numbers(version) >= numbers(minimum)


def sack_minimum(kernel: str) -> str | None:
    """The first fixed version for this kernel's series; '' when every kernel of it is fixed, None if unknown."""
    n = numbers(kernel)
    if len(n) < 2:
        return None
    series = (n[0], n[1])
    if series >= FIRST_FIXED_SERIES:
        return ""
    distro_style = len(n) >= 4 and n[2] == 0
    return (_DISTRO_SACK if distro_style else _UPSTREAM_SACK).get(series)


_AGENT = re.compile(rb"""AGENT_VERSION\s*=\s*['"]([0-9][0-9.]*)['"]""")
_AGENT_DIR = re.compile(r"^WALinuxAgent-(\d+(?:\.\d+)+)$")
_OPENSSL = re.compile(rb"OpenSSL (\d+\.\d+\.\d+[a-z]?)")
_PYTHON_DIR = re.compile(r"^python(\d+\.\d+)$")


def agent_version_in(source: bytes) -> str | None:
    m = _AGENT.search(source)
    return m.group(1).decode() if m else None


def agent_dir_version(name: str) -> str | None:
    m = _AGENT_DIR.match(name)
    return m.group(1) if m else None


def openssl_version_in(data: bytes) -> str | None:
    found = [m.group(1).decode() for m in _OPENSSL.finditer(data)]
    return max(found, key=numbers) if found else None


def python_dir_version(name: str) -> str | None:
    m = _PYTHON_DIR.match(name)
    return m.group(1) if m else None


def newest(versions: list[str]) -> str | None:
    return max(versions, key=numbers) if versions else None
