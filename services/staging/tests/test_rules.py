from __future__ import annotations

from pathlib import Path

import pytest

from offerflow_staging import rules

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def watch(name: str) -> rules.Milestones:
    m = rules.Milestones()
    for second, line in enumerate((TRANSCRIPTS / f"{name}.txt").read_text().splitlines()):
        m.observe(line.rstrip(), float(second))
    return m


def results(outcome: rules.Outcome) -> dict[str, str]:
    return {c.check_id: c.result for c in outcome.checks}


BANNER = rules.SshProbe(45.0, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
LOGIN = rules.LoginResult(50.0, True, state="running", kernel="6.1.0-27-cloud-amd64", agents=("cloud-init 22.4.2",))


def test_good_boot_passes_every_check_with_times_and_summary() -> None:
    # A real console: the good test image under QEMU (SYSLINUX, Debian 12 cloud kernel, cloud-init NoCloud).
    lines = (TRANSCRIPTS / "good.txt").read_text().splitlines()
    m = watch("good")
    out = rules.evaluate(m, BANNER, LOGIN, elapsed=50, deadline=300, timed_out=False)
    assert out.first_missing is None
    assert set(results(out).values()) == {"Passed"}
    by_id = {c.check_id: c for c in out.checks}
    assert by_id["kernel"].actual == "Linux 6.1.0-57-cloud-amd64"
    assert by_id["boot-loader"].seconds == float(next(i for i, x in enumerate(lines) if x.startswith("SYSLINUX")))
    assert by_id["root-fs"].actual.endswith("EXT4-fs (vda1): mounted filesystem with ordered data mode. "
                                            "Quota mode: none.")
    # systemd's status lines stop once the getty owns the console: the prompt (with output after it) is the sign.
    login_line = next(i for i, x in enumerate(lines) if x.startswith("staging login: "))
    assert by_id["init"].seconds == float(login_line)
    assert by_id["agent"].actual == "cloud-init 22.4.2 finished"
    assert "system running" in by_id["login"].actual
    assert out.summary == (f"booted to multi-user in {login_line} s; SSH answered in 45 s; "
                           "logged in as the provisioned user")


@pytest.mark.parametrize(("name", "first_missing", "actual"), [
    ("bad-root", "root-fs", "Gave up waiting for root file system device."),
    ("no-init", "init", "run-init: /sbin/init: No such file or directory"),
    ("no-bootloader", "boot-loader", "Boot failed: not a bootable disk"),
])
def test_failures_name_the_first_missing_stage_and_stop_there(name: str, first_missing: str, actual: str) -> None:
    m = watch(name)
    assert m.stopped
    out = rules.evaluate(m, rules.SshProbe(None), None, elapsed=20, deadline=300, timed_out=False)
    assert out.first_missing == first_missing
    ids = [c.check_id for c in out.checks]
    failed = ids.index(first_missing)
    assert [c.result for c in out.checks[failed + 1:]] == ["NotRun"] * (len(ids) - failed - 1)
    assert all(c.result == "Passed" for c in out.checks[:failed])
    assert out.checks[failed].actual == actual
    assert out.summary.startswith(f"{out.checks[failed].name.lower()} did not happen: {actual}")


def test_rootdelay_extends_the_deadline_and_warns_on_root_fs() -> None:
    m = watch("rootdelay")
    assert m.rootdelay == 20
    assert rules.deadline_seconds(300, m.rootdelay) == 320
    out = rules.evaluate(m, BANNER, LOGIN, elapsed=60, deadline=320, timed_out=False)
    root = next(c for c in out.checks if c.check_id == "root-fs")
    assert root.result == "Warning" and "rootwait" in root.actual
    assert out.first_missing is None and "warnings: Root file system" in out.summary


def test_a_hang_fails_the_first_unseen_milestone_at_the_deadline() -> None:
    m = rules.Milestones()
    m.observe("[    0.000000] Linux version 6.1.0-27-cloud-amd64 (x) #1 SMP", 1.0)
    out = rules.evaluate(m, rules.SshProbe(None), None, elapsed=300, deadline=300, timed_out=True,
                         console_truncated=True)
    assert out.first_missing == "root-fs"
    assert "300 s deadline" in out.checks[2].actual
    assert "cut to its head and tail" in out.summary


def test_ssh_without_console_implies_the_console_milestones() -> None:
    out = rules.evaluate(rules.Milestones(), BANNER, LOGIN, elapsed=50, deadline=300, timed_out=False)
    assert out.first_missing is None
    assert "not shown on the console" in out.checks[0].actual


def test_no_banner_fails_ssh_after_multi_user() -> None:
    out = rules.evaluate(watch("good"), rules.SshProbe(None, error="no banner"), None, elapsed=300, deadline=300,
                         timed_out=True)
    assert out.first_missing == "ssh"
    assert results(out)["agent"] == "NotRun"


def test_degraded_system_and_idle_waagent_are_warnings_not_passes() -> None:
    m = watch("good")
    m.cloud_init = None
    login = rules.LoginResult(50.0, True, state="degraded", failed_units=("walinuxagent.service",),
                              agents=("waagent 2.2.49",), waagent="failed")
    out = rules.evaluate(m, BANNER, login, elapsed=50, deadline=300, timed_out=False)
    assert results(out)["agent"] == "Warning" and "wire server" in out.checks[5].actual
    assert results(out)["login"] == "Warning" and "walinuxagent.service" in out.checks[6].actual
    assert out.first_missing is None


def test_login_refused_fails_login_and_no_agent_evidence_fails_agent() -> None:
    refused = rules.LoginResult(None, False, error="Permission denied (publickey).")
    out = rules.evaluate(watch("good"), BANNER, refused, elapsed=100, deadline=300, timed_out=False)
    assert out.first_missing == "login" and out.checks[6].actual == "Permission denied (publickey)."
    m = watch("good")
    m.cloud_init = None
    del m.passed["agent"]
    out = rules.evaluate(m, BANNER, refused, elapsed=100, deadline=300, timed_out=False)
    assert out.first_missing == "agent"


@pytest.mark.parametrize(("sector", "problem"), [
    (bytes(512), "no boot signature"),
    (bytes(510) + b"\x55\xaa", "all zeros"),
    (b"\xeb\x63" + bytes(508) + b"\x55\xaa", None),
    (b"\xeb", "smaller than one sector"),
])
def test_boot_sector(sector: bytes, problem: str | None) -> None:
    found = rules.boot_sector_problem(sector)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_static_problem_fails_the_boot_loader_without_a_boot() -> None:
    out = rules.evaluate(rules.Milestones(), rules.SshProbe(None), None, elapsed=0, deadline=0, timed_out=False,
                         static_problem="no boot signature")
    assert out.first_missing == "boot-loader" and out.checks[0].actual == "no boot signature"
    assert [c.result for c in out.checks[1:]] == ["NotRun"] * 6


def test_a_panic_after_root_fails_init() -> None:
    m = rules.Milestones()
    m.observe("Linux version 6.1.0 (x)", 0.5)
    m.observe("EXT4-fs (vda1): mounted filesystem abc ro", 4.0)
    m.observe("Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100", 5.0)
    assert list(m.failed) == ["init"]
