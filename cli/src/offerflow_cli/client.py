"""``ApiClient``: the Offerflow REST API (api-version 2017-10-31) over httpx, errors turned into exceptions."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

API_VERSION = "2017-10-31"

# Tests inject an ``httpx.MockTransport`` here; production leaves it None (real network).
TRANSPORT: httpx.BaseTransport | None = None


@dataclass
class ApiRefused(Exception):
    """The API answered 4xx: the request as sent will not succeed (unless ``retryable`` says otherwise)."""

    status: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    retryable: bool | None = None
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def blocking_operation(self) -> str | None:
        """The operation named by an ``OperationInProgress`` refusal, if any."""
        m = re.search(r"[Oo]peration ([A-Za-z0-9_.:$-]+)", self.message)
        return m.group(1) if m else None


@dataclass
class ApiUnavailable(Exception):
    """The API could not be reached or failed (5xx); the same request may work later."""

    message: str
    status: int | None = None
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


@dataclass
class Reply:
    status: int
    body: Any
    headers: httpx.Headers


def _error(resp: httpx.Response) -> ApiRefused | ApiUnavailable:
    try:
        body = resp.json()
    except ValueError:
        body = {}
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    message = str(err.get("message") or resp.reason_phrase or "error")
    if resp.status_code >= 500:
        return ApiUnavailable(f"The API failed ({resp.status_code}): {message}", resp.status_code,
                              body if isinstance(body, dict) else {})
    return ApiRefused(resp.status_code, str(err.get("code") or resp.reason_phrase or "Error"), message,
                      list(err.get("details") or []), err.get("retryable"),
                      body if isinstance(body, dict) else {})


class ApiClient:
    def __init__(self, base_url: str, token: str | None = None, admin_token: str | None = None,
                 *, transport: httpx.BaseTransport | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token, self._admin_token = token, admin_token
        self._http = httpx.Client(base_url=self.base_url, transport=transport or TRANSPORT, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None,
                params: dict[str, str] | None = None, admin: bool = False, ok: tuple[int, ...] = (),
                text: bool = False) -> Reply:
        """Send one call; a 4xx/5xx not listed in ``ok`` raises ``ApiRefused``/``ApiUnavailable``. ``text``: a
        successful body is kept as text even if it happens to parse as JSON (a console log)."""
        token = self._admin_token if admin else self._token
        hdrs = {"Accept": "application/json", **(headers or {})}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        url = httpx.URL(path)  # a Location header carries its own query: keep only the path
        try:
            resp = self._http.request(method, url.path, json=json, headers=hdrs,
                                      params={**(params or {}), "api-version": API_VERSION})
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"The API at {self.base_url} is unreachable: {exc}") from exc
        if resp.status_code >= 400 and resp.status_code not in ok:
            raise _error(resp)
        body: Any = None
        if text and resp.status_code < 400:
            body = resp.text
        elif resp.content:
            try:
                body = resp.json()
            except ValueError:
                body = resp.text
        return Reply(resp.status_code, body, resp.headers)

    def _offer(self, publisher: str, offer: str = "", suffix: str = "") -> str:
        path = f"/api/publishers/{quote(publisher, safe='')}/offers"
        if offer:
            path += f"/{quote(offer, safe='')}"
        return path + suffix

    # --- offers -----------------------------------------------------------------------------------

    def list_offers(self, pub: str) -> list[dict[str, Any]]:
        return list(self.request("GET", self._offer(pub)).body or [])

    def get_offer(self, pub: str, offer: str, *, version: int | None = None, slot: str | None = None) -> Reply:
        suffix = f"/versions/{version}" if version is not None else f"/slot/{slot}" if slot else ""
        return self.request("GET", self._offer(pub, offer, suffix))

    def put_offer(self, pub: str, offer: str, doc: dict[str, Any], if_match: str) -> Reply:
        return self.request("PUT", self._offer(pub, offer), json=doc, headers={"If-Match": if_match})

    def validation(self, pub: str, offer: str) -> dict[str, Any]:
        body = self.request("GET", self._offer(pub, offer, "/validation")).body
        return body if isinstance(body, dict) else {"problems": []}

    def status(self, pub: str, offer: str) -> dict[str, Any]:
        return dict(self.request("GET", self._offer(pub, offer, "/status")).body or {})

    def operation(self, location: str) -> dict[str, Any] | None:
        """The operation at ``location`` (relative to the API root); None while it is not visible yet."""
        reply = self.request("GET", location, ok=(404,))
        return None if reply.status == 404 else dict(reply.body or {})

    def command(self, path: str, json: Any = None, *, attempts: int = 3) -> Reply:
        """A publishing command, retried on a lost connection or a 5xx with the same ``Idempotency-Key``: the API
        answers a repeat with its first answer, so a retry never starts a second run."""
        key = uuid.uuid4().hex
        for attempt in range(attempts):
            try:
                return self.request("POST", path, json=json, headers={"Idempotency-Key": key})
            except ApiUnavailable:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def publish(self, pub: str, offer: str, emails: str) -> str:
        body = {"metadata": {"notification-emails": emails}}
        return str(self.command(self._offer(pub, offer, "/publish"), body).headers.get("Location", ""))

    def golive(self, pub: str, offer: str) -> str:
        return str(self.command(self._offer(pub, offer, "/golive")).headers.get("Location", ""))

    def cancel(self, pub: str, offer: str) -> Reply:
        return self.command(self._offer(pub, offer, "/cancel"), {})

    def submissions(self, pub: str, offer: str, status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status} if status else None
        return list(self.request("GET", self._offer(pub, offer, "/submissions"), params=params).body or [])

    def history(self, pub: str, offer: str) -> list[dict[str, Any]]:
        return list(self.request("GET", self._offer(pub, offer, "/history")).body or [])

    def staging_console(self, pub: str, offer: str, run_id: str, plan: str | None) -> str:
        """The console log of a plan's staging boot, as text (the API answers it as text/plain)."""
        path = self._offer(pub, offer, f"/operations/{quote(run_id, safe='')}/staging/console")
        reply = self.request("GET", path, params={"plan": plan} if plan else None, headers={"Accept": "text/plain"},
                             text=True)
        return str(reply.body or "")

    def add_version(self, pub: str, offer: str, plan: str, version: str, body: dict[str, Any]) -> Reply:
        """PUT one image version; 201 created, 200 already identical, 409 returned (not raised): differs."""
        path = self._offer(pub, offer, f"/plans/{quote(plan, safe='')}/versions/{quote(version, safe='')}")
        return self.request("PUT", path, json=body, ok=(409,))

    def open_support(self, pub: str, offer: str, title: str, description: str, run_id: str | None) -> Any:
        body: dict[str, Any] = {"title": title, "description": description}
        if run_id:
            body["runId"] = run_id
        return self.request("POST", self._offer(pub, offer, "/support"), json=body).body

    # --- admin ------------------------------------------------------------------------------------

    def create_publisher(self, publisher_id: str, name: str | None) -> Any:
        body = {"publisherId": publisher_id, "displayName": name or publisher_id}
        return self.request("POST", "/admin/publishers", json=body, admin=True).body

    def list_publishers(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/admin/publishers", admin=True).body or [])

    def create_token(self, publisher_id: str, name: str | None) -> dict[str, Any]:
        path = f"/admin/publishers/{quote(publisher_id, safe='')}/tokens"
        return dict(self.request("POST", path, json={"name": name or "cli"}, admin=True).body or {})

    def list_tokens(self, publisher_id: str) -> list[dict[str, Any]]:
        path = f"/admin/publishers/{quote(publisher_id, safe='')}/tokens"
        return list(self.request("GET", path, admin=True).body or [])

    def revoke_token(self, token_id: str) -> None:
        self.request("DELETE", f"/admin/tokens/{quote(token_id, safe='')}", admin=True)
