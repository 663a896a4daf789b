"""The portal's browser helpers: a signed-in tab per test, screenshots kept as test artifacts."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Browser, Locator, Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("OFFERFLOW_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage"]
ARTIFACTS = ROOT / "artifacts/portal"


@dataclass
class Portal:
    base: str
    publisher: str
    token: str
    browser: Browser
    errors: list[str] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)

    def open(self, route: str = "/offers", *, width: int = 1280, height: int = 900) -> Page:
        """A fresh tab signed in through the sign-in form (the portal's only way in), then on ``route``."""
        context = self.browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.goto(f"{self.base}/portal/#/signin?next={quote(route, safe='/')}")
        self.sign_in(page)
        page.wait_for_function("!location.hash.startsWith('#/signin')")
        self.pages.append(page)
        return page

    def sign_in(self, page: Page, token: str | None = None) -> None:
        """Types the publisher ID and pastes the token into the sign-in form, as a publisher does."""
        page.get_by_label("Publisher ID").fill(self.publisher)
        page.get_by_label("API token").fill(self.token if token is None else token)
        page.get_by_role("button", name="Sign in").click()

    def open_signed_out(self, route: str = "/offers") -> Page:
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.goto(f"{self.base}/portal/#{route}")
        self.pages.append(page)
        return page

    def close(self) -> None:
        for page in self.pages:
            page.context.close()


def shot(page: Page, name: str) -> Path:
    """A screenshot kept as a test artifact (artifacts/portal/, git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def panel(page: Page) -> Locator:
    return page.locator("[role=tabpanel]:not([hidden])")


def open_tab(page: Page, name: str) -> Locator:
    page.get_by_role("tab", name=re.compile(f"^{name}")).click()
    return panel(page)
