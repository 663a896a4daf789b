"""The one rule for outbound URLs taken from offers (logos, disk images, lead endpoints): no SSRF.

An offer is written by a stranger; every URL in it is fetched by a worker inside the platform's network.
Unless a deployment opts in (``allow_private_targets``, meant for the embedded development stack), a URL
may only name a host whose every address is globally routable unicast: loopback, private (RFC 1918,
fc00::/7), link-local (169.254/16 with the cloud metadata endpoint, fe80::/10), CGNAT, unspecified,
reserved and multicast addresses are refused. The check resolves the name itself, so a public-looking
name that points inward is refused too. It runs again for every redirect hop (callers follow redirects
themselves). A name that resolves differently between the check and the connect (DNS rebinding) is not
covered here; that needs an egress proxy or firewall, which production should have anyway.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

WEB_SCHEMES = ("http", "https")


class BlockedTarget(Exception):
    """The URL may not be contacted; ``reason`` says why without repeating the query string."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def address_problem(address: str) -> str | None:
    """What kind of non-public address this is (``"loopback"``, …), or None for a public unicast one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, flag in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("private", ip.is_private)):
        if flag:
            return kind
    if not ip.is_global:
        return "not globally routable"
    return None


def is_public_address(address: str) -> bool:
    return address_problem(address) is None


def _shown(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
    except ValueError:
        return "<unparseable URL>"


async def resolve(host: str, port: int) -> set[str]:
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    return {str(info[4][0]) for info in infos}


def resolve_blocking(host: str, port: int) -> set[str]:
    return {str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}


async def check_host(host: str, port: int, *, allow_private: bool, shown: str | None = None) -> None:
    """Raises BlockedTarget unless every address of ``host`` is public (or private targets are allowed)."""
    if allow_private:
        return
    shown = shown or host
    try:
        addresses = await resolve(host.strip("[]"), port)
    except (OSError, UnicodeError) as exc:
        raise BlockedTarget(f"the host of {shown} cannot be resolved") from exc
    _check_addresses(addresses, shown)


def check_host_blocking(host: str, port: int, *, allow_private: bool, shown: str | None = None) -> None:
    """``check_host`` for code that already runs in a worker thread (blocking disk sources)."""
    if allow_private:
        return
    shown = shown or host
    try:
        addresses = resolve_blocking(host.strip("[]"), port)
    except (OSError, UnicodeError) as exc:
        raise BlockedTarget(f"the host of {shown} cannot be resolved") from exc
    _check_addresses(addresses, shown)


def _check_addresses(addresses: set[str], shown: str) -> None:
    if not addresses:
        raise BlockedTarget(f"the host of {shown} has no address")
    for address in sorted(addresses):
        problem = address_problem(address)
        if problem is not None:
            raise BlockedTarget(f"{shown} resolves to {address}: a non-public address ({problem})")


async def check_url(url: str, *, allow_private: bool, schemes: tuple[str, ...] = WEB_SCHEMES) -> None:
    """Raises BlockedTarget for a URL outside ``schemes``, without a host, or (unless allowed) not public."""
    host, port, shown = _target(url, schemes)
    await check_host(host, port, allow_private=allow_private, shown=shown)


def check_url_blocking(url: str, *, allow_private: bool, schemes: tuple[str, ...] = WEB_SCHEMES) -> None:
    """``check_url`` for code that already runs in a worker thread (blocking disk sources)."""
    host, port, shown = _target(url, schemes)
    check_host_blocking(host, port, allow_private=allow_private, shown=shown)


def _target(url: str, schemes: tuple[str, ...]) -> tuple[str, int, str]:
    shown = _shown(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedTarget(f"{shown} is not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise BlockedTarget(f"{shown}: only {' or '.join(s + '://' for s in schemes)} URLs are allowed")
    if not parts.hostname:
        raise BlockedTarget(f"{shown} has no host name")
    return parts.hostname, port or (443 if scheme == "https" else 80), shown
