"""Test support for the egress policy: local servers that stand for public ones, and what was connected to.

The policy refuses every address on this machine unless named, so a test that needs a *public* server (a CDN
answering 403, a redirect from a public host to loopback) gives a name a public address through the policy's
resolver (``public_policy``) and ``PublicNet`` carries connections to that address to a local port instead.
It patches httpcore's own backends, beneath the egress backends: the pinned address the egress code chose is
what ``PublicNet.connects`` records, so tests also see that no second lookup happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpcore
import pytest

from offerflow_shared.egress_policy import EgressPolicy

PUBLIC_IP = "93.184.216.34"  # a globally routable address; nothing here ever connects to it for real


@dataclass
class PublicNet:
    """Connections to ``PUBLIC_IP:port`` go to ``127.0.0.1:port``; every connect is recorded (host, port)."""

    connects: list[tuple[str, int]] = field(default_factory=list)

    def target(self, host: str, port: int) -> tuple[str, int]:
        self.connects.append((host, port))
        return ("127.0.0.1", port) if host == PUBLIC_IP else (host, port)


def public_net(monkeypatch: pytest.MonkeyPatch) -> PublicNet:
    """Install ``PublicNet`` for one test (undone with its monkeypatch)."""
    net = PublicNet()
    sync_connect, async_connect = httpcore.SyncBackend.connect_tcp, httpcore.AnyIOBackend.connect_tcp

    def connect(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        return sync_connect(self, *net.target(host, port), *args, **kwargs)

    async def aconnect(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        return await async_connect(self, *net.target(host, port), *args, **kwargs)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect)
    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", aconnect)
    return net


def public_policy(names: Mapping[str, list[str]], **kwargs: Any) -> EgressPolicy:
    """A policy whose resolver answers ``names`` itself and asks the system for anything else."""
    from offerflow_shared.egress_policy import system_resolver

    def resolve(host: str, port: int) -> list[str]:
        return list(names[host]) if host in names else system_resolver(host, port)

    return EgressPolicy(resolver=resolve, **kwargs)


# Local test servers named as egress exceptions, as the dev stack names its own endpoints (exact host:port).
_NAMED: set[tuple[str, int]] = set()


def name_local(url: str) -> str:
    """Name the host:port of ``url`` (a server this test started) as an exception; returns ``url``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    assert parts.hostname is not None
    _NAMED.add((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)))
    return url


def named_policy(named: bool = True) -> EgressPolicy:
    """The servers named so far (``named``), or no exception at all: the production policy."""
    return EgressPolicy(allowed=frozenset(_NAMED) if named else frozenset())
