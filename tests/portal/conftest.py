"""Browser fixtures: Playwright driving the system's Chromium (never a downloaded browser) against the stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from stack import Stack

from tests.e2e.client import Api
from tests.portal.browser import ARGS, ARTIFACTS, CHROMIUM, Portal


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Browser]:
    """Depends on ``stack`` so that it closes first: open status streams would hold the API's shutdown.

    Module-scoped: Playwright's sync API keeps an event loop marked running while it is open, which would
    break the asyncio tests that pytest runs after this module.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs playwright and Chromium at {CHROMIUM} (scripts/install)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def portal(stack: Stack, e2e_token: str, browser: Browser) -> Iterator[Portal]:
    p = Portal(stack.api_url, "e2e", e2e_token, browser)
    try:
        yield p
    finally:
        p.close()
    assert not p.errors, p.errors


@pytest.fixture
def api(stack: Stack, e2e_token: str) -> Api:
    return Api(stack.api_url, e2e_token)
