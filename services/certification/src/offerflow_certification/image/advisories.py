"""High-profile vulnerabilities checked by test 50 (Security threats), by source package and distribution release.

Each entry was transcribed from the distribution's own advisory (Debian DSA/DLA, Ubuntu USN, Red Hat RHSA), which
names the first fixed version of the source package in each release it fixed. A release is covered by an entry
only when the entry says so: `fixed` (the first fixed version, or None when the release never got a public fix)
or `not_affected` (the release shipped a version without the flaw). A covered release missing from an entry
makes the test a Warning, never a pass. Kernel flaws are test 52's; protocol flaws (POODLE) have no package fix.

Releases are `debian:<major>`, `ubuntu:<YY.MM>` and `rhel:<major>` (CentOS, Rocky, AlmaLinux and Oracle Linux
build from the same sources and carry the same versions). Versions carry the package's epoch where it has one
(advisories often leave it out, but rpm and dpkg compare the epoch first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

DEBIAN: Final = tuple(f"debian:{n}" for n in range(7, 13))
UBUNTU: Final = tuple(f"ubuntu:{v}" for v in ("12.04", "14.04", "16.04", "18.04", "20.04", "22.04", "24.04"))
RHEL: Final = tuple(f"rhel:{n}" for n in range(6, 10))
COVERED: Final = frozenset(DEBIAN + UBUNTU + RHEL)


@dataclass(frozen=True)
class Advisory:
    cve: str
    name: str
    sources: frozenset[str]  # source package names (Debian renamed eglibc to glibc, rpm spells polkit)
    fixed: dict[str, tuple[str | None, str]]  # release -> (first fixed version or None, advisory id)
    not_affected: frozenset[str] = field(default_factory=frozenset)

    def covers(self, release: str) -> bool:
        return release in self.fixed or release in self.not_affected


def _others(*fixed: str) -> frozenset[str]:
    return COVERED - set(fixed)


_GLIBC = frozenset({"glibc", "eglibc"})
_BASH = frozenset({"bash"})
_SUDO = frozenset({"sudo"})
_POLKIT = frozenset({"policykit-1", "polkit"})

ADVISORIES: Final[tuple[Advisory, ...]] = (
    Advisory("CVE-2015-0235", "GHOST (glibc gethostbyname buffer overflow)", _GLIBC, {
        "debian:7": ("2.13-38+deb7u7", "DSA-3142-1"),
        "ubuntu:12.04": ("2.15-0ubuntu10.10", "USN-2485-1"),
        "rhel:6": ("2.12-1.149.el6_6.5", "RHSA-2015:0090"),
        "rhel:7": ("2.17-55.el7_0.5", "RHSA-2015:0092"),
    }, _others("debian:7", "ubuntu:12.04", "rhel:6", "rhel:7")),
    Advisory("CVE-2014-6271", "Shellshock (bash function import)", _BASH, {
        "debian:7": ("4.2+dfsg-0.1+deb7u1", "DSA-3032-1"),
        "ubuntu:12.04": ("4.2-2ubuntu2.2", "USN-2362-1"),
        "ubuntu:14.04": ("4.3-7ubuntu1.1", "USN-2362-1"),
        "rhel:6": ("4.1.2-15.el6_5.1", "RHSA-2014:1293"),
        "rhel:7": ("4.2.45-5.el7_0.2", "RHSA-2014:1293"),
    }, _others("debian:7", "ubuntu:12.04", "ubuntu:14.04", "rhel:6", "rhel:7")),
    Advisory("CVE-2014-7169", "Shellshock (incomplete fix of CVE-2014-6271)", _BASH, {
        "debian:7": ("4.2+dfsg-0.1+deb7u3", "DSA-3035-1"),
        "ubuntu:12.04": ("4.2-2ubuntu2.3", "USN-2363-1"),
        "ubuntu:14.04": ("4.3-7ubuntu1.2", "USN-2363-1"),
        "rhel:6": ("4.1.2-15.el6_5.2", "RHSA-2014:1306"),
        "rhel:7": ("4.2.45-5.el7_0.4", "RHSA-2014:1306"),
    }, _others("debian:7", "ubuntu:12.04", "ubuntu:14.04", "rhel:6", "rhel:7")),
    Advisory("CVE-2014-0160", "Heartbleed (OpenSSL heartbeat read overrun)", frozenset({"openssl"}), {
        "debian:7": ("1.0.1e-2+deb7u5", "DSA-2896-1"),
        "ubuntu:12.04": ("1.0.1-4ubuntu5.12", "USN-2165-1"),
        "ubuntu:14.04": ("1.0.1f-1ubuntu2", "USN-2165-1"),
        "rhel:6": ("1:1.0.1e-16.el6_5.7", "RHSA-2014:0376"),  # Red Hat's openssl carries epoch 1
    }, _others("debian:7", "ubuntu:12.04", "ubuntu:14.04", "rhel:6")),
    Advisory("CVE-2021-3156", "Baron Samedit (sudo heap overflow)", _SUDO, {
        "debian:7": (None, "DSA-4839-1 (release no longer supported)"),
        "debian:8": (None, "DSA-4839-1 (release no longer supported)"),
        "debian:9": ("1.8.19p1-2.1+deb9u3", "DLA-2534-1"),
        "debian:10": ("1.8.27-1+deb10u3", "DSA-4839-1"),
        "ubuntu:16.04": ("1.8.16-0ubuntu1.10", "USN-4705-1"),
        "ubuntu:18.04": ("1.8.21p2-3ubuntu1.4", "USN-4705-1"),
        "ubuntu:20.04": ("1.8.31-1ubuntu1.2", "USN-4705-1"),
        "rhel:7": ("1.8.23-10.el7_9.1", "RHSA-2021:0221"),
        "rhel:8": ("1.8.29-6.el8_3.1", "RHSA-2021:0218"),
    }, frozenset({"debian:11", "debian:12", "ubuntu:22.04", "ubuntu:24.04", "rhel:9"})),
    Advisory("CVE-2021-4034", "PwnKit (polkit pkexec)", _POLKIT, {
        "debian:7": (None, "DSA-5059-1 (release no longer supported)"),
        "debian:8": (None, "DSA-5059-1 (release no longer supported)"),
        "debian:9": ("0.105-18+deb9u2", "DLA-2899-1"),
        "debian:10": ("0.105-25+deb10u1", "DSA-5059-1"),
        "debian:11": ("0.105-31+deb11u1", "DSA-5059-1"),
        "ubuntu:18.04": ("0.105-20ubuntu0.18.04.6", "USN-5252-1"),
        "ubuntu:20.04": ("0.105-26ubuntu1.2", "USN-5252-1"),
        "rhel:7": ("0.112-26.el7_9.1", "RHSA-2022:0274"),
        "rhel:8": ("0.115-13.el8_5.1", "RHSA-2022:0267"),
    }, frozenset({"debian:12", "ubuntu:22.04", "ubuntu:24.04", "rhel:9"})),
    Advisory("CVE-2024-6387", "regreSSHion (OpenSSH sshd signal handler race)", frozenset({"openssh"}), {
        "debian:12": ("1:9.2p1-2+deb12u3", "DSA-5724-1"),
        "ubuntu:22.04": ("1:8.9p1-3ubuntu0.10", "USN-6859-1"),
        "ubuntu:24.04": ("1:9.6p1-3ubuntu13.3", "USN-6859-1"),
        "rhel:9": ("8.7p1-38.el9_4.1", "RHSA-2024:4312"),
    }, _others("debian:12", "ubuntu:22.04", "ubuntu:24.04", "rhel:9")),
)
