"""The package inventory of a Linux root file system: dpkg's status file, or rpm's SQLite database.

Read without running dpkg or rpm: the dpkg status file is text (deb-control(5) paragraphs), and rpm's
`rpmdb.sqlite` (rpm >= 4.16, the default of RHEL 9 and Fedora 33+) is an SQLite file whose `Packages` table holds
one rpm header blob per package (`header_blob`). The older rpm databases, BerkeleyDB (`/var/lib/rpm/Packages`,
RHEL <= 8, CentOS 7) and NDB (`Packages.db`, SUSE), are not read: their presence is reported so the test can
warn instead of passing.
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .ext4 import Ext4
from .findings import ImageError
from .header_blob import HeaderError, package_of
from .pkgversions import Format

DPKG_STATUS: Final = "/var/lib/dpkg/status"
RPM_DIRS: Final = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")
_DPKG_MAX: Final = 32 * 1024 * 1024
_RPMDB_MAX: Final = 60 * 1024 * 1024  # under the disk layer's 64 MiB read limit
MAX_PACKAGES: Final = 50_000  # far above any real system; bounds the work on a hostile database
# Databases this reader does not parse, by file name: what they are.
_UNREAD_RPMDB: Final = {"Packages": "BerkeleyDB", "Packages.db": "NDB"}


@dataclass(frozen=True)
class Package:
    name: str
    version: str  # the installed binary package's version, as its package manager writes it
    source: str  # the source package (its name when the database names none)
    source_version: str  # the source package's version: what distribution advisories name
    architecture: str


@dataclass(frozen=True)
class Inventory:
    format: Format
    database: str  # the path read inside the image
    packages: tuple[Package, ...]


@dataclass(frozen=True)
class NoInventory:
    why: str  # what was looked for, or which database exists but is not read


def read_inventory(fs: Ext4) -> Inventory | NoInventory:
    status = fs.read_path(DPKG_STATUS, _DPKG_MAX)
    if status is not None:
        return Inventory("dpkg", DPKG_STATUS, tuple(parse_dpkg_status(status.decode("utf-8", "replace"))))
    unread: list[str] = []
    for folder in RPM_DIRS:
        names = fs.list_path(folder)
        if "rpmdb.sqlite" in names:
            return _read_rpmdb(fs, folder)
        unread += [f"{folder}/{n} ({_UNREAD_RPMDB[n]})" for n in sorted(names) if n in _UNREAD_RPMDB]
    if unread:
        return NoInventory(f"an rpm database in a format this test does not read: {', '.join(unread)} "
                           "(only rpmdb.sqlite, rpm >= 4.16)")
    return NoInventory(f"no package database found ({DPKG_STATUS}, "
                       f"{', '.join(f'{d}/rpmdb.sqlite' for d in RPM_DIRS)})")


def parse_dpkg_status(text: str) -> list[Package]:
    """Installed packages of a dpkg status file (paragraphs whose Status ends in "installed")."""
    out: list[Package] = []
    for paragraph in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in paragraph.splitlines():
            if line[:1] in (" ", "\t"):
                continue  # a continuation line (Description, Conffiles): nothing the inventory needs
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        if not fields.get("package") or fields.get("status", "").split()[-1:] != ["installed"]:
            continue
        version = fields.get("version", "")
        source, _, source_version = fields.get("source", "").partition(" ")
        out.append(Package(name=fields["package"], version=version, source=source or fields["package"],
                           source_version=source_version.strip("()") or version,
                           architecture=fields.get("architecture", "")))
        if len(out) >= MAX_PACKAGES:
            break
    return out


def _read_rpmdb(fs: Ext4, folder: str) -> Inventory | NoInventory:
    path = f"{folder}/rpmdb.sqlite"
    found = fs.lookup(path)
    if found is None or not found.is_file:
        return NoInventory(f"{path} is not a regular file")
    if found.size > _RPMDB_MAX:
        return NoInventory(f"{path} is larger than {_RPMDB_MAX >> 20} MiB: not read")
    with tempfile.TemporaryDirectory(prefix="offerflow-rpmdb-") as tmp:
        # SQLite needs a file; the write-ahead log holds the last transactions if rpm was not cleanly stopped.
        for suffix in ("", "-wal"):
            data = fs.read_path(path + suffix, _RPMDB_MAX)
            if data is not None:
                Path(tmp, "rpmdb.sqlite" + suffix).write_bytes(data)
        try:
            packages = _rpm_packages(Path(tmp, "rpmdb.sqlite"))
        except (sqlite3.Error, HeaderError) as exc:
            return NoInventory(f"{path} cannot be read: {exc}")
    return Inventory("rpm", path, tuple(packages))


def _rpm_packages(db: Path) -> list[Package]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True) if not Path(f"{db}-wal").exists() else \
        sqlite3.connect(db)  # applying a WAL needs a writable copy: it is our temporary one
    try:
        rows = conn.execute("SELECT blob FROM Packages ORDER BY hnum LIMIT ?", (MAX_PACKAGES,)).fetchall()
    finally:
        conn.close()
    out = []
    for (blob,) in rows:
        p = package_of(bytes(blob))
        if p.name != "gpg-pubkey":  # imported signing keys are stored as pseudo-packages
            out.append(Package(p.name, p.evr, p.source or p.name, p.evr, p.arch))
    return out


def inventory_or_error(fs: Ext4) -> Inventory | NoInventory:
    try:
        return read_inventory(fs)
    except ImageError as exc:
        return NoInventory(f"the package database cannot be read: {exc.message}")
