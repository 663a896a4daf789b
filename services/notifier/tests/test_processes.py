"""The entry points: the worker app builds without I/O, the sink stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from offerflow_notifier import bootstrap
from offerflow_notifier.settings import Settings


def test_build_registers_the_agent_without_connecting() -> None:
    faust_app = bootstrap.build(Settings())
    assert f"{bootstrap.SPEC.name}-agent" in {agent.name.rsplit(".", 1)[-1] for agent in faust_app.agents.values()}


def test_sink_process_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "OFFERFLOW_MAILSINK_DIR": str(tmp_path / "mail"),
           "OFFERFLOW_MAILSINK_SMTP_PORT": "0", "OFFERFLOW_MAILSINK_HTTP_PORT": "0"}
    proc = subprocess.Popen([sys.executable, "-c", "from offerflow_notifier.sink import main; main()"],
                            env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("mail sink: SMTP on 127.0.0.1:")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert "mail sink stopped" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
