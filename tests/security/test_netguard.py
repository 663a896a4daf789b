"""The one egress policy on its own (offerflow_shared.egress_policy, offerflow_shared.egress): addresses in every
notation, named and denied endpoints, the file:// rule, and the pinned connection (no DNS rebinding window)."""

from __future__ import annotations

import os
from pathlib import Path

import httpcore
import pytest

from offerflow_shared import egress
from offerflow_shared.egress_policy import (
    NOT_ALLOWED,
    EgressError,
    EgressPolicy,
    address_problem,
    is_public_address,
)
from offerflow_shared.settings import CommonSettings

BLOCKED = ("127.0.0.1", "127.8.9.10", "::1", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
           "fc00::1", "fd12:3456::1", "169.254.169.254", "fe80::1", "fe80::1%eth0", "0.0.0.0", "::",
           "224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1", "100.64.0.1", "192.0.2.1", "198.18.0.1",
           "240.0.0.1", "255.255.255.255",
           # IPv6 forms that carry an inward IPv4 address: mapped, compatible, 6to4, NAT64.
           "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "::a00:1", "2002:7f00:1::1", "64:ff9b::a9fe:a9fe",
           "not-an-ip")


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_problem(address) is not None
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ("8.8.8.8", "1.1.1.1", "172.32.0.1", "2001:4860:4860::8888",
                                     "64:ff9b::808:808", "2002:808:808::1"))
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(address) is None


# Every notation the socket layer accepts for loopback or the metadata endpoint; resolved by getaddrinfo.
NOTATIONS = ("127.0.0.1", "2130706433", "0x7f000001", "127.1", "0177.0.0.1", "0x7f.0.0.1", "[::1]", "::1",
             "localhost", "::ffff:127.0.0.1", "169.254.169.254", "2852039166", "0xa9fea9fe", "0.0.0.0", "0")


@pytest.mark.parametrize("host", NOTATIONS)
def test_every_notation_of_an_inward_host_is_refused(host: str) -> None:
    with pytest.raises(EgressError) as err:
        EgressPolicy().addresses(host, 80)
    assert err.value.refused and err.value.message == NOT_ALLOWED


def test_a_name_with_one_inward_address_is_refused() -> None:
    mixed = EgressPolicy(resolver=lambda host, port: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(EgressError, match=r"^the URL is not allowed$"):
        mixed.addresses("mixed.example", 443)
    assert EgressPolicy(resolver=lambda h, p: ["93.184.216.34"]).addresses("public.example", 443) == ["93.184.216.34"]


def test_a_name_that_does_not_resolve_could_not_be_fetched() -> None:
    with pytest.raises(EgressError) as err:
        EgressPolicy().addresses("no-such-host.invalid", 443)
    assert not err.value.refused and err.value.message == "could not be fetched"


def test_named_endpoints_are_exact_host_and_port() -> None:
    policy = EgressPolicy(allowed=frozenset({("127.0.0.1", 9101)}))
    assert policy.addresses("127.0.0.1", 9101) == ["127.0.0.1"]
    assert policy.addresses("2130706433", 9101) == ["127.0.0.1"]  # the same address, another notation
    for host, port in (("127.0.0.1", 9102), ("127.0.0.2", 9101), ("::1", 9101)):
        with pytest.raises(EgressError, match=NOT_ALLOWED):
            policy.addresses(host, port)


def test_the_platform_database_and_brokers_are_refused_even_when_named() -> None:
    common = CommonSettings(database_dsn="postgresql://app:pw@127.0.0.1:55432/offerflow",
                            kafka_bootstrap="127.0.0.1:19092,kafka-2.internal:9092",
                            egress_allowed_endpoints=frozenset({"127.0.0.1:55432", "127.0.0.1:19092",
                                                                "127.0.0.1:9101"}))
    policy = EgressPolicy.from_settings(common)
    assert ("127.0.0.1", 55432) in policy.denied and ("kafka-2.internal", 9092) in policy.denied
    for host, port in (("127.0.0.1", 55432), ("localhost", 55432), ("2130706433", 55432), ("127.0.0.1", 19092)):
        with pytest.raises(EgressError, match=NOT_ALLOWED):
            policy.addresses(host, port)
    assert policy.addresses("127.0.0.1", 9101) == ["127.0.0.1"]


def test_a_public_database_host_is_refused_when_it_is_ours() -> None:
    public_db = EgressPolicy(denied=frozenset({("db.offerflow.example", 5432)}),
                             resolver=lambda host, port: ["93.184.216.40"])
    with pytest.raises(EgressError, match=NOT_ALLOWED):
        public_db.addresses("db-alias.example", 5432)  # another name of the same address
    assert public_db.addresses("db-alias.example", 5433) == ["93.184.216.40"]


# --- file:// ---------------------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for publisher in ("alice", "bob"):
        (tmp_path / "root" / publisher).mkdir(parents=True)
    (tmp_path / "root" / "alice" / "logo.png").write_bytes(b"alice's")
    return tmp_path / "root"


def test_file_urls_need_a_root_and_stay_in_the_publishers_folder(files: Path) -> None:
    alice_logo = (files / "alice" / "logo.png").as_uri()
    policy = EgressPolicy(file_root=files)
    assert policy.file_path(alice_logo, "alice") == files / "alice" / "logo.png"
    refused = [
        (EgressPolicy(), alice_logo, "alice"),  # no root: production
        (policy, alice_logo, "bob"),  # another publisher's file
        (policy, (files / "bob" / ".." / "alice" / "logo.png").as_uri(), "bob"),
        (policy, "file:///etc/shadow", "alice"),
        (policy, "file:///etc/passwd", "alice"),
        (policy, (files / "alice").as_uri(), "alice"),  # the folder itself
        (policy, f"file://server{files}/alice/logo.png", "alice"),
        (policy, alice_logo, ".."), (policy, alice_logo, "a/b"), (policy, alice_logo, None),
    ]
    for pol, url, publisher in refused:
        with pytest.raises(EgressError, match=NOT_ALLOWED):
            pol.file_path(url, publisher)


def test_a_symlink_out_of_the_folder_is_refused(files: Path) -> None:
    os.symlink(files / "alice" / "logo.png", files / "bob" / "mine.png")
    os.symlink("/etc", files / "bob" / "etc")
    policy = EgressPolicy(file_root=files)
    for url in ((files / "bob" / "mine.png").as_uri(), (files / "bob" / "etc" / "hostname").as_uri()):
        with pytest.raises(EgressError, match=NOT_ALLOWED):
            policy.file_path(url, "bob")


# --- the pinned connection ----------------------------------------------------------------------------


class Recording(httpcore.NetworkBackend):
    """Records where a connection was asked to go, and fails it (nothing real is contacted)."""

    def __init__(self) -> None:
        self.targets: list[tuple[str, int]] = []

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: object = None) -> httpcore.NetworkStream:
        self.targets.append((host, port))
        raise httpcore.ConnectError("recorded")


