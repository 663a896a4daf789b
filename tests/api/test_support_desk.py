"""The support desk on the real stack: a publisher's request about a failed run goes open -> answered -> open
(reply) -> closed through the API and the CLI, each step mailed both ways, refusals are clear 409s that emit
nothing, and nobody sees another publisher's request."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from stack import BIN, Stack, create_publisher

from tests.e2e.client import Api, V, offer_doc, unique
from tests.images.builder import build_variant
from tests.security.sinkmail import listed, message

pytestmark = pytest.mark.e2e
DESK = "support@offerflow.local"  # the notifier's default support desk address


@pytest.fixture(scope="module")
def failed_offer(stack: Stack, e2e_token: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    """An offer whose run failed at certification: (offer, run id, the run's contact address)."""
    api = Api(stack.api_url, e2e_token)
    offer, contact = unique("desk"), f"desk-{uuid.uuid4().hex[:8]}@e2e.example"
    api.put(offer, offer_doc(build_variant(tmp_path_factory.mktemp("desk") / "dyn.vhd", "dynamic")))
    assert api.publish(offer, emails=contact).status_code == 202
    status = api.wait_status(offer, lambda d: d["status"] == "failed", timeout=180)
    return offer, status["runId"], contact


@pytest.fixture
def admin(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.api_url, timeout=30, headers={"Authorization": f"Bearer {stack.admin_token}"})


def open_request(api: Api, offer: str, title: str = "Certification fails") -> dict[str, Any]:
    r = api.http.post(api.offer_url(offer, "/support"), params=V, json={"title": title, "description": "Help!"})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def eventually(read: Callable[[], Any], pred: Callable[[Any], bool], timeout: float = 60) -> Any:
    """The read model follows the events within moments."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = read()
        if pred(got):
            return got
        time.sleep(0.3)
    raise AssertionError(f"never matched; last: {got}")


def mails(stack: Stack, to: str, request_id: str, count: int, timeout: float = 90) -> list[EmailMessage]:
    """The mails to ``to`` about ``request_id`` (the subject names it), once ``count`` have arrived."""
    def about() -> list[str]:
        return [m["name"] for m in listed(stack) if to in m["to"] and request_id in str(m.get("subject", ""))]
    names = eventually(about, lambda n: len(n) >= count, timeout)
    return [message(stack, n) for n in names]


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_open_answer_reply_close_through_the_api_with_mails_both_ways(
        stack: Stack, api: Api, admin: httpx.Client, failed_offer: tuple[str, str, str]) -> None:
    offer, run_id, contact = failed_offer
    created = open_request(api, offer)
    rid = created["id"]
    assert created["runId"] == run_id and created["step"] == "displaycertify"

    queue = eventually(lambda: admin.get("/admin/support", params={"status": "open"}).json(),
                       lambda q: any(r["id"] == rid for r in q))
    assert all(r["status"] == "open" for r in queue)
    mine = next(r for r in queue if r["id"] == rid)
    assert (mine["publisherId"], mine["offerId"], mine["contactEmails"]) == ("e2e", offer, [contact])

    answered = admin.post(f"/admin/support/{rid}/answer", json={"message": "Convert the VHD to fixed size.",
                                                                "by": "alice"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered"
    again = admin.post(f"/admin/support/{rid}/answer", json={"message": "Twice?"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "SupportRequestAnswered"

    url = f"/api/publishers/e2e/support/{rid}"
    doc = eventually(lambda: api.http.get(url, params=V).json(), lambda d: d.get("status") == "answered")
    assert [(m["kind"], m["role"], m["text"]) for m in doc["conversation"]] == [
        ("opened", "publisher", "Help!"), ("answered", "support", "Convert the VHD to fixed size.")]

    replied = api.http.post(url + "/reply", params=V, json={"message": "It is fixed size already."})
    assert replied.status_code == 200 and replied.json()["status"] == "open"
    closed = admin.post(f"/admin/support/{rid}/close", json={"message": "Solved together."})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    for late in (admin.post(f"/admin/support/{rid}/close", json={}),
                 api.http.post(url + "/close", params=V, json={}),
                 api.http.post(url + "/reply", params=V, json={"message": "hello?"})):
        assert late.status_code == 409 and late.json()["error"]["code"] == "SupportRequestClosed", late.text

    doc = eventually(lambda: api.http.get(url, params=V).json(), lambda d: d.get("status") == "closed")
    assert [m["kind"] for m in doc["conversation"]] == ["opened", "answered", "replied", "closed"]
    # Every refusal emitted nothing: one event per accepted step, in sequence.
    assert [m["seq"] for m in doc["conversation"]] == [1, 2, 3, 4]

    # Both ways: the desk hears of the opening and the reply; the run's contact of the answer and the close.
    desk = mails(stack, DESK, rid, 2)
    assert sorted(" ".join(str(m["Subject"]).split()).split(" ")[0] for m in desk) == ["New", "Reply"]
    to_publisher = mails(stack, contact, rid, 3)  # the acknowledgement, the answer, the close
    answer = next(m for m in to_publisher if "Support answered" in " ".join(str(m["Subject"]).split()))
    assert "Convert the VHD to fixed size." in text_of(answer)
    assert f"/portal/#/support/{rid}" in text_of(answer)


def test_concurrent_answers_make_one_event_and_one_409(api: Api, admin: httpx.Client,
                                                       failed_offer: tuple[str, str, str]) -> None:
    rid = open_request(api, failed_offer[0], "Race")["id"]
    codes: list[int] = []

    def answer(i: int) -> None:
        with httpx.Client(base_url=str(admin.base_url), headers=dict(admin.headers), timeout=30) as c:
            codes.append(c.post(f"/admin/support/{rid}/answer", json={"message": f"answer {i}"}).status_code)

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409, 409, 409]
    doc = eventually(lambda: admin.get(f"/admin/support/{rid}").json(), lambda d: d.get("status") == "answered")
    time.sleep(1)  # a second answer, were there one, would be in the archive by now
    doc = admin.get(f"/admin/support/{rid}").json()
    assert [m["kind"] for m in doc["conversation"]] == ["opened", "answered"]


def test_another_publishers_request_is_404_and_bad_input_400(stack: Stack, api: Api, admin: httpx.Client,
                                                             failed_offer: tuple[str, str, str]) -> None:
    rid = open_request(api, failed_offer[0], "Private")["id"]
    eventually(lambda: api.http.get(f"/api/publishers/e2e/support/{rid}", params=V).status_code, lambda s: s == 200)
    other = Api(stack.api_url, create_publisher(stack, "desk-other"), publisher="desk-other")
    base = f"/api/publishers/desk-other/support/{rid}"
    assert other.http.get(base, params=V).status_code == 404
    assert other.http.post(base + "/reply", params=V, json={"message": "mine?"}).status_code == 404
    assert other.http.post(base + "/close", params=V, json={}).status_code == 404
    assert all(r["id"] != rid for r in other.http.get("/api/publishers/desk-other/support", params=V).json())
    # A publisher's token on another publisher's path, and no admin token on the desk's routes.
    assert other.http.get(f"/api/publishers/e2e/support/{rid}", params=V).status_code == 404
    assert api.http.get("/admin/support").status_code == 401

    for r in (admin.post(f"/admin/support/{rid}/answer", json={"message": ""}),
              admin.post(f"/admin/support/{rid}/answer", json={}),
              admin.get("/admin/support", params={"status": "pending"}),
              api.http.post(f"/api/publishers/e2e/support/{rid}/reply", params=V, json={"message": "x", "extra": 1})):
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "BadRequest" and r.json()["error"]["details"]
    assert admin.post("/admin/support/sr-nothere/answer", json={"message": "x"}).status_code == 404
    # Nothing above moved the request.
    assert api.http.get(f"/api/publishers/e2e/support/{rid}", params=V).json()["status"] == "open"
    mine = api.http.get("/api/publishers/e2e/support", params={**V, "run": failed_offer[1]}).json()
    assert rid in [r["id"] for r in mine] and {r["runId"] for r in mine} == {failed_offer[1]}


def offerflow_admin(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**stack.env(), "OFFERFLOW_API_URL": stack.api_url, "OFFERFLOW_ADMIN_TOKEN": stack.admin_token}
    env.pop("OFFERFLOW_TOKEN", None)
    return subprocess.run([str(BIN / "offerflow"), "support", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_the_cli_lists_shows_answers_and_closes(stack: Stack, e2e_token: str, api: Api,
                                                failed_offer: tuple[str, str, str]) -> None:
    env = {**stack.env(), "OFFERFLOW_API_URL": stack.api_url, "OFFERFLOW_TOKEN": e2e_token,
           "OFFERFLOW_PUBLISHER": "e2e"}
    opened = subprocess.run([str(BIN / "offerflow"), "support", "open", failed_offer[0], "--title", "From the CLI",
                             "--description", "Opened in a terminal"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert opened.returncode == 0, opened.stderr
    rid = next(w for w in opened.stdout.split() if w.startswith("sr-")).rstrip(".")

    listed_open = eventually(lambda: offerflow_admin(stack, "list", "--status", "open"), lambda p: rid in p.stdout)
    assert listed_open.returncode == 0 and "From the CLI" in listed_open.stdout
    answered = offerflow_admin(stack, "answer", rid, "--message", "Try a fixed-size VHD.")
    assert answered.returncode == 0 and "answered now" in answered.stdout, answered.stderr
    refused = offerflow_admin(stack, "answer", rid, "--message", "again")
    assert refused.returncode != 0 and "SupportRequestAnswered" in refused.stdout + refused.stderr
    shown = eventually(lambda: offerflow_admin(stack, "show", rid), lambda p: "Try a fixed-size VHD." in p.stdout)
    assert "Opened in a terminal" in shown.stdout and "[answered]" in shown.stdout
    closed = offerflow_admin(stack, "close", rid)
    assert closed.returncode == 0 and "closed now" in closed.stdout
    assert rid not in offerflow_admin(stack, "list", "--status", "open").stdout
