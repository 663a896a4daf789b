"""Which outbound targets a worker may contact: the address rule, named exceptions, refused endpoints, file://.

An offer is written by a stranger, and every URL in it (logos, screenshots, disk images, lead destinations) is
contacted by a worker inside the platform's network. ``EgressPolicy`` is the one rule for all of them:

- A host is resolved once with ``getaddrinfo`` (the rules the connection itself uses, so ``2130706433``,
  ``0x7f000001``, ``127.1`` and ``0177.0.0.1`` all mean 127.0.0.1) and every address must be globally routable
  unicast. Loopback, private, link-local (the cloud metadata endpoint 169.254.169.254), CGNAT, multicast,
  reserved, unspecified, and IPv6 forms that embed an IPv4 address (mapped, compatible, 6to4, NAT64) of such a
  range are refused. ``egress.py`` then connects to exactly the checked address (no second lookup).
- ``allowed`` names host:port exceptions (the development stack's object stores, a dev CRM): never a blanket
  "allow private".
- ``denied`` host:port pairs are refused whatever else applies: the platform's own database and Kafka brokers.
- ``file://`` only when ``file_root`` is set (development), and only under ``<file_root>/<publisher id>/``.

Refusals raise ``EgressError`` with the one message "the URL is not allowed"; network failures elsewhere say
"could not be fetched". Neither names the address, the network error or anything else about the target.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

if TYPE_CHECKING:
    from offerflow_shared.settings import CommonSettings

NOT_ALLOWED = "the URL is not allowed"
NOT_FETCHED = "could not be fetched"

Resolver = Callable[[str, int], Sequence[str]]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPAT = ipaddress.ip_network("::/96")


class EgressError(Exception):
    """An outbound fetch failed. ``refused``: the target is not allowed; else it could not be fetched.

    ``message`` is what a publisher may read: one of two fixed phrases, plus an HTTP status only when a public
    server answered with it. ``transient`` says whether trying again later may help.
    """

    def __init__(self, message: str, *, refused: bool, transient: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.message, self.refused, self.transient, self.status = message, refused, transient, status


def refused() -> EgressError:
    return EgressError(NOT_ALLOWED, refused=True)


def not_fetched(*, transient: bool = True, status: int | None = None, hint: str = "") -> EgressError:
    shown = f"{NOT_FETCHED} (HTTP {status}{hint})" if status is not None else NOT_FETCHED
    return EgressError(shown, refused=False, transient=transient, status=status)


def address_problem(address: str) -> str | None:
    """What kind of non-public address this is (``"loopback"``, …), or None for a public unicast one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_v4(ip)
        if embedded is not None:
            return address_problem(str(embedded))
        if ip in _COMPAT:
            return "reserved"
    for kind, flag in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if flag:
            return kind
    if not ip.is_global:
        return "not globally routable"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, 6to4, NAT64): it is judged instead."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _COMPAT and int(ip) > 0xFFFF):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(address: str) -> bool:
    return address_problem(address) is None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address of ``host`` as the socket layer sees it (numeric forms included), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _host_port(entry: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` → (host, port); ValueError names the expected shape."""
    parts = urlsplit(f"//{entry.strip()}")
    if not parts.hostname or parts.port is None:
        raise ValueError(f"{entry!r} is not host:port")
    return parts.hostname, parts.port


def parse_endpoints(entries: Iterable[str]) -> frozenset[tuple[str, int]]:
    return frozenset(_host_port(e) for e in entries if e.strip())


def dsn_endpoint(dsn: str, default_port: int = 5432) -> tuple[str, int] | None:
    """host:port of a database URL (the platform's own database is never an egress target)."""
    try:
        parts = urlsplit(dsn)
        return (parts.hostname, parts.port or default_port) if parts.hostname else None
    except ValueError:
        return None


@dataclass(frozen=True)
class EgressPolicy:
    allowed: frozenset[tuple[str, int]] = frozenset()
    denied: frozenset[tuple[str, int]] = frozenset()
    file_root: Path | None = None
    # Tests inject a resolver (DNS rebinding); everything else uses getaddrinfo.
    resolver: Resolver = field(default=system_resolver, compare=False, repr=False)

    @classmethod
    def from_settings(cls, common: CommonSettings) -> EgressPolicy:
        denied = set(parse_endpoints(common.egress_denied_endpoints))
        denied |= parse_endpoints(b for b in common.kafka_bootstrap.split(",") if ":" in b)
        if (db := dsn_endpoint(common.database_dsn)) is not None:
            denied.add(db)
        return cls(allowed=parse_endpoints(common.egress_allowed_endpoints), denied=frozenset(denied),
                   file_root=common.file_url_root)

    def is_named(self, host: str, port: int) -> bool:
        """Whether the URL's own host:port is a configured exception (checked without resolving)."""
        return (host.lower().strip("[]"), port) in self._allowed_literal

    @property
    def _allowed_literal(self) -> frozenset[tuple[str, int]]:
        return frozenset((h.lower(), p) for h, p in self.allowed)

    def _addresses(self, endpoints: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
        out: set[tuple[str, int]] = set()
        for host, port in endpoints:
            try:
                out |= {(_canonical(a), port) for a in self.resolver(host, port)}
            except (OSError, UnicodeError):
                continue  # an exception that does not resolve allows (or denies) nothing more
        return out

    def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses to connect to (in resolver order), or EgressError "not allowed".

        Every address must be acceptable, not just one: a name with one public and one inward address could
        otherwise be used against the inward one."""
        try:
            found = [_canonical(a) for a in self.resolver(host.strip("[]"), port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise not_fetched(transient=True) from exc
        if not found:
            raise not_fetched(transient=True)
        denied = self._addresses(self.denied)
        allowed = self._addresses(self.allowed)
        for address in found:
            if (address, port) in denied:
                raise refused()
            if (address, port) not in allowed and address_problem(address) is not None:
                raise refused()
        return found

    def file_path(self, url: str, publisher: str | None) -> Path:
        """The real path of a ``file://`` URL under ``<file_root>/<publisher>/``, or EgressError "not allowed".

        Symlinks and ``..`` are resolved first, so neither can lead out of the publisher's own folder."""
        if self.file_root is None or not publisher or publisher in (".", "..") or "/" in publisher \
                or "\\" in publisher or "\0" in publisher:
            raise refused()
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise refused() from exc
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost") or "\0" in parts.path:
            raise refused()
        base = (self.file_root / publisher).resolve()
        try:
            path = Path(url2pathname(unquote(parts.path))).resolve()
        except (OSError, RuntimeError, ValueError) as exc:
            raise refused() from exc
        if not path.is_relative_to(base) or path == base:
            raise refused()
        return path


def _canonical(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return address
