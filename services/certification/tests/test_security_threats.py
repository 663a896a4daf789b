"""Test 50, Security threats, on real images: a dpkg status file and an rpmdb.sqlite written by rpm itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from offerflow_certification import report
from offerflow_certification.adapters.source import hash_file
from offerflow_certification.image.certifier import Profile
from offerflow_contract.events import TestOutcome as Outcome
from tests.images import packages as pk
from tests.images.builder import build_linux_vhd

TEST = "linux.security_threats"
DPKG = "/var/lib/dpkg/status"
RPMDB = "/var/lib/rpm/rpmdb.sqlite"
needs_rpm = pytest.mark.skipif(shutil.which("rpmbuild") is None or shutil.which("rpm") is None,
                               reason="rpm and rpmbuild are not installed")


def certify(tmp_path: Path, tree: dict[str, bytes | None]) -> tuple[Outcome, report.DiskReport]:
    image = build_linux_vhd(tmp_path / "image.vhd", tree_overrides=tree)
    local = hash_file(image, max_bytes=1 << 40, chunk_bytes=1 << 20)
    findings, os_run = report.run_tests(local, Profile())
    built = report.build(report.DiskId("p", "1.0.0", "os", image.as_uri()), local, findings, os_run)
    [test] = [t for t in built.tests if t.test_id == TEST]
    return test, built


def test_a_fixed_ubuntu_passes_and_its_inventory_is_attached(tmp_path: Path) -> None:
    test, built = certify(tmp_path, {DPKG: pk.dpkg_status(pk.JAMMY_FIXED, not_installed=("sudo",))})
    assert (test.result, test.number) == ("Passed", 50), test.actual_value
    assert "ubuntu:22.04" in test.actual_value
    assert built.packages is not None and built.packages.format == "dpkg"
    names = [p.name for p in built.packages.packages]
    assert names == sorted(p.name for p in pk.JAMMY_FIXED if p.name != "sudo")  # removed: not installed
    assert {(p.name, p.source) for p in built.packages.packages} >= {("libc6", "glibc"), ("bash", "bash")}


def test_openssh_before_its_usn_fails_naming_package_version_and_fix(tmp_path: Path) -> None:
    test, _ = certify(tmp_path, {DPKG: pk.dpkg_status(pk.JAMMY_REGRESSHION)})
    assert test.result == "Failed"
    assert "openssh-server 1:8.9p1-3ubuntu0.6" in test.actual_value
    assert "< 1:8.9p1-3ubuntu0.10" in test.actual_value and "CVE-2024-6387" in test.actual_value
    assert "USN-6859-1" in test.actual_value


def test_ghost_shellshock_and_heartbleed_fail_on_an_unpatched_wheezy(tmp_path: Path) -> None:
    test, _ = certify(tmp_path, {"/etc/os-release": pk.WHEEZY_OS_RELEASE, DPKG: pk.dpkg_status(pk.WHEEZY_VULNERABLE)})
    assert test.result == "Failed"
    for cve, line in [("CVE-2015-0235", "libc6 2.13-38+deb7u6 (source eglibc 2.13-38+deb7u6) < 2.13-38+deb7u7"),
                      ("CVE-2014-6271", "bash 4.2+dfsg-0.1 (source bash 4.2+dfsg-0.1) < 4.2+dfsg-0.1+deb7u1"),
                      ("CVE-2014-7169", "< 4.2+dfsg-0.1+deb7u3"), ("CVE-2014-0160", "libssl1.0.0 1.0.1e-2+deb7u4")]:
        assert cve in test.actual_value and line in test.actual_value, (cve, test.actual_value)
    assert "coreutils" not in test.actual_value


def test_the_first_fixed_versions_pass_on_wheezy(tmp_path: Path) -> None:
    test, _ = certify(tmp_path, {"/etc/os-release": pk.WHEEZY_OS_RELEASE, DPKG: pk.dpkg_status(pk.WHEEZY_FIXED)})
    assert test.result == "Passed", test.actual_value


@needs_rpm
@pytest.mark.parametrize(("installed", "result"), [(pk.RHEL9_VULNERABLE, "Failed"), (pk.RHEL9_FIXED, "Passed")])
def test_an_rpm_sqlite_database_is_read(tmp_path: Path, installed: list[pk.Rpm], result: str) -> None:
    test, built = certify(tmp_path, {"/etc/os-release": pk.RHEL9_OS_RELEASE, DPKG: None,
                                     RPMDB: pk.rpmdb_sqlite(installed)})
    assert test.result == result, test.actual_value
    assert built.packages is not None and built.packages.format == "rpm" and built.packages.database == RPMDB
    assert {(p.name, p.version, p.source) for p in built.packages.packages} == {
        (p.name, f"{p.epoch}:{p.version}-{p.release}" if p.epoch else f"{p.version}-{p.release}", p.name)
        for p in installed}
    if result == "Failed":
        assert "openssh 8.7p1-34.el9 (source openssh 8.7p1-34.el9) < 8.7p1-38.el9_4.1" in test.actual_value
        assert "RHSA-2024:4312" in test.actual_value


def test_a_berkeleydb_rpm_database_is_a_warning_naming_it(tmp_path: Path) -> None:
    test, built = certify(tmp_path, {DPKG: None, "/var/lib/rpm/Packages": b"\0\0\0\0\x61\x15\x06\0" + bytes(4088)})
    assert test.result == "Warning"
    assert "/var/lib/rpm/Packages (BerkeleyDB)" in test.actual_value
    assert built.packages is None


def test_no_package_database_is_a_warning(tmp_path: Path) -> None:
    test, built = certify(tmp_path, {DPKG: None})
    assert test.result == "Warning" and "no package database found" in test.actual_value
    assert built.packages is None


def test_a_release_outside_the_list_is_a_warning(tmp_path: Path) -> None:
    arch = b'NAME="Arch Linux"\nID=arch\n'
    test, _ = certify(tmp_path, {"/etc/os-release": arch, DPKG: pk.dpkg_status(pk.JAMMY_REGRESSHION)})
    assert test.result == "Warning"
    assert "the distribution release (unknown) is not covered" in test.actual_value
