"""A test's child process in a session of its own, stopped with everything it started whatever the test did:
deploy/dev/procs.py's ``stop_group`` (SIGTERM to the group, a grace period, then SIGKILL), as the stack stops its
own servers."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "deploy/dev") not in sys.path:
    sys.path.insert(0, str(ROOT / "deploy/dev"))

from procs import free_port, stop_group  # noqa: E402

__all__ = ["free_port", "spawned"]


@contextlib.contextmanager
def spawned(cmd: list[str], log: Path, *, env: Mapping[str, str], cwd: Path,
            grace: float = 30.0) -> Iterator[subprocess.Popen[bytes]]:
    """Runs ``cmd`` with its output appended to ``log``; yields the process."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        yield proc
    finally:
        stop_group(proc.pid, proc, grace=grace)
