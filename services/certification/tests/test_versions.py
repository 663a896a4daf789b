from __future__ import annotations

import pytest

from offerflow_certification.image import versions as v
from offerflow_certification.image.windows import pe_machine, srv_minimum


@pytest.mark.parametrize(("kernel", "minimum"), [
    ("5.15.0-1051-azure", ""), ("4.15.0-50-generic", "4.15.0-52"), ("3.10.0-1160.el7.x86_64", "3.10.0-957.21.3"),
    ("4.19.40", "4.19.52"), ("4.7.3", None), ("x", None),
])
def test_sack_minimum(kernel: str, minimum: str | None) -> None:
    assert v.sack_minimum(kernel) == minimum


def test_version_comparison_is_numeric() -> None:
    assert v.at_least("2.10.0", "2.2.41")
    assert not v.at_least("2.2.40", "2.2.41")
    assert v.at_least("3.10.0-1160.el7", "3.10.0-957.21.3")
    assert v.newest(["4.4.0-9", "4.4.0-151", "4.4.0-21"]) == "4.4.0-151"


def test_parsers() -> None:
    assert v.agent_version_in(b"AGENT_VERSION = '2.9.1.1'\n") == "2.9.1.1"
    assert v.agent_dir_version("WALinuxAgent-2.10.0.8") == "2.10.0.8"
    assert v.agent_dir_version("WALinuxAgent-x") is None
    assert v.openssl_version_in(b"\0OpenSSL 1.1.1w  11 Sep 2023\0OpenSSL 1.0.2k") == "1.1.1w"
    assert v.python_dir_version("python3.10") == "3.10"


def test_srv_minimum_by_build() -> None:
    assert srv_minimum("6.1.7601.23000") == "6.1.7601.23689"
    assert srv_minimum("10.0.17763.1") == ""
    assert srv_minimum("5.2.3790.0") is None


def test_pe_machine() -> None:
    pe = bytearray(0x100)
    pe[:2] = b"MZ"
    pe[0x3C:0x40] = (0x80).to_bytes(4, "little")
    pe[0x80:0x86] = b"PE\0\0" + (0x8664).to_bytes(2, "little")
    assert pe_machine(bytes(pe)) == 0x8664
    assert pe_machine(b"MZ") is None
    assert pe_machine(bytes(0x100)) is None
