"""The demo offer that ``make up`` publishes: a small real Linux VHD and a complete offer document."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from stack import Stack

API_VERSION = "api-version=2017-10-31"


def call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
         token: str | None = None) -> tuple[int, dict[str, str], Any]:
    headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, dict(r.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, dict(e.headers), json.loads(raw) if raw else None


def demo_definition(image_url: str, assets: Path) -> dict[str, Any]:
    from tests.offers.factory import complete_offer

    return complete_offer(image_url, assets)


def image_url(stack: Stack, image: Path, key: str) -> str:
    """Like a publisher: the image goes to the publisher's bucket and the offer gets a presigned HTTPS URL
    (7 days, SigV4's longest), which the services read through the dev CA."""
    from tests.offers.publisher_storage import publisher_store, upload_presigned

    if stack.objectstores_file is None or not stack.objectstores_file.is_file():
        raise RuntimeError(f"no object stores described in {stack.objectstores_file}: the demo needs the "
                           "publisher endpoint that make up starts")
    return upload_presigned(publisher_store(stack.objectstores_file), image, key)


def demo_image(workdir: Path) -> tuple[Path, str]:
    """The bootable Debian image (built once, a minute or two, cached outside the checkout), so the demo shows the
    staging step booting it for real; where it cannot be built (it needs root, loop devices and the Debian mirror)
    the small offline image instead, whose staging boot then fails at its first check, saying why."""
    from tests.images.bootable import build_bootable
    from tests.images.builder import build_linux_vhd
    from tests.images.errors import BuilderError

    try:
        return build_bootable("good"), ""
    except (BuilderError, OSError) as exc:
        note = (f" (the bootable demo image could not be built: {exc}; the small image cannot boot, so the "
                "staging step fails)")
        return build_linux_vhd(workdir / "demo-os.vhd"), note


def publish_demo(stack: Stack, workdir: Path, token: str, *, publisher: str = "demo", offer: str = "demo") -> str:
    workdir.mkdir(parents=True, exist_ok=True)
    image, note = demo_image(workdir)
    base = f"{stack.api_url}/api/publishers/{publisher}/offers/{offer}"
    try:
        url = image_url(stack, image, f"{publisher}/{offer}/demo-os.vhd")
    except Exception as exc:  # boto3's errors, a missing store: the stack stays up, the message says why
        return f"demo offer not published: the image cannot be uploaded to the publisher storage: {exc}"
    document = demo_definition(url, workdir / "assets")
    status, _, body = call("PUT", f"{base}?{API_VERSION}", document, {"If-Match": "*"}, token)
    if status not in (200, 201):
        return f"demo offer not saved: {status} {body}"
    status, headers, body = call("POST", f"{base}/publish?{API_VERSION}",
                                 {"metadata": {"notification-emails": "publisher@demo.example"}}, token=token)
    if status != 202:
        return f"demo offer not published: {status} {body}"
    deadline = time.monotonic() + 600  # staging boots the image under software emulation: a minute or two
    state = "?"
    while time.monotonic() < deadline:
        _, _, doc = call("GET", f"{base}/status?{API_VERSION}", token=token)
        state = doc["status"] if doc else "?"
        if state in ("waitingForPublisherReview", "failed", "succeeded"):
            break
        time.sleep(1)
    return f"demo offer published: operation {headers.get('location')}; status now {state}{note}"
