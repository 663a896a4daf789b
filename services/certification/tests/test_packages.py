"""The package database readers on their own: dpkg status paragraphs, rpm header blobs (real and hostile), and
the inventory's bound on the topic."""

from __future__ import annotations

import shutil
import sqlite3
import struct
from pathlib import Path

import pytest

from offerflow_certification.image.header_blob import HeaderError, package_of, parse_header
from offerflow_certification.image.packages import Inventory, Package, parse_dpkg_status
from offerflow_certification.inventory import bounded, full
from tests.images import packages as pk


def test_dpkg_status_keeps_installed_packages_with_their_source() -> None:
    text = pk.dpkg_status([pk.Deb("libc6", "2.36-9+deb12u4", "glibc"), pk.Deb("bash", "5.2.15-2+b2"),
                           pk.Deb("libfoo1", "1.0-1+b1", "foo (1.0-1)"), pk.Deb("gone", "1.0")],
                          not_installed=("gone",)).decode()
    assert parse_dpkg_status(text) == [
        Package("libc6", "2.36-9+deb12u4", "glibc", "2.36-9+deb12u4", "amd64"),
        Package("bash", "5.2.15-2+b2", "bash", "5.2.15-2+b2", "amd64"),
        Package("libfoo1", "1.0-1+b1", "foo", "1.0-1", "amd64"),  # a binNMU: the advisory names the source's
    ]


def test_a_continuation_line_is_never_a_field() -> None:
    assert [p.name for p in parse_dpkg_status(pk.dpkg_status([pk.Deb("a", "1")]).decode())] == ["a"]


def _blob(entries: list[tuple[int, int, int, int]], data: bytes) -> bytes:
    return struct.pack(">II", len(entries), len(data)) + b"".join(struct.pack(">iIiI", *e) for e in entries) + data


def test_a_hand_made_header_decodes_and_names_its_source() -> None:
    data = b"openssl\0" + b"3.0.7\0" + b"27.el9\0" + b"x86_64\0" + b"openssl-3.0.7-27.el9.src.rpm\0" + b"\0\0\0\1"
    blob = _blob([(1000, 6, 0, 1), (1001, 6, 8, 1), (1002, 6, 14, 1), (1022, 6, 21, 1), (1044, 6, 28, 1),
                  (1003, 4, 57, 1)], data + b"\0")
    p = package_of(blob)
    assert (p.name, p.evr, p.arch, p.source) == ("openssl", "1:3.0.7-27.el9", "x86_64", "openssl")


@pytest.mark.parametrize("blob", [b"", b"\0\0\0\1", struct.pack(">II", 1_000_000, 0),
                                  struct.pack(">II", 1, 4) + struct.pack(">iIiI", 1000, 6, 99, 1) + b"abc\0",
                                  struct.pack(">II", 1, 3) + struct.pack(">iIiI", 1000, 6, 0, 1) + b"abc",
                                  struct.pack(">II", 2, 10) + bytes(16)])
def test_a_hostile_header_is_refused_not_misread(blob: bytes) -> None:
    with pytest.raises(HeaderError):
        package_of(blob)


@pytest.mark.skipif(shutil.which("rpmbuild") is None, reason="rpmbuild is not installed")
def test_every_blob_rpm_writes_is_decoded(tmp_path: Path) -> None:
    db = tmp_path / "rpmdb.sqlite"
    db.write_bytes(pk.rpmdb_sqlite(pk.RHEL9_VULNERABLE))
    with sqlite3.connect(db) as conn:
        blobs = [bytes(b) for (b,) in conn.execute("SELECT blob FROM Packages")]
    got = {package_of(b).evr for b in blobs}
    assert got == {"8.7p1-34.el9", "5.1.8-9.el9", "1:3.0.7-27.el9"}
    assert all(1000 in parse_header(b) for b in blobs)


def test_the_inventory_is_cut_to_its_bound_in_name_order_and_still_counts_all() -> None:
    packages = tuple(Package(f"pkg{i:04d}", "1.0-1", f"src{i}", "1.0-1", "amd64") for i in range(3000, 0, -1))
    inv = Inventory("dpkg", "/var/lib/dpkg/status", packages)
    whole, cut = full(inv), bounded(inv, max_bytes=10_000)
    assert whole.total == cut.total == 3000 and len(whole.packages) == 3000
    assert 0 < len(cut.packages) < 200 and cut.truncated and not whole.truncated
    assert cut.packages == whole.packages[: len(cut.packages)]
    assert len(cut.model_dump_json()) < 10_000 + 200


def test_the_csv_has_a_header_and_never_starts_a_cell_with_a_formula() -> None:
    inv = full(Inventory("rpm", "/var/lib/rpm/rpmdb.sqlite",
                         (Package("=cmd()", "1-1", "x", "1-1", "noarch"), Package("bash", "5.1-1", "bash", "5.1-1",
                                                                                 "x86_64"))))
    assert inv.csv().splitlines() == ["name,version,source,architecture", "'=cmd(),1-1,x,noarch",
                                      "bash,5.1-1,bash,x86_64"]
