"""Version ordering checked against the package managers themselves: `dpkg --compare-versions` and rpm's
`rpm.vercmp`, on the advisories' own versions and on generated ones."""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from offerflow_certification.image.advisories import ADVISORIES, COVERED
from offerflow_certification.image.pkgversions import Format, compare_to_fix, dpkg_compare, rpm_compare

CURATED = [
    ("1.0", "1.0"), ("1.0~rc1", "1.0"), ("1.0", "1.0+b1"), ("1:0.9", "2.0"), ("2.13-38+deb7u6", "2.13-38+deb7u7"),
    ("4.2+dfsg-0.1", "4.2+dfsg-0.1+deb7u3"), ("1.0.1e-2+deb7u4", "1.0.1e-2+deb7u5"), ("1.0a", "1.0"),
    ("1:8.9p1-3ubuntu0.6", "1:8.9p1-3ubuntu0.10"), ("1.8.21p2-3ubuntu1.4", "1.8.21p2-3ubuntu1"),
    ("3.10.6-1~22.04.1", "3.10.6-1"), ("0.105-20ubuntu0.18.04.6", "0.105-20"), ("1.0-1", "1.0.0-1"),
    ("2.17-55.el7_0.5", "2.17-55.el7"), ("8.7p1-38.el9_4.1", "8.7p1-34.el9"), ("1.0^git1", "1.0"),
    ("1.0^git1", "1.0.1"), ("1.0~rc1^git1", "1.0~rc1"), ("1:3.0.7-27.el9", "3.0.8-1.el9"), ("1.2.3", "1.2.3-1"),
    ("a", "1"), ("1.001", "1.1"), ("1.0.a", "1.0.1"), ("10", "9"), ("1e", "1.0"),
]


def _generated(seed: int, n: int, alphabet: str) -> list[tuple[str, str]]:
    rng = random.Random(seed)

    def one() -> str:
        upstream = str(rng.randint(0, 20)) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        epoch = f"{rng.randint(1, 2)}:" if rng.random() < 0.15 else ""
        revision = "-" + str(rng.randint(0, 9)) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))
        return epoch + upstream + (revision if rng.random() < 0.7 else "")

    return [(one(), one()) for _ in range(n)]


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


ADVISORY_VERSIONS = sorted({v for a in ADVISORIES for v, _ in a.fixed.values() if v})


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
@pytest.mark.parametrize(("a", "b"), CURATED + _generated(1, 150, "0123456789.+~ab")
                         + [(v, w) for v in ADVISORY_VERSIONS[:12] for w in ADVISORY_VERSIONS[12:18]])
def test_dpkg_order_is_dpkg_s(a: str, b: str) -> None:
    expected = [op for op in ("lt", "eq", "gt")
                if subprocess.run(["dpkg", "--compare-versions", a, op, b]).returncode == 0]
    assert [("lt", "eq", "gt")[_sign(dpkg_compare(a, b)) + 1]] == expected


@pytest.mark.skipif(shutil.which("rpm") is None, reason="rpm is not installed")
def test_rpm_order_is_rpm_s() -> None:
    pairs = CURATED + _generated(2, 300, "0123456789._+~^ab") + [(v, w) for v in ADVISORY_VERSIONS
                                                                   for w in ADVISORY_VERSIONS]
    pairs = [(a, b) for a, b in pairs if '"' not in a + b]
    expected = []
    for start in range(0, len(pairs), 500):  # one argument to rpm holds at most 128 KiB
        script = "".join(f'print(rpm.vercmp("{a}", "{b}") .. " ")\n' for a, b in pairs[start:start + 500])
        out = subprocess.run(["rpm", "--eval", f"%{{lua:\n{script}}}"], check=True, capture_output=True, text=True)
        expected += [int(x) for x in out.stdout.split()]
    assert len(expected) == len(pairs)
    wrong = [(a, b, e) for (a, b), e in zip(pairs, expected, strict=True) if _sign(rpm_compare(a, b)) != _sign(e)]
    assert wrong == []


def test_each_advisory_fix_is_newer_than_a_version_before_it() -> None:
    assert dpkg_compare("2.13-38+deb7u6", "2.13-38+deb7u7") < 0
    assert rpm_compare("8.7p1-34.el9", "8.7p1-38.el9_4.1") < 0
    assert rpm_compare("1.0.1e-15.el6", "1.0.1e-16.el6_5.7") < 0


def test_a_bad_epoch_is_refused() -> None:
    with pytest.raises(ValueError):
        dpkg_compare("x:1.0", "1.0")


@pytest.mark.parametrize(("fmt", "installed", "fixed", "sign"), [
    # Red Hat prints "1.0.1e-16.el6_5.7" whatever the installed openssl's epoch: both epochs must compare alike.
    ("rpm", "1:1.0.1e-15.el6", "1.0.1e-16.el6_5.7", -1), ("rpm", "1.0.1e-15.el6", "1.0.1e-16.el6_5.7", -1),
    ("rpm", "1:1.0.1e-48.el6_8.1", "1.0.1e-16.el6_5.7", 1), ("rpm", "1.0.1e-48.el6_8.1", "1.0.1e-16.el6_5.7", 1),
    ("rpm", "1:1.0.1e-16.el6_5.7", "1.0.1e-16.el6_5.7", 0), ("rpm", "2:0.9-1.el6", "1.0-1.el6", -1),
    ("dpkg", "1:8.9p1-3ubuntu0.6", "8.9p1-3ubuntu0.10", -1), ("dpkg", "1:8.9p1-3ubuntu0.10", "8.9p1-3ubuntu0.10", 0),
    ("dpkg", "2.13-38+deb7u6", "2.13-38+deb7u7", -1),
])
def test_a_fix_without_an_epoch_is_compared_under_the_installed_one(fmt: Format, installed: str, fixed: str,
                                                                    sign: int) -> None:
    assert _sign(compare_to_fix(fmt, installed, fixed)) == sign


@pytest.mark.parametrize(("fmt", "installed", "fixed", "sign"), [
    # An epoch the distribution's record writes is kept: a package without it really is older.
    ("dpkg", "9.2p1-2+deb12u3", "1:9.2p1-2+deb12u3", -1), ("dpkg", "2:1.0-1", "1:9.2p1-2+deb12u3", 1),
    ("rpm", "8.7p1-38.el9_4.1", "1:8.7p1-38.el9_4.1", -1),
])
def test_an_epoch_written_in_a_fix_is_kept(fmt: Format, installed: str, fixed: str, sign: int) -> None:
    assert _sign(compare_to_fix(fmt, installed, fixed)) == sign


def test_a_bad_installed_epoch_is_refused_against_a_fix() -> None:
    with pytest.raises(ValueError):
        compare_to_fix("rpm", "x:1.0-1", "1.0-2")


def test_red_hat_fixes_are_written_without_an_epoch() -> None:
    # Red Hat's errata leave the epoch out; writing one here would decide the comparison on a guess.
    with_epoch = [(a.cve, r, v) for a in ADVISORIES for r, (v, _) in a.fixed.items()
                  if r.startswith("rhel:") and v and ":" in v]
    assert with_epoch == []


def test_each_advisory_names_known_releases_once() -> None:
    for a in ADVISORIES:
        assert set(a.fixed) <= COVERED and a.not_affected <= COVERED, a.cve
        assert not set(a.fixed) & a.not_affected, a.cve
        assert all(advisory for _, advisory in a.fixed.values()), a.cve
