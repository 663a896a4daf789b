from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from offerflow_shared.egress_policy import EgressPolicy
from offerflow_validation.adapters.artifacts import (
    ArtifactError,
    FileFetcher,
    HttpFetcher,
    MemoryFetcher,
    SchemeRouter,
)


def files(tmp_path: Path, **kw: int) -> FileFetcher:
    (tmp_path / "p1").mkdir(exist_ok=True)
    return FileFetcher(EgressPolicy(file_root=tmp_path), **kw)


async def test_file_fetcher_reads_the_publishers_own_files(tmp_path: Path) -> None:
    path = tmp_path / "p1" / "a logo.png"
    files(tmp_path)
    path.write_bytes(b"png")
    assert await files(tmp_path).fetch(path.as_uri(), "p1") == b"png"
    with pytest.raises(ArtifactError, match="the URL is not allowed"):
        await files(tmp_path).fetch(path.as_uri(), "p2")


@pytest.mark.parametrize("url", ["file://remote.example/etc/passwd", "https://x.example/a.png", "file:///etc/passwd"])
async def test_file_fetcher_refuses_remote_other_schemes_and_other_folders(url: str, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="the URL is not allowed"):
        await files(tmp_path).fetch(url, "p1")


async def test_file_fetcher_missing_and_too_big(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="could not be fetched"):
        await files(tmp_path).fetch((tmp_path / "p1" / "none.png").as_uri(), "p1")
    (tmp_path / "p1" / "big.png").write_bytes(b"x" * 2048)
    with pytest.raises(ArtifactError, match="larger than 1024 bytes"):
        await files(tmp_path, max_bytes=1024).fetch((tmp_path / "p1" / "big.png").as_uri(), "p1")


def http(handler: httpx.MockTransport, **kw: float) -> HttpFetcher:
    # The mock transport stands for a public server: the body rules are tested here, the egress rules with real
    # connections in tests/security.
    return HttpFetcher(EgressPolicy(), client=httpx.AsyncClient(transport=handler), max_bytes=1024,
                       **kw)  # type: ignore[arg-type]


async def test_http_fetcher_reads_the_body() -> None:
    fetcher = http(httpx.MockTransport(lambda r: httpx.Response(200, content=b"png")))
    assert await fetcher.fetch("https://cdn.example/a.png") == b"png"


async def test_http_fetcher_errors_never_show_the_query() -> None:
    fetcher = http(httpx.MockTransport(lambda r: httpx.Response(403)))
    with pytest.raises(ArtifactError) as caught:
        await fetcher.fetch("https://cdn.example/a.png?sig=SECRET")
    assert "could not be fetched (HTTP 403" in str(caught.value) and "SECRET" not in str(caught.value)


async def test_http_fetcher_stops_at_the_size_limit() -> None:
    fetcher = http(httpx.MockTransport(lambda r: httpx.Response(200, content=b"x" * 5000)))
    with pytest.raises(ArtifactError, match="larger than"):
        await fetcher.fetch("https://cdn.example/a.png")


async def test_http_fetcher_connection_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ArtifactError) as caught:
        await http(httpx.MockTransport(refuse)).fetch("https://cdn.example/a.png")
    assert str(caught.value) == "https://cdn.example/a.png could not be fetched"  # no error class


async def test_http_fetcher_deadline() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    with pytest.raises(ArtifactError, match="could not be fetched"):
        await http(httpx.MockTransport(slow), timeout=0.05).fetch("https://cdn.example/a.png")


async def test_router_by_scheme() -> None:
    router = SchemeRouter({"https": MemoryFetcher({"https://a.example/x.png": b"x"})})
    assert await router.fetch("https://a.example/x.png") == b"x"
    with pytest.raises(ArtifactError, match="the URL is not allowed"):
        await router.fetch("ftp://a.example/x.png")
