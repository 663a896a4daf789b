from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from offerflow_validation.adapters.artifacts import (
    ArtifactError,
    FileFetcher,
    HttpFetcher,
    MemoryFetcher,
    SchemeRouter,
)


async def test_file_fetcher_reads_local_files(tmp_path: Path) -> None:
    path = tmp_path / "a logo.png"
    path.write_bytes(b"png")
    assert await FileFetcher().fetch(path.as_uri()) == b"png"


@pytest.mark.parametrize("url", ["file://remote.example/etc/passwd", "https://x.example/a.png"])
async def test_file_fetcher_refuses_remote_or_other_schemes(url: str) -> None:
    with pytest.raises(ArtifactError, match="not a local file"):
        await FileFetcher().fetch(url)


async def test_file_fetcher_missing_and_too_big(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        await FileFetcher().fetch((tmp_path / "none.png").as_uri())
    (tmp_path / "big.png").write_bytes(b"x" * 2048)
    with pytest.raises(ArtifactError, match="larger than 1024 bytes"):
        await FileFetcher(max_bytes=1024).fetch((tmp_path / "big.png").as_uri())


def http(handler: httpx.MockTransport, **kw: float) -> HttpFetcher:
    return HttpFetcher(httpx.AsyncClient(transport=handler), max_bytes=1024, **kw)  # type: ignore[arg-type]


async def test_http_fetcher_reads_the_body() -> None:
    fetcher = http(httpx.MockTransport(lambda r: httpx.Response(200, content=b"png")))
    assert await fetcher.fetch("https://cdn.example/a.png") == b"png"


async def test_http_fetcher_errors_never_show_the_query() -> None:
    fetcher = http(httpx.MockTransport(lambda r: httpx.Response(403)))
    with pytest.raises(ArtifactError) as caught:
        await fetcher.fetch("https://cdn.example/a.png?sig=SECRET")
    assert "HTTP 403" in str(caught.value) and "SECRET" not in str(caught.value)


async def test_http_fetcher_stops_at_the_size_limit() -> None:
    fetcher = http(httpx.MockTransport(lambda r: httpx.Response(200, content=b"x" * 5000)))
    with pytest.raises(ArtifactError, match="larger than"):
        await fetcher.fetch("https://cdn.example/a.png")


async def test_http_fetcher_connection_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ArtifactError, match="ConnectError"):
        await http(httpx.MockTransport(refuse)).fetch("https://cdn.example/a.png")


async def test_http_fetcher_deadline() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    with pytest.raises(ArtifactError, match="did not answer"):
        await http(httpx.MockTransport(slow), timeout=0.05).fetch("https://cdn.example/a.png")


async def test_router_by_scheme() -> None:
    router = SchemeRouter({"https": MemoryFetcher({"https://a.example/x.png": b"x"})})
    assert await router.fetch("https://a.example/x.png") == b"x"
    with pytest.raises(ArtifactError, match="unsupported URL scheme; use https://"):
        await router.fetch("ftp://a.example/x.png")
