"""Kernel parameters of images booted by EXTLINUX/SYSLINUX: read from the APPEND line the loader really uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from offerflow_certification import report
from offerflow_certification.adapters.source import hash_file
from offerflow_certification.image.certifier import Profile
from offerflow_certification.image.findings import Finding
from offerflow_certification.image.linux import syslinux_append
from tests.images.builder import build_linux_vhd

_CONF = """SERIAL 0 115200
DEFAULT debian
APPEND quiet

label rescue
  linux /boot/vmlinuz
  append root=/dev/sdb1 single

LABEL debian
\tLINUX /boot/vmlinuz-6.1.0-57-cloud-amd64
\tAppend root=UUID=1234 ro console=ttyS0 earlyprintk=ttyS0
\tAPPEND ignored=1
"""


def test_default_label_wins_whatever_the_case_and_indentation() -> None:
    assert syslinux_append(_CONF) == ["root=UUID=1234", "ro", "console=ttyS0", "earlyprintk=ttyS0"]


def test_global_append_then_first_label_when_the_default_has_none() -> None:
    assert syslinux_append("DEFAULT a\nAPPEND g=1\nLABEL a\n  LINUX /k\nLABEL b\n  APPEND b=1\n") == ["g=1"]
    assert syslinux_append("DEFAULT zz\nLABEL a\n  APPEND a=1\nLABEL b\n  APPEND b=1\n") == ["a=1"]
    assert syslinux_append("DEFAULT a\nLABEL a\n  LINUX /k\n") == []


def _kernel_parameters(tmp_path: Path, conf: bytes | None) -> Finding:
    tree: dict[str, bytes | None] = {"/etc/default/grub": None}
    if conf is not None:
        tree["/boot/extlinux/extlinux.conf"] = conf
    image = build_linux_vhd(tmp_path / "x.vhd", tree_overrides=tree)
    findings, os_result = report.run_tests(hash_file(image, max_bytes=1 << 40, chunk_bytes=1 << 20), Profile())
    return next(f for f in findings + os_result.findings if f.test_id == "linux.kernel_parameters")


@pytest.mark.parametrize(("append", "result"), [
    ("console=ttyS0 earlyprintk=ttyS0 rootdelay=300", "Passed"),
    ("console=ttyS0 earlyprintk=ttyS0", "Warning"),
    ("console=tty0", "Failed"),
])
def test_extlinux_image_is_judged_on_its_append_line(append: str, result: str, tmp_path: Path) -> None:
    conf = f"DEFAULT l\nLABEL l\n  LINUX /boot/vmlinuz\n  APPEND root=UUID=1 ro {append}\n".encode()
    finding = _kernel_parameters(tmp_path, conf)
    assert finding.result == result
    assert finding.actual.startswith("/boot/extlinux/extlinux.conf: root=UUID=1 ro ")


def test_no_boot_loader_configuration_fails(tmp_path: Path) -> None:
    finding = _kernel_parameters(tmp_path, None)
    assert finding.result == "Failed" and "extlinux.conf" in finding.actual
