"""The read-only ext4 reader against real mkfs.ext4 images, and against corruption."""

from __future__ import annotations

import random
import struct
import time
from pathlib import Path

import pytest

from offerflow_certification.image.disk import Region, probe
from offerflow_certification.image.ext4 import Ext4, Ext4Error
from offerflow_certification.image.findings import ImageError
from tests.images.builder import AGENT_VERSION, build_linux_vhd
from tests.images.fs_variants import build_fs_variant

FS = 2048 * 512
BIG = bytes(range(256)) * 600  # 150 KiB: several blocks, one extent


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_linux_vhd(tmp_path_factory.mktemp("ext4") / "fs.vhd",
                           tree_overrides={"/opt/big.bin": BIG, "/opt/deep/a/b/c/d.txt": b"deep\n"})


def open_fs(path: Path) -> Ext4:
    f = open(path, "rb")  # noqa: SIM115 - closed with the test process; the reader keeps it
    return Ext4(Region(f, FS, path.stat().st_size - 512 - FS, "partition 1"))


def test_reads_files_by_path(image: Path) -> None:
    fs = open_fs(image)
    assert fs.block_size == 4096
    assert fs.volume_label == "cloudimg-rootfs"
    assert fs.read_path("/opt/big.bin") == BIG
    assert fs.read_path("/opt/deep/a/b/c/d.txt") == b"deep\n"
    assert fs.read_path("/opt/big.bin", 10) == BIG[:10]
    version = fs.read_path("/usr/lib/python3/dist-packages/azurelinuxagent/common/version.py")
    assert version is not None and AGENT_VERSION.encode() in version


def test_lists_directories_and_misses_cleanly(image: Path) -> None:
    fs = open_fs(image)
    assert {"etc", "usr", "root", "boot"} <= set(fs.list_path("/"))
    assert fs.lookup("/etc/nope") is None
    assert fs.lookup("/etc/os-release/x") is None
    assert fs.read_path("/etc") is None
    assert fs.list_path("/etc/os-release") == {}


def test_probe_says_ext(image: Path) -> None:
    with open(image, "rb") as f:
        assert probe(Region(f, FS, 1 << 20)).kind == "ext"


def test_not_ext_is_an_error(image: Path) -> None:
    with open(image, "rb") as f, pytest.raises(Ext4Error, match="magic"):
        Ext4(Region(f, 0, 1 << 20))


def test_random_corruption_gives_errors_never_crashes_or_hangs(image: Path, tmp_path: Path) -> None:
    rng = random.Random(4)
    original = image.read_bytes()
    broken = tmp_path / "broken.vhd"
    for _ in range(40):
        data = bytearray(original)
        # Metadata lives in the first blocks of the file system: superblock, descriptors, inode table.
        for _ in range(rng.randrange(1, 64)):
            data[FS + rng.randrange(0, 2 << 20)] = rng.randrange(256)
        broken.write_bytes(data)
        started = time.monotonic()
        try:
            fs = open_fs(broken)
            for path in ("/etc/os-release", "/opt/big.bin", "/usr/lib/python3/dist-packages"):
                fs.read_path(path)
            fs.list_path("/etc")
        except ImageError:
            pass
        assert time.monotonic() - started < 5


def test_region_refuses_reads_outside_itself(image: Path) -> None:
    with open(image, "rb") as f:
        region = Region(f, 0, 4096)
        with pytest.raises(ImageError, match="past its end"):
            region.read(4000, 200)
        with pytest.raises(ImageError, match="refused"):
            region.read(0, 1 << 40)
        assert region.sub(8192, 100, "x").length == 0


def _with_feature_bits(image: Path, tmp_path: Path, field: int, bits: int) -> Path:
    """The image with ``bits`` or-ed into a superblock feature word (0x5C compat, 0x60 incompat, 0x64 ro_compat)."""
    data = bytearray(image.read_bytes())
    at = FS + 1024 + field
    struct.pack_into("<I", data, at, struct.unpack_from("<I", data, at)[0] | bits)
    out = tmp_path / f"features-{field:x}-{bits:x}.vhd"
    out.write_bytes(data)
    return out


@pytest.mark.parametrize(("field", "bits", "name"), [
    (0x60, 0x10, "meta_bg"), (0x60, 0x8000, "inline_data"), (0x60, 0x40000000, "incompat 0x40000000"),
    (0x64, 0x80, "snapshot"), (0x64, 0x800, "replica"), (0x64, 0x100000, "ro_compat 0x100000")])
def test_a_feature_bit_the_reader_does_not_follow_is_refused_by_name(image: Path, tmp_path: Path, field: int,
                                                                     bits: int, name: str) -> None:
    with pytest.raises(Ext4Error, match=f"^cannot read: ext4 feature {name} not supported$"):
        open_fs(_with_feature_bits(image, tmp_path, field, bits))


def test_compat_and_harmless_bits_do_not_stop_reading(image: Path, tmp_path: Path) -> None:
    # compat features are by definition safe to ignore; quota, huge_file and orphan_present move no file data.
    path = _with_feature_bits(image, tmp_path, 0x5C, 0x80000000)
    path = _with_feature_bits(path, tmp_path, 0x64, 0x100 | 0x8 | 0x10000)
    assert open_fs(path).read_path("/opt/big.bin") == BIG


def test_two_refused_features_are_both_named(image: Path, tmp_path: Path) -> None:
    path = _with_feature_bits(image, tmp_path, 0x60, 0x10000 | 0x20000)
    with pytest.raises(Ext4Error) as err:
        open_fs(path)
    assert err.value.message == ("cannot read: ext4 feature encrypt not supported; "
                                 "cannot read: ext4 feature casefold not supported")


@pytest.mark.parametrize("feature", ["meta_bg", "encrypt", "inline_data", "casefold", "journal_dev"])
def test_mkfs_images_with_a_refused_feature_raise_before_any_read(tmp_path: Path, feature: str) -> None:
    path = build_fs_variant(tmp_path / f"{feature}.vhd", f"ext4-{feature}")
    with pytest.raises(Ext4Error, match=f"ext4 feature {feature} not supported"):
        open_fs(path)


@pytest.mark.parametrize("feature", ["bigalloc", "no-extents"])
def test_mkfs_images_with_a_followed_feature_read_like_plain_ext4(image: Path, tmp_path: Path, feature: str) -> None:
    fs = open_fs(build_fs_variant(tmp_path / f"{feature}.vhd", f"ext4-{feature}"))
    plain = open_fs(image)
    for path in ("/etc/os-release", "/etc/ssh/sshd_config", "/usr/sbin/waagent"):
        assert fs.read_path(path) == plain.read_path(path) is not None
    assert set(fs.list_path("/etc")) == set(plain.list_path("/etc"))
