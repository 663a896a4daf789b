"""The image builder makes real, fsck-clean Linux disks, as root or not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.images.builder import (
    AGENT_VERSION,
    KERNEL_VERSION,
    MIB,
    BuilderError,
    build_linux_vhd,
    chs_geometry,
)

SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
DEBUGFS = shutil.which("debugfs", path=SBIN)
E2FSCK = shutil.which("e2fsck", path=SBIN)
FS_OFFSET = 2048 * 512


def debugfs(image: Path, request: str) -> str:
    assert DEBUGFS is not None
    result = subprocess.run(
        [DEBUGFS, "-R", request, f"{image}?offset={FS_OFFSET}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def read_file(image: Path, path: str) -> str:
    return debugfs(image, f"cat {path}")


def exists(image: Path, path: str) -> bool:
    return "Inode:" in debugfs(image, f"stat {path}")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_linux_vhd(tmp_path_factory.mktemp("img") / "linux.vhd")


def test_disk_is_sparse_and_sized(image: Path) -> None:
    assert image.stat().st_size == 32 * MIB + 512
    assert image.stat().st_blocks * 512 < 16 * MIB


@pytest.mark.skipif(E2FSCK is None, reason="e2fsprogs missing")
def test_filesystem_is_fsck_clean(image: Path, tmp_path: Path) -> None:
    assert E2FSCK is not None
    partition = tmp_path / "part.img"
    with open(image, "rb") as src, open(partition, "wb") as dst:
        src.seek(FS_OFFSET)
        dst.write(src.read(31 * MIB))
    subprocess.run([E2FSCK, "-fn", str(partition)], capture_output=True, check=True)


def test_tree_looks_like_generalized_azure_ubuntu(image: Path) -> None:
    assert 'VERSION_ID="22.04"' in read_file(image, "/etc/os-release")
    assert f"AGENT_VERSION = '{AGENT_VERSION}'" in read_file(
        image, "/usr/lib/python3/dist-packages/azurelinuxagent/common/version.py"
    )
    assert "AutoUpdate.Enabled=y" in read_file(image, "/etc/waagent.conf")
    assert 'GRUB_CMDLINE_LINUX="console=ttyS0 earlyprintk=ttyS0 rootdelay=300"' in read_file(
        image, "/etc/default/grub"
    )
    assert "swap" not in read_file(image, "/etc/fstab")
    assert "ClientAliveInterval 180" in read_file(image, "/etc/ssh/sshd_config")
    assert read_file(image, "/etc/machine-id") == ""
    assert "ssh_host_" not in debugfs(image, "ls /etc/ssh")
    assert not exists(image, "/root/.bash_history")
    assert exists(image, "/root")
    for line in read_file(image, "/etc/shadow").splitlines():
        assert line.split(":")[1].startswith(("!", "*"))
    assert exists(image, f"/boot/vmlinuz-{KERNEL_VERSION}")
    assert "3.0.2" in read_file(image, "/usr/include/openssl/opensslv.h")


def test_python_is_an_x86_64_elf(image: Path) -> None:
    header = debugfs(image, "stat /usr/bin/python3")
    assert "Size: 64" in header
    dumped = subprocess.run(
        [str(DEBUGFS), "-R", "cat /usr/bin/python3", f"{image}?offset={FS_OFFSET}"],
        capture_output=True,
        check=True,
    ).stdout
    assert dumped[:5] == b"\x7fELF\x02"
    assert int.from_bytes(dumped[18:20], "little") == 0x3E


def test_files_are_root_owned_whoever_builds(image: Path) -> None:
    assert "User:     0   Group:    42" in debugfs(image, "stat /etc/shadow")
    assert "User:     0   Group:     0" in debugfs(image, "stat /usr/sbin/waagent")


def test_tree_overrides_replace_and_remove(tmp_path: Path) -> None:
    image = build_linux_vhd(
        tmp_path / "o.vhd",
        tree_overrides={
            "/etc/waagent.conf": b"AutoUpdate.Enabled=n\n",
            "/etc/machine-id": None,
            "/root/.bash_history": b"sudo reboot\n",
        },
    )
    assert read_file(image, "/etc/waagent.conf") == "AutoUpdate.Enabled=n\n"
    assert not exists(image, "/etc/machine-id")
    assert read_file(image, "/root/.bash_history") == "sudo reboot\n"


@pytest.mark.parametrize("bad", ["etc/x", "/", "/etc/../x", "/etc//x"])
def test_tree_paths_must_be_normalised(bad: str, tmp_path: Path) -> None:
    with pytest.raises(BuilderError):
        build_linux_vhd(tmp_path / "x.vhd", tree_overrides={bad: b""})


def test_disk_too_small_for_a_filesystem(tmp_path: Path) -> None:
    with pytest.raises(BuilderError, match="no room"):
        build_linux_vhd(tmp_path / "x.vhd", size_mib=2)
    assert not (tmp_path / "x.vhd").exists()


@pytest.mark.parametrize(
    ("size", "geometry"),
    [
        (32 * MIB, (963, 4, 17)),
        (200 * 1024 * MIB, (65535, 16, 255)),  # the spec's cap
        (4 * 1024 * MIB, (8322, 16, 63)),
    ],
)
def test_chs_geometry_follows_the_spec(size: int, geometry: tuple[int, int, int]) -> None:
    assert chs_geometry(size) == geometry


_AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _unprivileged_python() -> str | None:
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        probe = subprocess.run(
            [*_AS_NOBODY, candidate, "-c", "pass"],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return candidate
    return None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to drop to nobody")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv missing")
def test_cli_builds_as_unprivileged_user() -> None:
    python = _unprivileged_python()
    if python is None:
        pytest.skip("no interpreter that user nobody may run")
    # pytest's tmp_path lives under a 0700 per-user directory nobody cannot enter.
    work = Path(tempfile.mkdtemp(prefix="offerflow-nobody-"))
    try:
        work.chmod(0o777)
        _build_as_nobody(python, work)
    finally:
        shutil.rmtree(work)


def _build_as_nobody(python: str, work: Path) -> None:
    # The builder is a package of modules and nobody may not read the checkout: copy the package (not its tests)
    # under the same name and run it with -m, so the work directory comes first on sys.path.
    here = Path(__file__).parent
    package = work / "tests" / "images"
    package.mkdir(parents=True)
    for directory in (package.parent, package):
        directory.chmod(0o755)
    copies = {package.parent / "__init__.py": here.parent / "__init__.py"}
    copies |= {package / source.name: source for source in here.glob("*.py") if not source.name.startswith("test_")}
    for target, source in copies.items():
        shutil.copy(source, target)
        target.chmod(0o644)
    result = subprocess.run(
        [*_AS_NOBODY, python, "-m", "tests.images.builder", str(work / "out.vhd"), "--variant", "compliant"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(work)},
        cwd=work,
    )
    assert result.returncode == 0, result.stderr
    assert (work / "out.vhd").stat().st_uid == 65534
    assert "User:     0" in debugfs(work / "out.vhd", "stat /etc/shadow")
