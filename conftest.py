"""Under `make test` every server a test needs is running (deploy/dev/stack.py with-infra starts them and sets
OFFERFLOW_TEST_RUN_DIR). There, an `integration` test that skips for want of its server fails instead: a
missing server is a broken setup, never a silently smaller suite. Elsewhere (`make unit`) such tests skip."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("OFFERFLOW_TEST_RUN_DIR") and item.get_closest_marker("integration"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"integration test skipped under `make test` (its server should be running): {reason}"
