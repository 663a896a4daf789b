"""Old mail links (``/portal/offers/...``, before the portal's fragment routes) redirect to the route they meant."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient

from offerflow_status_api import portal
from offerflow_status_api.api import routes_portal


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    app.include_router(routes_portal.router)
    app.mount("/portal", StaticFiles(directory=portal.STATIC_DIR, html=True), name="portal")
    return TestClient(app, follow_redirects=False)


@pytest.mark.parametrize(("path", "target"), [
    ("/portal/offers/vm-1", "/portal/#/offers/vm-1/status"),
    ("/portal/offers/vm-1/", "/portal/#/offers/vm-1/status"),
    ("/portal/offers/vm-1/editor", "/portal/#/offers/vm-1/editor"),
    ("/portal/offers/vm-1/nope", "/portal/#/offers/vm-1/status"),
    ("/portal/offers/vm-1/support?run=r%201", "/portal/#/offers/vm-1/status?support=failed&run=r+1"),
    ("/portal/offers/vm-1/support", "/portal/#/offers/vm-1/status?support=failed"),
    ("/portal/offers/", "/portal/#/offers"),
])
def test_old_links_redirect(client: TestClient, path: str, target: str) -> None:
    r = client.get(path)
    assert r.status_code == 308 and r.headers["location"] == target


def test_the_app_and_its_assets_are_still_served(client: TestClient) -> None:
    r = client.get("/portal/")
    assert r.status_code == 200 and "js/main.js" in r.text
    assert client.get("/portal/js/main.js").status_code == 200
