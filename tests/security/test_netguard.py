"""The shared SSRF rule (offerflow_shared.netguard) on its own: addresses, schemes, resolution."""

from __future__ import annotations

import pytest

from offerflow_shared import netguard

BLOCKED = ("127.0.0.1", "127.8.9.10", "::1", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
           "fc00::1", "fd12:3456::1", "169.254.169.254", "fe80::1", "fe80::1%eth0", "0.0.0.0", "::",
           "224.0.0.1", "239.255.255.250", "ff02::1", "100.64.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
           "not-an-ip")


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_named(address: str) -> None:
    assert netguard.address_problem(address) is not None
    assert not netguard.is_public_address(address)


@pytest.mark.parametrize("address", ("8.8.8.8", "1.1.1.1", "172.32.0.1", "2001:4860:4860::8888"))
def test_public_addresses_pass(address: str) -> None:
    assert netguard.address_problem(address) is None


@pytest.mark.parametrize("url", ("http://127.0.0.1/x", "https://localhost:8443/a?sig=SECRET",
                                 "http://[::1]:80/", "http://169.254.169.254/latest/meta-data/",
                                 "http://10.1.2.3/", "http://0.0.0.0:9092/", "http://[fe80::1]/",
                                 "http://2130706433/", "http://0x7f.1/"))
async def test_inward_urls_are_blocked_unless_allowed(url: str) -> None:
    with pytest.raises(netguard.BlockedTarget) as err:
        await netguard.check_url(url, allow_private=False)
    assert "non-public" in err.value.reason or "cannot be resolved" in err.value.reason
    assert "SECRET" not in err.value.reason  # query strings may carry signatures
    await netguard.check_url(url, allow_private=True)


@pytest.mark.parametrize("url", ("file:///etc/passwd", "gopher://127.0.0.1:6379/_x", "ftp://example.com/",
                                 "javascript:alert(1)", "dict://h/", "//no-scheme/", "http:///no-host"))
async def test_other_schemes_and_hostless_urls_are_always_blocked(url: str) -> None:
    for allow in (True, False):
        with pytest.raises(netguard.BlockedTarget):
            await netguard.check_url(url, allow_private=allow)


async def test_a_name_resolving_inward_is_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> set[str]:
        return {"93.184.216.34", "10.0.0.7"} if host == "mixed.example" else {"93.184.216.34"}

    monkeypatch.setattr(netguard, "resolve", resolve)
    with pytest.raises(netguard.BlockedTarget, match=r"10\.0\.0\.7"):
        await netguard.check_url("https://mixed.example/logo.png", allow_private=False)
    await netguard.check_url("https://public.example/logo.png", allow_private=False)


async def test_an_unresolvable_host_is_blocked() -> None:
    with pytest.raises(netguard.BlockedTarget, match="cannot be resolved"):
        await netguard.check_url("https://no-such-host.invalid/x", allow_private=False)


async def test_a_bad_port_is_blocked() -> None:
    with pytest.raises(netguard.BlockedTarget, match="not a valid URL"):
        await netguard.check_url("http://example.com:99999/", allow_private=False)
