"""The development mail sink of the running stack shows mail only with the admin token (issue 13, sessions).

It holds every publisher's mail: without the token a publisher who finds its port would read everyone's.
"""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage

import pytest
from stack import Stack

from tests.security.sinkmail import listed, message, sink, wait_mails

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def planted(stack: Stack) -> tuple[str, str, str]:
    """A mail sent to the stack's sink over SMTP: (recipient, subject, stored name)."""
    to, subject = f"sink-{uuid.uuid4().hex[:8]}@sec.example", f"Secret plan {uuid.uuid4().hex}"
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Offerflow <noreply@offerflow.local>", to, subject
    msg.set_content("Only for the one it was sent to.\n")
    with smtplib.SMTP("127.0.0.1", stack.ports.smtp, timeout=30) as smtp:
        smtp.send_message(msg)
    wait_mails(stack, to, 1)
    (name,) = [m["name"] for m in listed(stack) if to in m["to"]]
    return to, subject, name


@pytest.mark.parametrize("token", ["", "ofa_not-the-admin-token", "ofp_a-publisher-token"])
def test_without_the_admin_token_the_sink_shows_nothing(stack: Stack, planted: tuple[str, str, str],
                                                        token: str) -> None:
    to, subject, name = planted
    with sink(stack, token) as http:
        for path in ("/api/messages", "/", f"/messages/{name}"):
            r = http.get(path)
            assert r.status_code == 401, (path, r.status_code)
            assert to not in r.text and subject not in r.text, path
        assert name not in http.get("/").text  # the list's names are not shown (a path asked for is echoed)
        # The token is never taken from the query string either (it would sit in logs and history).
        r = http.get("/api/messages", params={"token": stack.admin_token})
        assert r.status_code == 401


def test_with_the_admin_token_the_api_and_pages_show_the_mail(stack: Stack, planted: tuple[str, str, str]) -> None:
    to, subject, name = planted
    (summary,) = [m for m in listed(stack) if m["name"] == name]
    assert summary["to"] == [to] and summary["subject"] == subject
    assert message(stack, name)["Subject"] == subject
    with sink(stack) as http:
        page = http.get("/")
        assert page.status_code == 200 and subject in page.text


def test_a_browser_signs_in_through_the_form_and_probes_stay_open(stack: Stack,
                                                                  planted: tuple[str, str, str]) -> None:
    _, subject, _ = planted
    with sink(stack, "") as http:
        assert http.get("/healthz").text == "ok"
        form = http.get("/")
        assert form.status_code == 401 and 'action="/signin"' in form.text and subject not in form.text
        r = http.post("/signin", data={"token": "wrong", "next": "/"})
        assert r.status_code == 401 and subject not in r.text
        r = http.post("/signin", data={"token": stack.admin_token, "next": "/"}, follow_redirects=True)
        assert r.status_code == 200 and subject in r.text
        assert stack.admin_token not in str(r.url) and all(stack.admin_token not in str(h.url) for h in r.history)
        http.post("/signout")
        assert http.get("/").status_code == 401
