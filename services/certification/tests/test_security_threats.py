"""Test 50, Security threats, on real images: a dpkg status file and an rpmdb.sqlite written by rpm itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from offerflow_certification import report
from offerflow_certification.adapters.source import hash_file
from offerflow_certification.image.certifier import Profile
from offerflow_certification.image.linux_threats import assess
from offerflow_certification.image.packages import Inventory, Package
from offerflow_contract.events import DiskReport
from offerflow_contract.events import TestOutcome as Outcome
from tests.images import packages as pk
from tests.images.builder import build_linux_vhd

TEST = "linux.security_threats"
DPKG = "/var/lib/dpkg/status"
RPMDB = "/var/lib/rpm/rpmdb.sqlite"
needs_rpm = pytest.mark.skipif(shutil.which("rpmbuild") is None or shutil.which("rpm") is None,
                               reason="rpm and rpmbuild are not installed")


def certify(tmp_path: Path, tree: dict[str, bytes | None]) -> tuple[Outcome, DiskReport]:
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


def rpm_inventory(*packages: tuple[str, str]) -> Inventory:
    return Inventory("rpm", "/var/lib/rpm/rpmdb.sqlite",
                     tuple(Package(name, evr, name, evr, "x86_64") for name, evr in packages))


def dpkg_inventory(*packages: tuple[str, str, str]) -> Inventory:
    return Inventory("dpkg", DPKG, tuple(Package(name, v, source, v, "amd64") for name, source, v in packages))


@pytest.mark.parametrize("installed", ["1.0.1e-48.el6_8.1", "1:1.0.1e-48.el6_8.1", "1.0.1e-16.el6_5.7",
                                       "1:1.0.1e-16.el6_5.7"])
def test_heartbleed_s_rhel_6_fix_holds_whatever_the_openssl_epoch(installed: str) -> None:
    assert assess(rpm_inventory(("openssl", installed)), "rhel:6") == ([], [])


@pytest.mark.parametrize("installed", ["1.0.1e-15.el6", "1:1.0.1e-15.el6"])
def test_an_openssl_before_rhsa_2014_0376_is_vulnerable_whatever_its_epoch(installed: str) -> None:
    vulnerable, unknown = assess(rpm_inventory(("openssl", installed)), "rhel:6")
    assert vulnerable == [f"openssl {installed} (source openssl {installed}) < 1.0.1e-16.el6_5.7: CVE-2014-0160 "
                          "Heartbleed (OpenSSL heartbeat read overrun) (RHSA-2014:0376)"] and unknown == []


def test_ghost_on_rhel_6_names_rhsa_2015_0092() -> None:
    vulnerable, _ = assess(rpm_inventory(("glibc", "2.12-1.149.el6_6.4")), "rhel:6")
    assert len(vulnerable) == 1 and "< 2.12-1.149.el6_6.5" in vulnerable[0] and "(RHSA-2015:0092)" in vulnerable[0]
    assert assess(rpm_inventory(("glibc", "2.12-1.149.el6_6.5")), "rhel:6") == ([], [])


def test_trusty_s_first_shellshock_rebuild_is_still_vulnerable_to_cve_2014_7169() -> None:
    # USN-2363-1's 14.04 package missed the patch; USN-2363-2 (4.3-7ubuntu1.3) is the first fixed one.
    vulnerable, _ = assess(dpkg_inventory(("bash", "bash", "4.3-7ubuntu1.2")), "ubuntu:14.04")
    assert [line.split(": ")[1].split(" ")[0] for line in vulnerable] == ["CVE-2014-7169"]
    assert "< 4.3-7ubuntu1.3" in vulnerable[0] and "(USN-2363-2)" in vulnerable[0]
    assert assess(dpkg_inventory(("bash", "bash", "4.3-7ubuntu1.3")), "ubuntu:14.04") == ([], [])


def test_an_epoch_the_record_writes_still_decides() -> None:
    vulnerable, _ = assess(dpkg_inventory(("openssh-server", "openssh", "9.2p1-2+deb12u3")), "debian:12")
    assert len(vulnerable) == 1 and "CVE-2024-6387" in vulnerable[0]


def test_a_release_without_a_fix_on_record_is_unknown_not_passed() -> None:
    vulnerable, unknown = assess(dpkg_inventory(("sudo", "sudo", "1.8.3p1-1ubuntu3.9")), "ubuntu:12.04")
    assert vulnerable == [] and len(unknown) == 1 and unknown[0].startswith("CVE-2021-3156 (Baron Samedit")
    assert "no data for ubuntu:12.04" in unknown[0]


CENTOS6 = {"/etc/os-release": None, "/etc/redhat-release": b"CentOS release 6.10 (Final)\n", DPKG: None}


@needs_rpm
@pytest.mark.parametrize(("openssl", "result"), [(pk.Rpm("openssl", "1.0.1e", "48.el6_8.1"), "Passed"),
                                                 (pk.Rpm("openssl", "1.0.1e", "15.el6", epoch=1), "Failed")])
def test_an_rpm_database_of_centos_6_is_judged_on_release_not_epoch(tmp_path: Path, openssl: pk.Rpm,
                                                                     result: str) -> None:
    installed = [openssl, pk.Rpm("glibc", "2.12", "1.212.el6"), pk.Rpm("bash", "4.1.2", "48.el6")]
    test, _ = certify(tmp_path, {**CENTOS6, RPMDB: pk.rpmdb_sqlite(installed)})
    assert test.result == result, test.actual_value
    if result == "Passed":
        assert "of rhel:6" in test.actual_value
    else:
        assert "openssl 1:1.0.1e-15.el6" in test.actual_value and "(RHSA-2014:0376)" in test.actual_value
