"""Provisioning, packaging with lead registration, go live and mails for real; and crash recovery of the
provisioning and notifier processes (kill -9 mid-run, restart, nothing missing, nothing twice)."""

from __future__ import annotations

import email
import json
import os
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from stack import Stack, free_port

from tests import objectstores, replicas
from tests.e2e.client import Api, offer_doc, unique
from tests.images.builder import build_linux_vhd

pytestmark = pytest.mark.e2e

MARKET = "microsoft-azure-marketplace."
REGIONS = 8


class LeadEndpoint:
    """An HTTPS server in a thread standing for the publisher's lead endpoint (e.g. a Flow trigger)."""

    def __init__(self, cert: Path, port: int) -> None:
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.received.append({"path": self.path, "body": json.loads(body),
                                       "type": self.headers.get("Content-Type")})
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, cert.with_suffix(".key"))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/leads"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def lead_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def lead_cert(stack: Stack, lead_port: int) -> Path:
    """A self-signed certificate for 127.0.0.1, trusted by a packaging worker restarted to pick it up; the
    endpoint's port is named an egress exception for it (every other loopback port stays refused)."""
    cert = stack.run_dir / "lead-endpoint.pem"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", str(cert.with_suffix(".key")), "-out", str(cert)],
                       check=True, capture_output=True)
    endpoint = f"127.0.0.1:{lead_port}"
    named = os.environ.get("OFFERFLOW_EGRESS_ALLOWED_ENDPOINTS", "")
    if os.environ.get("OFFERFLOW_PACKAGING_LEAD_CA_FILE") != str(cert) or endpoint not in named.split(","):
        os.environ["OFFERFLOW_PACKAGING_LEAD_CA_FILE"] = str(cert)  # the stack passes its environment on
        os.environ["OFFERFLOW_EGRESS_ALLOWED_ENDPOINTS"] = ",".join(filter(None, (named, endpoint)))
        stack.kill("packaging")
        stack.start("packaging")
        stack.wait_ready(120)
    return cert


@pytest.fixture
def leads(lead_cert: Path, lead_port: int) -> Iterator[LeadEndpoint]:
    endpoint = LeadEndpoint(lead_cert, lead_port)
    try:
        yield endpoint
    finally:
        endpoint.close()


@pytest.fixture
def api(stack: Stack, e2e_token: str) -> Api:
    return Api(stack.api_url, e2e_token)


def at_signoff(doc: dict[str, Any]) -> bool:
    return doc["status"] in ("waitingForPublisherReview", "failed")


def mail_subjects(stack: Stack, address: str) -> list[str]:
    out = []
    for path in sorted(stack.mail_dir.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes())
        if address in (msg.get("To") or ""):
            out.append(str(msg["Subject"]))
    return sorted(out)


