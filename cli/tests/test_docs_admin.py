"""Offer documents, add-version idempotency, admin commands, configuration fallback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from offerflow_cli.fakeapi import PUB, FakeApi, error, resp

Invoke = Callable[..., Result]
SUMMARY = [{"offerTypeId": "microsoft-azure-virtualmachines", "publisherId": "demo", "id": "demo", "version": 2,
            "status": "running", "currentStep": "displaycertify", "stepSince": "2024-01-01T00:00:00Z",
            "definition": {"displayText": "Demo VM"}, "changedTime": "2024-01-01T00:00:00Z"}]
OFFER = {"id": "demo", "publisherId": "demo", "definition": {"displayText": "Demo VM", "plans": []}}
VERSION = f"{PUB}/demo/plans/gen1/versions/2024.05.01"


def test_list_json_and_plain(api: FakeApi, cli: Invoke) -> None:
    api.on("GET", PUB, resp(200, SUMMARY))
    r = cli("offers", "list", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == SUMMARY
    r = cli("offers", "list")
    assert r.stdout.splitlines() == ["demo\t2\trunning\tdisplaycertify\t2024-01-01T00:00:00Z\tDemo VM\t"
                                     "2024-01-01T00:00:00Z"]


def test_get_draft_slot_and_version(api: FakeApi, cli: Invoke) -> None:
    api.on("GET", f"{PUB}/demo", resp(200, OFFER, headers={"ETag": '"e1"'}))
    api.on("GET", f"{PUB}/demo/slot/Preview", resp(200, OFFER))
    api.on("GET", f"{PUB}/demo/versions/3", resp(200, OFFER))
    r = cli("offers", "get", "demo")
    assert r.exit_code == 0 and json.loads(r.stdout) == OFFER and '"e1"' in r.stderr
    assert cli("offers", "get", "demo", "--slot", "preview").exit_code == 0
    assert cli("offers", "get", "demo", "--version", "3").exit_code == 0
    assert cli("offers", "get", "demo", "--version", "3", "--slot", "Draft").exit_code == 2
    assert cli("offers", "get", "nope").exit_code == 14


def test_put_reads_the_current_etag_first(api: FakeApi, cli: Invoke, tmp_path: Path) -> None:
    (tmp_path / "offer.json").write_text(json.dumps(OFFER))
    api.on("GET", f"{PUB}/demo", resp(200, OFFER, headers={"ETag": '"e1"'}))
    api.on("PUT", f"{PUB}/demo", resp(200, OFFER, headers={"ETag": '"e2"'}))
    r = cli("offers", "put", "demo", "offer.json")
    assert r.exit_code == 0, r.output
    sent = api.sent("PUT", f"{PUB}/demo")[0]
    assert sent.headers["If-Match"] == '"e1"' and api.body(sent) == OFFER
    assert "Updated offer demo" in r.stderr


def test_put_new_offer_and_explicit_if_match(api: FakeApi, cli: Invoke, tmp_path: Path) -> None:
    (tmp_path / "offer.json").write_text(json.dumps(OFFER))
    api.on("PUT", f"{PUB}/demo", resp(201, OFFER, headers={"ETag": '"e1"'}))
    r = cli("offers", "put", "demo", "offer.json", "--json")  # GET → 404: a new offer
    assert r.exit_code == 0 and json.loads(r.stdout) == OFFER
    assert api.sent("PUT", f"{PUB}/demo")[0].headers["If-Match"] == "*"
    r = cli("offers", "put", "demo", "-", "--if-match", '"e9"', input=json.dumps(OFFER))
    assert r.exit_code == 0 and api.sent("PUT", f"{PUB}/demo")[-1].headers["If-Match"] == '"e9"'


def test_put_stale_etag_and_bad_file(api: FakeApi, cli: Invoke, tmp_path: Path) -> None:
    (tmp_path / "offer.json").write_text(json.dumps(OFFER))
    api.on("PUT", f"{PUB}/demo", error(412, "PreconditionFailed", "The offer was changed by someone else."))
    r = cli("offers", "put", "demo", "offer.json", "--if-match", '"old"')
    assert r.exit_code == 14 and "Someone else changed the offer" in r.stderr
    (tmp_path / "bad.json").write_text("{nope")
    assert cli("offers", "put", "demo", "bad.json").exit_code == 2


def test_validate_errors_exit_11_warnings_0(api: FakeApi, cli: Invoke) -> None:
    problems = {"problems": [
        {"field": "/definition/title", "code": "required", "message": "title is required", "level": "error"},
        {"field": "/definition/logo", "code": "size", "message": "logo is small", "level": "warning"}]}
    api.on("GET", f"{PUB}/demo/validation", resp(200, problems))
    r = cli("offers", "validate", "demo")
    assert r.exit_code == 11
    assert "error\t/definition/title\trequired\ttitle is required" in r.stdout
    r = cli("offers", "validate", "demo", "--json")
    assert r.exit_code == 11 and json.loads(r.stdout) == problems
    api.on("GET", f"{PUB}/demo/validation", resp(200, {"problems": [problems["problems"][1]]}))
    assert cli("offers", "validate", "demo").exit_code == 0


def test_history(api: FakeApi, cli: Invoke) -> None:
    entries = [{"time": "t1", "kind": "command", "action": "publish", "outcome": "accepted", "runId": "run-1",
                "detail": None}]
    api.on("GET", f"{PUB}/demo/history", resp(200, entries))
    r = cli("offers", "history", "demo")
    assert r.exit_code == 0 and r.stdout == "t1\tcommand\tpublish\taccepted\trun-1\t-\n"
    assert json.loads(cli("offers", "history", "demo", "--json").stdout) == entries


@pytest.mark.parametrize(("status", "code", "said"), [(201, 0, "Added version"), (200, 0, "already there"),
                                                       (409, 14, "different content")])
def test_add_version_idempotency(api: FakeApi, cli: Invoke, status: int, code: int, said: str) -> None:
    reply = error(409, "VersionExists", "Version 2024.05.01 exists with other disks.") if status == 409 \
        else resp(status, {"osVhdUrl": "https://x/os.vhd"})
    api.on("PUT", VERSION, reply)
    r = cli("offers", "add-version", "demo", "gen1", "2024.05.01", "--os-vhd-url", "https://x/os.vhd",
            "--lun", "0=https://x/d0.vhd", "--label", "May")
    assert r.exit_code == code, r.output
    assert said in r.output
    assert api.body(api.sent("PUT", VERSION)[0]) == {
        "osVhdUrl": "https://x/os.vhd", "lunVhdDetails": [{"lun": 0, "lunVhdUrl": "https://x/d0.vhd"}],
        "label": "May"}


def test_add_version_bad_lun_is_a_usage_error(api: FakeApi, cli: Invoke) -> None:
    r = cli("offers", "add-version", "demo", "gen1", "1.0.0", "--os-vhd-url", "u", "--lun", "zero")
    assert r.exit_code == 2 and "LUN=URL" in r.stderr
    assert not api.requests


def test_support_open(api: FakeApi, cli: Invoke) -> None:
    api.on("POST", f"{PUB}/demo/support", resp(201, {"id": "sr-1", "title": "t"}))
    r = cli("support", "open", "demo", "--title", "t", "--description", "d", "--run", "run-1")
    assert r.exit_code == 0 and "sr-1" in r.stdout
    assert api.body(api.requests[-1]) == {"title": "t", "description": "d", "runId": "run-1"}


ADMIN = ["--api-url", "http://api.test", "--admin-token", "adm"]


def test_publishers_and_tokens(api: FakeApi, cli: Invoke) -> None:
    api.on("POST", "/admin/publishers", resp(201, {"publisherId": "acme", "displayName": "Acme"}))
    api.on("GET", "/admin/publishers", resp(200, [{"publisherId": "acme", "displayName": "Acme",
                                                   "createdAt": "t"}]))
    api.on("POST", "/admin/publishers/acme/tokens", resp(201, {"id": "tk1", "token": "s3cret",
                                                               "publisherId": "acme", "name": "ci",
                                                               "createdAt": "t"}))
    api.on("GET", "/admin/publishers/acme/tokens", resp(200, [{"id": "tk1", "name": "ci", "createdAt": "t",
                                                               "revokedAt": None}]))
    api.on("DELETE", "/admin/tokens/tk1", resp(204))
    assert cli("publishers", "create", "acme", "--name", "Acme", *ADMIN, conn=False).exit_code == 0
    assert api.body(api.requests[-1]) == {"publisherId": "acme", "displayName": "Acme"}
    assert api.requests[-1].headers["Authorization"] == "Bearer adm"
    assert cli("publishers", "list", *ADMIN, conn=False).stdout == "acme\tAcme\tt\n"
    r = cli("tokens", "create", "--publisher", "acme", "--name", "ci", *ADMIN, conn=False)
    assert r.exit_code == 0 and r.stdout == "s3cret\n" and "shown only once" in r.stderr
    assert cli("tokens", "list", "--publisher", "acme", *ADMIN, conn=False).stdout == "tk1\tci\tt\t-\n"
    r = cli("tokens", "revoke", "tk1", *ADMIN, conn=False)
    assert r.exit_code == 0 and api.requests[-1].method == "DELETE"


def test_endpoints_json_fallback(api: FakeApi, cli: Invoke, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".run").mkdir()
    (tmp_path / ".run" / "endpoints.json").write_text(json.dumps(
        {"api_url": "http://from-file.test", "publisher": "demo", "token": "filetok", "admin_token": "fileadm"}))
    sub = tmp_path / "deep" / "dir"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)  # found at the repository root, not just the current directory
    api.on("GET", PUB, resp(200, []))
    r = cli("offers", "list", conn=False)
    assert r.exit_code == 0, r.output
    req = api.requests[-1]
    assert req.url.host == "from-file.test" and req.headers["Authorization"] == "Bearer filetok"
    monkeypatch.setenv("OFFERFLOW_TOKEN", "envtok")  # anything given explicitly wins
    cli("offers", "list", conn=False)
    assert api.requests[-1].headers["Authorization"] == "Bearer envtok"
    api.on("GET", "/admin/publishers", resp(200, []))
    cli("publishers", "list", conn=False)
    assert api.requests[-1].headers["Authorization"] == "Bearer fileadm"


def test_missing_api_url_is_a_usage_error(api: FakeApi, cli: Invoke) -> None:
    r = cli("offers", "list", conn=False)
    assert r.exit_code == 2 and "OFFERFLOW_API_URL" in r.stderr
    r = cli("offers", "list", "--api-url", "http://api.test", conn=False)
    assert r.exit_code == 2 and "OFFERFLOW_PUBLISHER" in r.stderr


def test_help_documents_exit_codes(cli: Invoke) -> None:
    r = cli("--help", conn=False)
    assert r.exit_code == 0
    for code in ("10 waiting for publisher sign-off", "11 failed", "12 canceled", "13 timed out", "14 refused",
                 "15 API unreachable"):
        assert code in r.stdout