def test_dns_rebinding_connects_to_the_checked_address_only() -> None:
    """A resolver that answers a public address first and loopback next: the check and the connection use the
    one answer, so the loopback answer is never asked for, let alone connected to."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    inner = Recording()
    backend = egress.PinnedBackend(EgressPolicy(resolver=rebinding), inner)
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp("rebind.example", 443)
    assert inner.targets == [("93.184.216.34", 443)] and asked == ["rebind.example"]
    # The next connection resolves again and is checked again: now refused before any connect.
    with pytest.raises(EgressError, match=NOT_ALLOWED):
        backend.connect_tcp("rebind.example", 443)
    assert inner.targets == [("93.184.216.34", 443)]


async def test_the_async_backend_pins_too() -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    class AsyncRecording(httpcore.AsyncNetworkBackend):
        targets: list[tuple[str, int]] = []

        async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                              local_address: str | None = None,
                              socket_options: object = None) -> httpcore.AsyncNetworkStream:
            self.targets.append((host, port))
            raise httpcore.ConnectError("recorded")

    inner = AsyncRecording()
    backend = egress.AsyncPinnedBackend(EgressPolicy(resolver=lambda h, p: next(answers)), inner)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("rebind.example", 443)
    with pytest.raises(EgressError, match=NOT_ALLOWED):
        await backend.connect_tcp("rebind.example", 443)
    assert inner.targets == [("93.184.216.34", 443)]


def test_schemes_and_unix_sockets() -> None:
    policy = EgressPolicy(allowed=frozenset({("127.0.0.1", 9101)}))
    for url in ("file:///etc/passwd", "gopher://127.0.0.1:6379/_x", "ftp://example.com/", "https:///nohost",
                "http://example.com:99999/", "http://public.example/"):
        with pytest.raises(EgressError, match=NOT_ALLOWED):
            egress.check_url(policy, url, ("https",))
    assert egress.check_url(policy, "http://127.0.0.1:9101/x", ("https",)) == ("127.0.0.1", 9101)
    with pytest.raises(EgressError, match=NOT_ALLOWED):
        egress.PinnedBackend(policy).connect_unix_socket("/var/run/docker.sock")
