"""Every OS and disk test passes on the compliant image and fails, alone, on the variant made to break it."""

from __future__ import annotations

from pathlib import Path

import pytest

from offerflow_certification import report
from offerflow_certification.adapters.source import LocalImage, hash_file
from offerflow_certification.image.catalog import TESTS
from offerflow_certification.image.certifier import Profile
from offerflow_certification.image.findings import Finding
from tests.images.builder import VARIANTS, build_linux_vhd, build_variant
from tests.images.os_variants import OS_VARIANTS, build_os_variant


def _hash(path: Path) -> LocalImage:
    return hash_file(path, max_bytes=1 << 40, chunk_bytes=1 << 20)


def run(path: Path, profile: Profile | None = None) -> list[Finding]:
    profile = profile or Profile()
    findings, os_result = report.run_tests(_hash(path), profile)
    return findings + os_result.findings


def results(findings: list[Finding]) -> dict[str, str]:
    return {f.test_id: f.result for f in findings}


@pytest.fixture(scope="module")
def compliant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_linux_vhd(tmp_path_factory.mktemp("os") / "ok.vhd")


def test_compliant_linux_image_passes_every_test(compliant: Path) -> None:
    got = results(run(compliant))
    assert {k for k, v in got.items() if v != "Passed"} == set()
    assert {t for t in TESTS if t.startswith("linux.")} <= set(got)
    assert {"disk.first_mib_empty", "disk.size_limit", "mbr.partition_table"} <= set(got)


@pytest.mark.parametrize("variant", sorted(OS_VARIANTS))
def test_variant_fails_exactly_its_test(variant: str, tmp_path: Path) -> None:
    findings = run(build_os_variant(tmp_path / f"{variant}.vhd", variant))
    failed = {f.test_id for f in findings if f.result == "Failed"}
    assert failed == OS_VARIANTS[variant][1], [(f.test_id, f.actual) for f in findings if not f.passed]
    for f in findings:
        if not f.passed:
            assert f.actual and f.required  # says what was found and what is required


def test_every_os_and_disk_test_has_a_failing_variant() -> None:
    covered = set().union(*(expected for _, expected in OS_VARIANTS.values()))
    wanted = {t for t in TESTS if t.split(".")[0] in ("linux", "disk", "os")} | {"windows.bitlocker"}
    assert wanted <= covered


def test_approved_base_skips_the_first_mib_rule(tmp_path: Path) -> None:
    image = build_os_variant(tmp_path / "grub.vhd", "first-mib-data")
    assert "disk.first_mib_empty" not in results(run(image, Profile(approved_base=True)))


def test_data_disk_gets_format_tests_only(compliant: Path) -> None:
    got = results(run(compliant, Profile(os_disk=False)))
    assert set(got) == {t for t in TESTS if t.startswith("vhd.")} | {"disk.size_limit"}
    assert set(got.values()) == {"Passed"}


@pytest.mark.parametrize(("tree", "test_id"), [
    ({"/root/.bash_history": b"ls\n"}, "linux.bash_history"),
    ({"/etc/default/grub": b'GRUB_CMDLINE_LINUX="console=ttyS0 earlyprintk=ttyS0"\n'}, "linux.kernel_parameters"),
    ({"/etc/waagent.conf": b"Logs.Verbose=n\n"}, "linux.auto_update"),
    ({"/boot/vmlinuz-5.15.0-1051-azure": None, "/boot/vmlinuz-4.7.3": b"k"}, "linux.kernel_version"),
])
def test_doubtful_settings_are_warnings_not_passes(tree: dict[str, bytes | None], test_id: str,
                                                   tmp_path: Path) -> None:
    got = results(run(build_linux_vhd(tmp_path / "w.vhd", tree_overrides=tree)))
    assert got[test_id] == "Warning"
    assert "Failed" not in got.values()


def test_sshd_include_first_value_wins(tmp_path: Path) -> None:
    tree = {"/etc/ssh/sshd_config": b"Include /etc/ssh/sshd_config.d/*.conf\nClientAliveInterval 180\n",
            "/etc/ssh/sshd_config.d/50-cloud.conf": b"ClientAliveInterval 10\n"}
    findings = {f.test_id: f for f in run(build_linux_vhd(tmp_path / "s.vhd", tree_overrides=tree))}
    assert findings["linux.client_alive_interval"].actual == "10"
    assert not findings["linux.client_alive_interval"].passed


def test_windows_volume_reports_what_cannot_be_checked_offline(tmp_path: Path) -> None:
    findings = {f.test_id: f for f in run(build_os_variant(tmp_path / "n.vhd", "ntfs-empty"))}
    assert findings["windows.bitlocker"].result == "Passed"
    assert findings["windows.offline_limits"].result == "Warning"
    assert "no Windows installation" in findings["windows.architecture"].actual


def test_local_image_type_is_what_the_handlers_use(compliant: Path) -> None:
    assert isinstance(_hash(compliant), LocalImage)


@pytest.mark.parametrize("variant", sorted(set(VARIANTS) - {"tiny-file"}))
def test_bad_format_variants_give_failed_tests_never_a_crash(variant: str, tmp_path: Path) -> None:
    got = results(run(build_variant(tmp_path / f"{variant}.vhd", variant)))
    assert ("Failed" in got.values()) == (variant != "compliant")