def wait_for(pred: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition never met")
        time.sleep(0.2)


def assert_replicas_verified(offer: str, image: Path) -> None:
    assert replicas.problems("e2e", offer, image) == []
    assert objectstores.open_uploads() == []  # no orphan parts in any region


def test_lead_preview_go_live_and_one_mail_per_milestone(stack: Stack, api: Api, leads: LeadEndpoint,
                                                         tmp_path: Path) -> None:
    offer = unique("stages")
    owner = f"{offer}@e2e.example"
    image = build_linux_vhd(tmp_path / "os.vhd")
    doc = offer_doc(image)
    fields = doc["definition"]["offer"]
    fields[MARKET + "leadDestination"] = "HttpsEndpoint"
    fields[MARKET + "leadConfiguration"] = {"httpsEndpointUrl": leads.url}
    assert api.put(offer, doc).status_code == 201
    assert api.publish(offer, owner).status_code == 202

    status = api.wait_status(offer, at_signoff, timeout=180)
    assert status["status"] == "waitingForPublisherReview", status
    assert_replicas_verified(offer, image)

    (lead,) = leads.received
    assert lead["type"] == "application/json"
    body = lead["body"]
    title = fields[MARKET + "title"]
    assert body["OfferTitle"] == title and body["LeadSource"] == f"AzureMarketplace-INS | {title}"
    assert set(body["UserDetails"]) == {"Company", "Country", "Email", "FirstName", "LastName", "Phone", "Title"}

    link = status["previewLinks"][0]
    assert httpx.get(link).status_code == 200
    other = link.split("subscriptionId=")[0] + "subscriptionId=00000000-0000-0000-0000-000000000000"
    assert httpx.get(other).status_code == 404

    assert api.post(offer, "golive").status_code == 202
    status = api.wait_status(offer, lambda d: d["status"] in ("succeeded", "failed"))
    assert status["status"] == "succeeded", status
    assert httpx.get(status["liveLinks"][0]).status_code == 200

    wait_for(lambda: len(mail_subjects(stack, owner)) >= 3, 30)
    time.sleep(2)  # a duplicate would arrive right behind the first
    got = mail_subjects(stack, owner)
    assert len(got) == 3, got
    assert sum("preview" in s.lower() for s in got) == 1 and sum(" live" in s.lower() for s in got) == 1


def test_a_refused_lead_fails_packaging_with_what_to_fix(stack: Stack, api: Api, tmp_path: Path) -> None:
    offer = unique("lead-refused")
    doc = offer_doc(build_linux_vhd(tmp_path / "os.vhd"))
    fields = doc["definition"]["offer"]
    fields[MARKET + "leadDestination"] = "HttpsEndpoint"
    fields[MARKET + "leadConfiguration"] = {"httpsEndpointUrl": "https://127.0.0.1:9/leads?key=SECRET"}
    assert api.put(offer, doc).status_code == 201
    assert api.publish(offer).status_code == 202
    status = api.wait_status(offer, lambda d: d["status"] == "failed", timeout=180)
    step = {s["id"]: s for s in status["steps"]}["displaypackage"]
    assert step["status"] == "failed"
    text = " ".join(m["messageHtml"] for m in step["messages"])
    # A loopback port that is not a named endpoint: refused before any connection, so nothing tells whether
    # anything listens there.
    assert "the URL is not allowed" in text and "SECRET" not in text


def test_killing_provisioning_mid_fan_out_resumes_and_leaves_no_orphan_parts(
        stack: Stack, api: Api, tmp_path: Path) -> None:
    offer = unique("crash-prov")
    image = build_linux_vhd(tmp_path / "big.vhd", size_mib=384)
    assert api.put(offer, offer_doc(image)).status_code == 201
    assert api.publish(offer).status_code == 202

    # Mid fan-out: every region is receiving parts of the one read of the image.
    wait_for(lambda: len({u.region for u in objectstores.open_uploads()}) == REGIONS, 180)
    stack.kill("provisioning")
    assert objectstores.open_uploads(), "the kill came too late to be mid-copy"
    before = replicas.stored_at("e2e", offer)
    stack.start("provisioning")
    stack.wait_ready(120)

    status = api.wait_status(offer, at_signoff, timeout=240)
    assert status["status"] == "waitingForPublisherReview", status
    assert_replicas_verified(offer, image)
    # Content a region had committed before the kill was not uploaded again.
    after = replicas.stored_at("e2e", offer)
    assert all(after[r] == t for r, t in before.items())


def test_killing_the_notifier_mid_run_sends_every_mail_exactly_once(stack: Stack, api: Api,
                                                                     tmp_path: Path) -> None:
    offer = unique("crash-mail")
    owner = f"{offer}@e2e.example"
    assert api.put(offer, offer_doc(build_linux_vhd(tmp_path / "os.vhd"))).status_code == 201
    assert api.publish(offer, owner).status_code == 202
    wait_for(lambda: len(mail_subjects(stack, owner)) >= 1, 60)
    stack.kill("notifier")  # the "preview ready" mail is still to come
    try:
        status = api.wait_status(offer, at_signoff, timeout=180)
        assert status["status"] == "waitingForPublisherReview", status
        assert api.post(offer, "golive").status_code == 202
        api.wait_status(offer, lambda d: d["status"] == "succeeded")
    finally:
        stack.start("notifier")
        stack.wait_ready(120)
    wait_for(lambda: len(mail_subjects(stack, owner)) >= 3, 90)
    stack.kill("notifier")  # and again right after: the restart must not re-send anything
    stack.start("notifier")
    stack.wait_ready(120)
    time.sleep(5)
    got = mail_subjects(stack, owner)
    assert len(got) == 3, got
