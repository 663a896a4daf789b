"""High-profile vulnerabilities checked by test 50 (Security threats), by source package and distribution release.

Each entry gives, per release, the first fixed version of the source package and the advisory that shipped it,
as the distribution's own records state them. A release is covered by an entry only when the entry says so:
`fixed` (the first fixed version, or None when the release never got a public fix) or `not_affected` (every
version the release shipped already had the fix, or never had the flaw). A covered release missing from an entry
makes the test a Warning, never a pass. Kernel flaws are test 52's; protocol flaws (POODLE) have no package fix.

Releases are `debian:<major>`, `ubuntu:<YY.MM>` and `rhel:<major>` (CentOS, Rocky, AlmaLinux and Oracle Linux
build from the same sources and carry the same versions).

Epochs: a version carries one only where the distribution's record writes one (Debian's and Ubuntu's openssh
"1:..."). Red Hat's errata print versions without it, so a version written without an epoch is compared under
the installed package's own epoch (`pkgversions.compare_to_fix`): "1.0.1e-16.el6_5.7" then holds whether the
installed openssl has epoch 0 or 1.

Sources, named in a `# source:` comment on each line (public records; the ids are stable):
- Ubuntu: the OSV export of Ubuntu's notices and CVE tracker (USN-*, UBUNTU-CVE-*; repository
  canonical/ubuntu-security-notices, osv/usn/ and osv/cve/). It starts at 14.04; 12.04's versions were read from
  the USN texts as reproduced in Cyberwatch/cbw-security-fixes (Ubuntu_12.04_LTS/x86_64/<year>/USN-*.sh).
- Debian: the security tracker's DSA and DLA lists and per-CVE entries (data/DSA/list, data/DLA/list, and the
  per-CVE export tracker/CVE/<year>/CVE-*.json of aquasecurity/vuln-list-debian).
- Red Hat: the Security Data API's CVE records (affected_release / package_state; exported as
  api/<year>/CVE-*.json in aquasecurity/vuln-list-redhat).
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
# Debian stopped publishing fixes for these releases before the flaw was public; the tracker records none.
_EOL = "no Debian fix (release past its security support)"

# Releases left out of an entry, with their reason:
# - debian:8-12, ubuntu:16.04+, rhel:8-9 for the 2014-2015 flaws: they shipped after the fix (source: the
#   Debian tracker's unstable fix version predates them; Ubuntu's and Red Hat's records list no such release).
# - ubuntu:14.04 for Heartbleed: 14.04 was released after USN-2165-1 (which does not list it) and no Ubuntu or
#   OSV record for 14.04 was found; its value below is unverified.
# - ubuntu:12.04 for Baron Samedit and PwnKit: USN-4705-2 names a 12.04 ESM fix but no record of its version
#   was found, and none for PwnKit; both stay uncovered (a Warning when the package is installed).
ADVISORIES: Final[tuple[Advisory, ...]] = (
    Advisory("CVE-2015-0235", "GHOST (glibc gethostbyname buffer overflow)", _GLIBC, {
        "debian:7": ("2.13-38+deb7u7", "DSA-3142-1"),  # source: DSA-3142-1 (data/DSA/list, wheezy)
        "ubuntu:12.04": ("2.15-0ubuntu10.10", "USN-2485-1"),  # source: USN-2485-1 (Ubuntu 12.04 LTS)
        # source: UBUNTU-CVE-2015-0235 (Ubuntu:14.04:LTS fixed 2.19-0ubuntu6, the version 14.04 released with)
        "ubuntu:14.04": ("2.19-0ubuntu6", "UBUNTU-CVE-2015-0235"),
        "rhel:6": ("2.12-1.149.el6_6.5", "RHSA-2015:0092"),  # source: Red Hat CVE-2015-0235, RHEL 6
        "rhel:7": ("2.17-55.el7_0.5", "RHSA-2015:0092"),  # source: Red Hat CVE-2015-0235, RHEL 7
    }, _others("debian:7", "ubuntu:12.04", "ubuntu:14.04", "rhel:6", "rhel:7")),
    Advisory("CVE-2014-6271", "Shellshock (bash function import)", _BASH, {
        "debian:7": ("4.2+dfsg-0.1+deb7u1", "DSA-3032-1"),  # source: DSA-3032-1 (data/DSA/list, wheezy)
        "ubuntu:12.04": ("4.2-2ubuntu2.2", "USN-2362-1"),  # source: USN-2362-1 (Ubuntu 12.04 LTS)
        "ubuntu:14.04": ("4.3-7ubuntu1.1", "USN-2362-1"),  # source: USN-2362-1, UBUNTU-CVE-2014-6271
        "rhel:6": ("4.1.2-15.el6_5.1", "RHSA-2014:1293"),  # source: Red Hat CVE-2014-6271, RHEL 6
        "rhel:7": ("4.2.45-5.el7_0.2", "RHSA-2014:1293"),  # source: Red Hat CVE-2014-6271, RHEL 7
    }, _others("debian:7", "ubuntu:12.04", "ubuntu:14.04", "rhel:6", "rhel:7")),
    Advisory("CVE-2014-7169", "Shellshock (incomplete fix of CVE-2014-6271)", _BASH, {
        "debian:7": ("4.2+dfsg-0.1+deb7u3", "DSA-3035-1"),  # source: DSA-3035-1 (data/DSA/list, wheezy)
        "ubuntu:12.04": ("4.2-2ubuntu2.3", "USN-2363-1"),  # source: USN-2363-1 (Ubuntu 12.04 LTS)
        # USN-2363-1's 14.04 build (4.3-7ubuntu1.2) lacked the patch; USN-2363-2 rebuilt it.
        "ubuntu:14.04": ("4.3-7ubuntu1.3", "USN-2363-2"),  # source: USN-2363-2, UBUNTU-CVE-2014-7169
        "rhel:6": ("4.1.2-15.el6_5.2", "RHSA-2014:1306"),  # source: Red Hat CVE-2014-7169, RHEL 6
        "rhel:7": ("4.2.45-5.el7_0.4", "RHSA-2014:1306"),  # source: Red Hat CVE-2014-7169, RHEL 7
    }, _others("debian:7", "ubuntu:12.04", "ubuntu:14.04", "rhel:6", "rhel:7")),
    Advisory("CVE-2014-0160", "Heartbleed (OpenSSL heartbeat read overrun)", frozenset({"openssl"}), {
        "debian:7": ("1.0.1e-2+deb7u5", "DSA-2896-1"),  # source: DSA-2896-1 (data/DSA/list, wheezy)
        "ubuntu:12.04": ("1.0.1-4ubuntu5.12", "USN-2165-1"),  # source: USN-2165-1 (Ubuntu 12.04 LTS)
        # source: none found (unverified: the version 14.04 is believed to have been released with)
        "ubuntu:14.04": ("1.0.1f-1ubuntu2", "no advisory (unverified)"),
        # source: Red Hat CVE-2014-0160, RHEL 6 (RHEL 7: not affected); the record gives epoch 0, left out
        "rhel:6": ("1.0.1e-16.el6_5.7", "RHSA-2014:0376"),
    }, _others("debian:7", "ubuntu:12.04", "ubuntu:14.04", "rhel:6")),
    Advisory("CVE-2021-3156", "Baron Samedit (sudo heap overflow)", _SUDO, {
        "debian:7": (None, _EOL),  # source: DEBIAN CVE-2021-3156 (fixes only for stretch, buster, sid)
        "debian:8": (None, _EOL),  # source: DEBIAN CVE-2021-3156 (as above)
        "debian:9": ("1.8.19p1-2.1+deb9u3", "DLA-2534-1"),  # source: DLA-2534-1 (data/DLA/list, stretch)
        "debian:10": ("1.8.27-1+deb10u3", "DSA-4839-1"),  # source: DSA-4839-1 (data/DSA/list, buster)
        # source: USN-4705-2, UBUNTU-CVE-2021-3156 (Ubuntu:Pro:14.04:LTS)
        "ubuntu:14.04": ("1.8.9p5-1ubuntu1.5+esm6", "USN-4705-2"),
        "ubuntu:16.04": ("1.8.16-0ubuntu1.10", "USN-4705-1"),  # source: USN-4705-1 (Ubuntu:16.04:LTS)
        "ubuntu:18.04": ("1.8.21p2-3ubuntu1.4", "USN-4705-1"),  # source: USN-4705-1 (Ubuntu:18.04:LTS)
        "ubuntu:20.04": ("1.8.31-1ubuntu1.2", "USN-4705-1"),  # source: USN-4705-1 (Ubuntu:20.04:LTS)
        # source: Red Hat CVE-2021-3156, RHEL 6 Extended Lifecycle Support
        "rhel:6": ("1.8.6p3-29.el6_10.4", "RHSA-2021:0227"),
        "rhel:7": ("1.8.23-10.el7_9.1", "RHSA-2021:0221"),  # source: Red Hat CVE-2021-3156, RHEL 7
        "rhel:8": ("1.8.29-6.el8_3.1", "RHSA-2021:0218"),  # source: Red Hat CVE-2021-3156, RHEL 8
    },
        # source: DEBIAN CVE-2021-3156 (sid fixed 1.9.5p1-1.1 before bullseye), UBUNTU-CVE-2021-3156 (no 22.04+),
        # Red Hat CVE-2021-3156 (RHEL 9: not affected)
        frozenset({"debian:11", "debian:12", "ubuntu:22.04", "ubuntu:24.04", "rhel:9"})),
    Advisory("CVE-2021-4034", "PwnKit (polkit pkexec)", _POLKIT, {
        "debian:7": (None, _EOL),  # source: DEBIAN CVE-2021-4034 (fixes only for stretch, buster, bullseye, sid)
        "debian:8": (None, _EOL),  # source: DEBIAN CVE-2021-4034 (as above)
        "debian:9": ("0.105-18+deb9u2", "DLA-2899-1"),  # source: DLA-2899-1 (data/DLA/list, stretch)
        "debian:10": ("0.105-25+deb10u1", "DSA-5059-1"),  # source: DSA-5059-1 (data/DSA/list, buster)
        "debian:11": ("0.105-31+deb11u1", "DSA-5059-1"),  # source: DSA-5059-1 (data/DSA/list, bullseye)
        # source: USN-5252-2, UBUNTU-CVE-2021-4034 (Ubuntu:Pro:14.04:LTS and Ubuntu:Pro:16.04:LTS)
        "ubuntu:14.04": ("0.105-4ubuntu3.14.04.6+esm1", "USN-5252-2"),
        "ubuntu:16.04": ("0.105-14.1ubuntu0.5+esm1", "USN-5252-2"),
        "ubuntu:18.04": ("0.105-20ubuntu0.18.04.6", "USN-5252-1"),  # source: USN-5252-1 (Ubuntu:18.04:LTS)
        "ubuntu:20.04": ("0.105-26ubuntu1.2", "USN-5252-1"),  # source: USN-5252-1 (Ubuntu:20.04:LTS)
        # source: UBUNTU-CVE-2021-4034 (Ubuntu:22.04:LTS fixed 0.105-31ubuntu1, before 22.04's release)
        "ubuntu:22.04": ("0.105-31ubuntu1", "UBUNTU-CVE-2021-4034"),
        # source: Red Hat CVE-2021-4034, RHEL 6 Extended Lifecycle Support
        "rhel:6": ("0.96-11.el6_10.2", "RHSA-2022:0269"),
        "rhel:7": ("0.112-26.el7_9.1", "RHSA-2022:0274"),  # source: Red Hat CVE-2021-4034, RHEL 7
        "rhel:8": ("0.115-13.el8_5.1", "RHSA-2022:0267"),  # source: Red Hat CVE-2021-4034, RHEL 8
    },
        # source: DEBIAN CVE-2021-4034 (sid fixed 0.105-31.1 before bookworm), Red Hat CVE-2021-4034 (RHEL 9:
        # not affected); 24.04 shipped after 22.04's fix (UBUNTU-CVE-2021-4034 lists no 24.04)
        frozenset({"debian:12", "ubuntu:24.04", "rhel:9"})),
    Advisory("CVE-2024-6387", "regreSSHion (OpenSSH sshd signal handler race)", frozenset({"openssh"}), {
        "debian:12": ("1:9.2p1-2+deb12u3", "DSA-5724-1"),  # source: DSA-5724-1 (bookworm), DEBIAN CVE-2024-6387
        "ubuntu:22.04": ("1:8.9p1-3ubuntu0.10", "USN-6859-1"),  # source: USN-6859-1 (Ubuntu:22.04:LTS)
        "ubuntu:24.04": ("1:9.6p1-3ubuntu13.3", "USN-6859-1"),  # source: USN-6859-1 (Ubuntu:24.04:LTS)
        "rhel:9": ("8.7p1-38.el9_4.1", "RHSA-2024:4312"),  # source: Red Hat CVE-2024-6387, RHEL 9
    },
        # source: DEBIAN CVE-2024-6387 (bullseye not-affected: code introduced in 8.5p1), UBUNTU-CVE-2024-6387
        # (22.04 and 24.04 only), Red Hat CVE-2024-6387 (RHEL 6, 7, 8: not affected)
        _others("debian:12", "ubuntu:22.04", "ubuntu:24.04", "rhel:9")),
)
