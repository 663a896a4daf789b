"""Package databases for the test images: a dpkg status file, and a real rpmdb.sqlite made by rpm itself.

The rpm database is not written by hand: tiny packages are built with `rpmbuild` and recorded with
`rpm --dbpath DIR --initdb` and `rpm -i --justdb`, so the certifier reads the very header blobs rpm writes.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final, NamedTuple

from tests.images.errors import BuilderError


class Deb(NamedTuple):
    name: str
    version: str
    source: str | None = None  # dpkg's Source field ("glibc" or "glibc (2.36-9)"), absent when it is the name
    arch: str = "amd64"


class Rpm(NamedTuple):
    name: str
    version: str
    release: str
    epoch: int | None = None
    arch: str = "x86_64"


def dpkg_status(packages: list[Deb], *, not_installed: tuple[str, ...] = ()) -> bytes:
    """A status file as dpkg writes it; ``not_installed`` names removed packages whose config files remain."""
    paragraphs = []
    for p in packages:
        status = "deinstall ok config-files" if p.name in not_installed else "install ok installed"
        source = f"Source: {p.source}\n" if p.source else ""
        paragraphs.append(f"Package: {p.name}\nStatus: {status}\nPriority: required\nSection: admin\n"
                          f"Installed-Size: 1024\nMaintainer: Test <test@example.org>\nArchitecture: {p.arch}\n"
                          f"{source}Version: {p.version}\nDescription: {p.name}\n test package\n .\n "
                          f"continuation line: Package: not-a-package\n")
    return "\n".join(paragraphs).encode()


# Ubuntu 22.04 with every curated advisory fixed (the compliant test image).
JAMMY_FIXED: Final = [
    Deb("bash", "5.1-6ubuntu1.1"), Deb("libc6", "2.35-0ubuntu3.8", "glibc"),
    Deb("libc-bin", "2.35-0ubuntu3.8", "glibc"), Deb("libssl3", "3.0.2-0ubuntu1.18", "openssl"),
    Deb("openssh-server", "1:8.9p1-3ubuntu0.10", "openssh"), Deb("sudo", "1.9.9-1ubuntu2.4"),
    Deb("policykit-1", "0.105-33"), Deb("python3", "3.10.6-1~22.04.1", "python3-defaults"),
]
# Ubuntu 22.04 before regreSSHion's fix (USN-6859-1: 1:8.9p1-3ubuntu0.10).
JAMMY_REGRESSHION: Final = [p if p.name != "openssh-server" else p._replace(version="1:8.9p1-3ubuntu0.6")
                            for p in JAMMY_FIXED]
# Debian 7: GHOST, Shellshock and Heartbleed unfixed, then each at its DSA's first fixed version.
WHEEZY_VULNERABLE: Final = [Deb("bash", "4.2+dfsg-0.1"), Deb("libc6", "2.13-38+deb7u6", "eglibc"),
                            Deb("libssl1.0.0", "1.0.1e-2+deb7u4", "openssl"), Deb("coreutils", "8.13-3.5")]
WHEEZY_FIXED: Final = [Deb("bash", "4.2+dfsg-0.1+deb7u3"), Deb("libc6", "2.13-38+deb7u7", "eglibc"),
                       Deb("libssl1.0.0", "1.0.1e-2+deb7u5", "openssl"), Deb("coreutils", "8.13-3.5")]
WHEEZY_OS_RELEASE: Final = (b'PRETTY_NAME="Debian GNU/Linux 7 (wheezy)"\nNAME="Debian GNU/Linux"\nVERSION_ID="7"\n'
                            b'VERSION="7 (wheezy)"\nID=debian\n')
RHEL9_OS_RELEASE: Final = (b'NAME="Red Hat Enterprise Linux"\nVERSION="9.4 (Plow)"\nID="rhel"\nID_LIKE="fedora"\n'
                           b'VERSION_ID="9.4"\nPRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"\n')
# RHEL 9 with OpenSSH before and at RHSA-2024:4312 (8.7p1-38.el9_4.1).
RHEL9_VULNERABLE: Final = [Rpm("openssh", "8.7p1", "34.el9"), Rpm("bash", "5.1.8", "9.el9"),
                           Rpm("openssl", "3.0.7", "27.el9", epoch=1)]
RHEL9_FIXED: Final = [Rpm("openssh", "8.7p1", "38.el9_4.1"), Rpm("bash", "5.1.8", "9.el9"),
                      Rpm("openssl", "3.0.7", "27.el9", epoch=1)]


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BuilderError(f"{name} not found: install rpm (Debian package rpm; scripts/install does)")
    return found


def _spec(p: Rpm) -> str:
    epoch = f"Epoch: {p.epoch}\n" if p.epoch is not None else ""
    return (f"Name: {p.name}\nVersion: {p.version}\nRelease: {p.release}\n{epoch}Summary: test package\n"
            f"License: MIT\nBuildArch: {p.arch}\n%description\ntest package\n%files\n")


def rpmdb_sqlite(packages: list[Rpm]) -> bytes:
    """The rpmdb.sqlite rpm writes after installing these packages (database only, no files)."""
    rpmbuild, rpm = _tool("rpmbuild"), _tool("rpm")
    with tempfile.TemporaryDirectory(prefix="offerflow-rpmdb-") as tmp:
        top, db = Path(tmp, "top"), Path(tmp, "db")
        built = []
        for p in packages:
            spec = Path(tmp, f"{p.name}.spec")
            spec.write_text(_spec(p))
            subprocess.run([rpmbuild, "-bb", "--quiet", "--define", f"_topdir {top}", "--define",
                            "_build_id_links none", str(spec)], check=True, capture_output=True)
            built += sorted(str(f) for f in (top / "RPMS" / p.arch).glob(f"{p.name}-{p.version}-*.rpm"))
        subprocess.run([rpm, "--dbpath", str(db), "--initdb"], check=True, capture_output=True)
        subprocess.run([rpm, "--dbpath", str(db), "-i", "--justdb", "--nodeps", "--noscripts", "--ignorearch",
                        "--ignoreos", *built], check=True, capture_output=True)
        # rpm checkpoints its write-ahead log when the last connection closes: the main file is complete.
        return (db / "rpmdb.sqlite").read_bytes()
