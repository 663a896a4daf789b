"""Every outbound HTTP fetch of the platform goes through here: checked, pinned, redirects re-checked.

``client(policy)`` / ``async_client(policy)`` build httpx clients whose connection pool uses ``PinnedBackend``
/ ``AsyncPinnedBackend``: on each new connection the host is resolved once, every address is checked by the
``EgressPolicy`` (``egress_policy.py``) and the socket connects to exactly that checked address. There is no
second DNS lookup between the check and the connect, so a name that answers a public address first and a
loopback one next (DNS rebinding) cannot slip through. TLS still verifies the certificate against, and sends
SNI for, the URL's host name (httpcore passes it to ``start_tls`` separately from the address).

Proxies from the environment are ignored (``trust_env=False``): a proxy would make the connect target the
proxy and hide the real one from the check. Redirects are never followed by httpx; ``stream`` /
``stream_blocking`` follow at most ``MAX_REDIRECTS`` by hand, each hop's scheme checked again (its address is
checked on connect anyway, so a redirect to loopback is refused like a direct URL).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from offerflow_shared.egress_policy import (
    NOT_ALLOWED,
    NOT_FETCHED,
    EgressError,
    EgressPolicy,
    address_problem,
    is_public_address,
    not_fetched,
    refused,
)

__all__ = ["MAX_REDIRECTS", "NOT_ALLOWED", "NOT_FETCHED", "TRANSIENT_STATUS", "AsyncPinnedBackend", "EgressError",
           "EgressPolicy", "PinnedBackend", "address_problem", "async_client", "check_url", "client",
           "is_public_address", "stream", "stream_blocking"]

MAX_REDIRECTS = 5
WEB = ("http", "https")
# Answers that may change on their own: trying again later can succeed.
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_SocketOptions = Iterable[Any] | None
# httpx's own pool limits (httpx.Limits defaults), which the replaced pool would otherwise lose.
_LIMITS: dict[str, Any] = {"max_connections": 100, "max_keepalive_connections": 20, "keepalive_expiry": 5.0}


class PinnedBackend(httpcore.NetworkBackend):
    """httpcore's blocking backend, connecting only to addresses the policy accepted."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.NetworkBackend | None = None) -> None:
        self.policy, self.inner = policy, inner or httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: _SocketOptions = None) -> httpcore.NetworkStream:
        addresses = self.policy.addresses(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                              socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: _SocketOptions = None) -> httpcore.NetworkStream:
        raise refused()


class AsyncPinnedBackend(httpcore.AsyncNetworkBackend):
    """The asyncio counterpart of ``PinnedBackend`` (resolution runs in a worker thread)."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy, self.inner = policy, inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: _SocketOptions = None) -> httpcore.AsyncNetworkStream:
        addresses = await asyncio.to_thread(self.policy.addresses, host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: _SocketOptions = None) -> httpcore.AsyncNetworkStream:
        raise refused()

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


# httpx 0.28 has no parameter for httpcore's network backend, so the transports replace the pool they build
# (``_pool``, which nothing has connected yet) with one on the pinned backend, keeping httpx's TLS context.
class _Transport(httpx.HTTPTransport):
    def __init__(self, policy: EgressPolicy, verify: ssl.SSLContext | bool) -> None:
        super().__init__(verify=verify, trust_env=False)
        ctx = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._pool = httpcore.ConnectionPool(ssl_context=ctx, network_backend=PinnedBackend(policy), **_LIMITS)


class _AsyncTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: EgressPolicy, verify: ssl.SSLContext | bool) -> None:
        super().__init__(verify=verify, trust_env=False)
        ctx = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(ssl_context=ctx, network_backend=AsyncPinnedBackend(policy),
                                                  **_LIMITS)


def client(policy: EgressPolicy, *, verify: ssl.SSLContext | bool = True, **kwargs: Any) -> httpx.Client:
    """A blocking client whose every connection is checked and pinned (safe to share between threads)."""
    return httpx.Client(transport=_Transport(policy, verify), follow_redirects=False, trust_env=False, **kwargs)


def async_client(policy: EgressPolicy, *, verify: ssl.SSLContext | bool = True, **kwargs: Any) -> httpx.AsyncClient:
    """An asyncio client whose every connection is checked and pinned."""
    return httpx.AsyncClient(transport=_AsyncTransport(policy, verify), follow_redirects=False, trust_env=False,
                             **kwargs)


def check_url(policy: EgressPolicy, url: str, schemes: tuple[str, ...] = WEB) -> tuple[str, int]:
    """host and port of a web URL whose scheme is acceptable, else EgressError "not allowed".

    Plain ``http://`` where ``schemes`` asks for TLS is only accepted for a named endpoint (a dev store)."""
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)  # what the client will parse: a host it cannot take (``0177.0.0.1``) is refused here
    except (ValueError, httpx.InvalidURL) as exc:
        raise refused() from exc
    scheme = parts.scheme.lower()
    if scheme not in WEB or not parts.hostname:
        raise refused()
    port = port or (443 if scheme == "https" else 80)
    if scheme not in schemes and not policy.is_named(parts.hostname, port):
        raise refused()
    return parts.hostname, port


def _location(response: httpx.Response) -> str:
    """The next hop; a Location the client cannot even parse is refused like any other bad target."""
    try:
        return str(response.url.join(response.headers["location"]))
    except (ValueError, httpx.InvalidURL) as exc:
        raise refused() from exc


def _answer_error(status: int) -> EgressError:
    # Only a server the policy let us connect to (public, or an endpoint the deployment names as it would a
    # public one) can answer at all, so its status helps the publisher (403: an expired signature) and tells
    # nothing about a refused target: those never get a connection, whatever listens there.
    hint = " (an expired or wrong signature?)" if status in (401, 403) else ""
    return not_fetched(transient=status in TRANSIENT_STATUS, status=status, hint=hint)


@asynccontextmanager
async def stream(http: httpx.AsyncClient, policy: EgressPolicy, url: str, *,
                 schemes: tuple[str, ...] = WEB) -> AsyncIterator[httpx.Response]:
    """GET ``url`` following redirects by hand; yields a 2xx response whose body is not read yet."""
    target = url
    for _ in range(MAX_REDIRECTS + 1):
        check_url(policy, target, schemes)
        try:
            async with http.stream("GET", target) as response:
                if response.is_redirect and "location" in response.headers:
                    target = _location(response)
                    continue
                if not 200 <= response.status_code < 300:
                    raise _answer_error(response.status_code)
                yield response
                return
        except httpx.HTTPError as exc:
            raise not_fetched(transient=True) from exc
    raise not_fetched(transient=False)


def stream_blocking(http: httpx.Client, policy: EgressPolicy, url: str, *,
                    schemes: tuple[str, ...] = WEB) -> httpx.Response:
    """``stream`` for code in a worker thread: a 2xx streamed response the caller must close."""
    target = url
    for _ in range(MAX_REDIRECTS + 1):
        check_url(policy, target, schemes)
        try:
            response = http.send(http.build_request("GET", target), stream=True)
        except httpx.HTTPError as exc:
            raise not_fetched(transient=True) from exc
        if response.is_redirect and "location" in response.headers:
            response.close()
            target = _location(response)
            continue
        if not 200 <= response.status_code < 300:
            response.close()
            raise _answer_error(response.status_code)
        return response
    raise not_fetched(transient=False)
