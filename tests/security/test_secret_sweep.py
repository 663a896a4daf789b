"""Planted secrets appear nowhere: not in a service log, a Kafka record, an API response, a mail or a page.

One publisher runs four offers through the real stack, each carrying distinctive secrets:

- ``presigned``: its disk is a real SigV4 presigned HTTPS URL of the publishers' object store; its signature is
  the marker. The offer reaches the preview (certification and provisioning read the disk through that URL).
- ``sas``: its disk URL has userinfo (``user:<marker>@``) and a SAS ``sig=<marker>`` on a closed port: the run
  fails while reading the disk, so the error paths log.
- ``crm``: a Marketo lead destination whose client secret is the marker (the lead fails: no Marketo here).
- ``table``: an Azure Table lead destination whose connection string's AccountKey is the marker (Azurite
  refuses it).

The publisher's API token is a marker too. Then every marker is searched for, as bytes, in every service log of
the stack's run dir, every record of every Kafka topic (keys, values, headers), every API response this test
received, every mail of the dev mail sink (files and pages) and the preview pages. Lead secrets are sealed on
Kafka (an encrypted blob does not contain the marker). The disk URL is the one field the pipeline must carry
as is (certification and provisioning read it), so the presigned URL may appear verbatim as the value of
``osVhdUrl`` in the offer's own documents and events, or of a disk's ``url`` in the stages' events, and nowhere
else (not in a message, a step, a report's finding, a log line). That holds for both planted disk URLs: the
pipeline carries the disk URL, signature included, in its events (not sealed), so the topics hold it there.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from stack import Stack, create_publisher, free_port

from tests.e2e.client import Api, V, offer_doc, unique
from tests.images.builder import build_linux_vhd
from tests.offers.publisher_storage import publisher_store, upload_presigned
from tests.security import sinkmail
from tests.security.kafka_records import read_records

pytestmark = pytest.mark.e2e

M = "microsoft-azure-marketplace."
IMAGES = "microsoft-azure-corevm.vmImagesPublicAzure"
PUBLISHER = "sweep"
ENDED = ("waitingForPublisherReview", "failed", "succeeded")


def marker() -> str:
    """Letters and digits only (40 characters): survives JSON, URL and base64 contexts unchanged."""
    while True:
        candidate = base64.b64encode(secrets.token_bytes(30)).decode()
        if candidate.isalnum():
            return candidate


@dataclass
class Sweep:
    markers: dict[str, str]  # what was planted → the secret
    offers: dict[str, str]  # role → offer id
    disk_urls: tuple[str, ...]  # the planted disk URLs, allowed only as the value of their own osVhdUrl field
    responses: list[httpx.Response] = field(default_factory=list)
    pages: dict[str, bytes] = field(default_factory=dict)  # where → body


def _disk(doc: dict[str, Any], url: str) -> dict[str, Any]:
    for plan in doc["definition"]["plans"]:
        for version in plan[IMAGES].values():
            version["osVhdUrl"] = url
    return doc


def _disk_url(doc: dict[str, Any]) -> str:
    (url,) = {v["osVhdUrl"] for plan in doc["definition"]["plans"] for v in plan[IMAGES].values()}
    return str(url)


def _sas_url(user_secret: str, sig: str) -> str:
    now = time.time()
    st = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 86400))
    se = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 30 * 86400))
    # A port nobody listens on: reading the disk fails, after validation accepted the URL's form.
    return (f"https://sweep:{user_secret}@127.0.0.1:{free_port()}/vhds/os.vhd?sv=2014-02-14&sr=c&sig={sig}"
            f"&st={st}&se={se}&sp=rl")


@pytest.fixture(scope="module")
def sweep(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sweep]:
    token = create_publisher(stack, PUBLISHER)
    api = Api(stack.api_url, token, publisher=PUBLISHER)
    image = build_linux_vhd(tmp_path_factory.mktemp("sweep") / "os.vhd")
    stores = os.environ.get("OFFERFLOW_OBJECTSTORES_FILE")
    if not stores:
        pytest.fail("OFFERFLOW_OBJECTSTORES_FILE is not set: run under deploy/dev/stack.py with-infra")
    presigned = upload_presigned(publisher_store(Path(stores)), image, f"sweep/{unique('disk')}.vhd")
    signature = re.search(r"X-Amz-Signature=([0-9a-f]+)", presigned)
    assert signature, presigned
    markers = {"publisher API token": token, "presigned X-Amz-Signature": signature[1],
               "SAS sig=": marker(), "userinfo password": marker(), "CRM client secret": marker(),
               "table AccountKey": marker()}
    azurite = os.environ.get("OFFERFLOW_AZURITE_CONNECTION_STRING") or stack.azurite_connection_string
    if not azurite:
        pytest.fail("OFFERFLOW_AZURITE_CONNECTION_STRING is not set: run under deploy/dev/stack.py with-infra")
    table = re.sub(r"AccountKey=[^;]*", f"AccountKey={markers['table AccountKey']}", azurite)

    # Logos are file:// URLs in this publisher's folder of the stack's file root (the only place they are read).
    docs = {
        "presigned": _disk(offer_doc(image, subscriptions=["11111111-2222-3333-4444-555555555555"],
                                     publisher=PUBLISHER), presigned),
        "sas": _disk(offer_doc(image, publisher=PUBLISHER), _sas_url(markers["userinfo password"],
                                                                      markers["SAS sig="])),
        "crm": _disk(offer_doc(image, publisher=PUBLISHER), presigned),
        "table": _disk(offer_doc(image, publisher=PUBLISHER), presigned),
    }
    crm = docs["crm"]["definition"]["offer"]
    crm[M + "leadDestination"] = "Marketo"
    crm[M + "marketoLeadConfiguration"] = {"munchkinId": "123-ABC-456", "clientId": "sweep-client",
                                           "clientSecret": markers["CRM client secret"]}
    tbl = docs["table"]["definition"]["offer"]
    tbl[M + "leadDestination"] = "AzureTable"
    tbl[M + "tableLeadConfiguration"] = {"connectionString": table}

    result = Sweep(markers=markers, offers={role: unique(f"sweep-{role}") for role in docs},
                   disk_urls=tuple({_disk_url(doc) for doc in docs.values()}))
    api.http.event_hooks["response"].append(lambda r: (r.read(), result.responses.append(r)))
    for role, doc in docs.items():
        offer = result.offers[role]
        assert api.put(offer, doc).status_code == 201, result.responses[-1].text
        assert api.publish(offer, f"{offer}@sweep.example").status_code == 202, result.responses[-1].text
    ended = {role: api.wait_status(offer, lambda d: d["status"] in ENDED, timeout=300)
             for role, offer in result.offers.items()}
    assert ended["presigned"]["status"] == "waitingForPublisherReview", _messages(ended["presigned"])
    # Each failing offer fails where its secret is used, so that step's error path really ran.
    for role, step in (("sas", "displaycertify"), ("crm", "displaypackage"), ("table", "displaypackage")):
        failed = [s["id"] for s in ended[role]["steps"] if s["status"] == "failed"]
        assert ended[role]["status"] == "failed" and failed == [step], (role, failed, _messages(ended[role]))
    for offer in result.offers.values():
        for suffix in ("", "/status", "/history", "/submissions", "/validation", "/slot/Draft", "/slot/Preview"):
            api.http.get(api.offer_url(offer, suffix), params=V)
    api.http.get(f"/api/publishers/{PUBLISHER}/offers", params=V)
    for link in ended["presigned"]["previewLinks"]:
        page = httpx.get(link, timeout=30)
        assert page.status_code == 200, (link, page.status_code)
        result.pages[f"preview page {httpx.URL(link).path}"] = page.content
    time.sleep(5)  # the runs' last events reach the notifier, the projection and the logs
    yield result


def _messages(doc: dict[str, Any]) -> list[str]:
    return [m["messageHtml"] for m in doc.get("messages", [])] + [
        f"{s['id']}: {m['messageHtml']}" for s in doc.get("steps", []) for m in s.get("messages", [])]


def _find(markers: dict[str, str], where: str, data: bytes, disk_urls: tuple[str, ...] = ()) -> list[str]:
    text = data.decode("utf-8", errors="replace")
    for url in disk_urls:  # a disk URL as the value of its own field (the offer's, a disk's), and only there
        text = re.sub(r'"(osVhdUrl|url)"\s*:\s*"' + re.escape(json.dumps(url)[1:-1]) + '"', r'"\1": ""', text)
    hits = []
    for what, secret in markers.items():
        at = text.find(secret)
        if at >= 0:
            hits.append(f"{what} in {where}: …{text[max(0, at - 120):at + 60]!r}…")
    return hits


def _kafka_records(bootstrap: str) -> list[tuple[str, bytes]]:
    """Every record of every topic (Faust's own included), raw: ``(topic/partition@offset, key value headers)``."""
    return [(f"kafka {rec.topic}/{rec.partition}@{rec.offset}",
             b" ".join([rec.key or b"", rec.value or b"",
                        *(k.encode() + b"=" + (v or b"") for k, v in rec.headers or ())]))
            for rec in read_records(bootstrap)]


def test_no_service_log_holds_a_planted_secret(stack: Stack, sweep: Sweep) -> None:
    files = sorted((stack.run_dir / "logs").glob("*.log"))
    assert {f.stem for f in files} >= {"status-api", "relay", "projection", "validation", "certification",
                                       "provisioning", "packaging", "notifier", "mailsink"}, files
    offers = list(sweep.offers.values())
    assert any(o.encode() in f.read_bytes() for f in files for o in offers), "no log line names the runs"
    hits = [h for f in files for h in _find(sweep.markers, f"log {f.name}", f.read_bytes())]
    assert hits == [], "\n".join(hits)


def test_no_kafka_record_holds_a_planted_secret(stack: Stack, sweep: Sweep) -> None:
    records = _kafka_records(stack.kafka_bootstrap)
    for offer in sweep.offers.values():
        assert any(offer.encode() in raw for _, raw in records), f"no record of {offer} was read"
    assert any(b"sealed:v1:" in raw and sweep.offers["crm"].encode() in raw for _, raw in records), \
        "the CRM secret was not sealed: the sweep cannot tell sealed from dropped"
    hits = [h for where, raw in records for h in _find(sweep.markers, where, raw, sweep.disk_urls)]
    assert hits == [], "\n".join(hits[:20])


def test_no_api_response_holds_a_planted_secret(sweep: Sweep) -> None:
    assert len(sweep.responses) >= 4 * 2 + 4 * 7, "the sweep saw fewer responses than it asked for"
    hits = []
    for r in sweep.responses:
        where = f"response {r.request.method} {r.request.url.path} ({r.status_code})"
        headers = json.dumps(dict(r.headers)).encode()
        hits += _find(sweep.markers, where, headers + b"\n" + r.content, sweep.disk_urls)
    assert hits == [], "\n".join(hits)


def test_no_mail_holds_a_planted_secret(stack: Stack, sweep: Sweep) -> None:
    mails = sorted(stack.mail_dir.glob("*.eml"))
    mine = [m for m in mails if any(o.encode() in m.read_bytes() for o in sweep.offers.values())]
    assert len(mine) >= 4, f"expected the runs' mails (accepted, preview ready, step failed), got {mine}"
    hits = [h for m in mails for h in _find(sweep.markers, f"mail {m.name}", m.read_bytes())]
    # The sink's pages (behind the admin token) show the same mails: they leak nothing either.
    sink = sinkmail.sink(stack)
    listing = sink.get("/api/messages")
    assert listing.status_code == 200, listing.text
    hits += _find(sweep.markers, "mail sink /api/messages", listing.content)
    for item in listing.json():
        page = sink.get(f"/messages/{item['name']}")
        hits += _find(sweep.markers, f"mail sink page /messages/{item['name']}", page.content)
    assert hits == [], "\n".join(hits)


def test_no_storefront_page_holds_a_planted_secret(sweep: Sweep) -> None:
    assert sweep.pages, "the preview offered no page to check"
    hits = [h for where, body in sweep.pages.items() for h in _find(sweep.markers, where, body)]
    assert hits == [], "\n".join(hits)
