"""The shared disk source: a real TLS server on 127.0.0.1 (its own CA), httpx MockTransport for the HTTP cases,
files, and the in-memory fake."""

from __future__ import annotations

import hashlib
import ssl
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from offerflow_shared import netguard
from offerflow_shared.sources import (
    MemoryDiskSource,
    SourceNotAllowed,
    SourceTooLarge,
    SourceUnreadable,
    UnsupportedSource,
    UrlDiskSource,
    local_path,
    redact,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy/dev"))
import devtls

BODY = bytes(range(256)) * 2048  # 512 KiB
SECRET = "X-Amz-Signature=deadbeefSECRET"


class Handler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        Handler.hits.append(self.path)
        if self.path.startswith("/hop"):
            self.send_response(302)
            self.send_header("Location", "/disk.vhd?" + SECRET)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An https server on 127.0.0.1 whose certificate is signed by a CA made here (not publicly trusted)."""
    tls = devtls.ensure(tmp_path_factory.mktemp("tls"))  # the dev stack's own CA maker, a fresh CA here
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", tls.ca_file
    httpd.shutdown()
    httpd.server_close()


def test_https_is_streamed_through_the_trusted_ca_and_counted(tls_server: tuple[str, Path]) -> None:
    base, ca = tls_server
    source = UrlDiskSource(max_bytes=1 << 20, chunk_bytes=64 * 1024, allow_private=True, ca_file=ca)
    with source.open(f"{base}/hop?{SECRET}") as stream:
        first = stream.read(1000)
        rest = stream.read()
    assert hashlib.sha256(first + rest).digest() == hashlib.sha256(BODY).digest()
    assert (source.counter.opens, source.counter.bytes_read) == (1, len(BODY))


def test_an_untrusted_certificate_is_refused_without_the_ca(tls_server: tuple[str, Path]) -> None:
    base, _ = tls_server
    source = UrlDiskSource(max_bytes=1 << 20, allow_private=True)
    with pytest.raises(SourceUnreadable, match="ConnectError") as err:
        source.open(f"{base}/disk.vhd?{SECRET}")
    assert "SECRET" not in str(err.value)
    assert source.counter.bytes_read == 0


def test_loopback_is_refused_before_any_request_unless_allowed(tls_server: tuple[str, Path]) -> None:
    base, ca = tls_server
    Handler.hits.clear()
    strict = UrlDiskSource(max_bytes=1 << 20, ca_file=ca)
    with pytest.raises(SourceNotAllowed, match="non-public") as err:
        strict.open(f"{base}/disk.vhd?{SECRET}")
    assert "SECRET" not in str(err.value) and Handler.hits == []
    with pytest.raises(SourceNotAllowed, match="http:// disk URLs are not allowed"):
        strict.open("http://blob.example/disk.vhd")


def _mock(handler: httpx.MockTransport, **kw: object) -> UrlDiskSource:
    return UrlDiskSource(**{"max_bytes": 1000, "chunk_bytes": 4096, "allow_private": True,  # type: ignore[arg-type]
                            "transport": handler, **kw})


def test_size_limit_holds_for_declared_and_undeclared_lengths() -> None:
    declared = _mock(httpx.MockTransport(lambda r: httpx.Response(200, content=b"x" * 2000)))
    with pytest.raises(SourceTooLarge, match="2000 bytes, over the limit of 1000"):
        declared.open("https://blob.example/d.vhd")

    def chunked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b"x" * 600, b"y" * 600]))  # no Content-Length

    stream = _mock(httpx.MockTransport(chunked)).open("https://blob.example/d.vhd")
    with pytest.raises(SourceTooLarge, match="over the limit of 1000"):
        stream.read()


@pytest.mark.parametrize(("status", "transient"), [(403, False), (404, False), (503, True), (429, True)])
def test_http_errors_are_typed_and_redacted(status: int, transient: bool) -> None:
    source = _mock(httpx.MockTransport(lambda r: httpx.Response(status)))
    with pytest.raises(SourceUnreadable, match=f"HTTP {status}") as err:
        source.open(f"https://blob.example/d.vhd?{SECRET}")
    assert err.value.transient is transient
    assert "SECRET" not in str(err.value) and "https://blob.example/d.vhd" in str(err.value)


def test_every_redirect_hop_is_checked_and_hops_are_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    def redirect(request: httpx.Request) -> httpx.Response:
        if request.url.host == "public.example":
            return httpx.Response(302, headers={"Location": "https://inward.example/meta"})
        return httpx.Response(200, content=b"secret metadata")

    monkeypatch.setattr(netguard, "resolve_blocking",
                        lambda host, port: {"10.0.0.9"} if host == "inward.example" else {"93.184.216.34"})
    strict = _mock(httpx.MockTransport(redirect), allow_private=False)
    with pytest.raises(SourceNotAllowed, match=r"10\.0\.0\.9"):
        strict.open("https://public.example/d.vhd")
    to_http = _mock(httpx.MockTransport(lambda r: httpx.Response(302, headers={"Location": "http://public.example/"})),
                    allow_private=False)
    with pytest.raises(SourceNotAllowed, match="only https://"):
        to_http.open("https://public.example/d.vhd")
    loop = _mock(httpx.MockTransport(lambda r: httpx.Response(302, headers={"Location": "/again"})))
    with pytest.raises(SourceUnreadable, match="redirects more than"):
        loop.open("https://blob.example/d.vhd")


def test_a_connection_cut_mid_body_is_a_transient_read_error() -> None:
    def cut() -> Iterator[bytes]:
        yield b"x" * 100
        raise httpx.ReadError("connection reset")

    stream = _mock(httpx.MockTransport(lambda r: httpx.Response(200, content=cut()))).open("https://b.example/d.vhd")
    with pytest.raises(SourceUnreadable, match="ReadError") as err:
        stream.read()
    assert err.value.transient


def test_files_only_where_allowed_and_bounded(tmp_path: Path) -> None:
    disk = tmp_path / "disk image.vhd"
    disk.write_bytes(b"abc" * 100)
    url = disk.as_uri()
    assert local_path(url) == disk and local_path("file://server/share/x.vhd") is None
    with pytest.raises(SourceNotAllowed, match="file:// disk URLs are not allowed"):
        UrlDiskSource(max_bytes=1000).open(url)
    source = UrlDiskSource(max_bytes=1000, allow_file=True)
    with source.open(url) as f:
        assert f.read() == b"abc" * 100
    with pytest.raises(SourceTooLarge, match="300 bytes, over the limit of 100"):
        UrlDiskSource(max_bytes=100, allow_file=True).open(url)
    with pytest.raises(SourceUnreadable, match="No such file"):
        source.open((tmp_path / "gone.vhd").as_uri())
    with pytest.raises(UnsupportedSource, match="remote host"):
        source.open("file://server/share/x.vhd")
    with pytest.raises(UnsupportedSource, match="ftp://"):
        source.open("ftp://example.com/x.vhd?sig=SECRET")


def test_the_fake_counts_opens_and_bytes() -> None:
    fake = MemoryDiskSource({"https://b.example/d.vhd?sig=1": BODY}, chunk_bytes=1000)
    with fake.open("https://b.example/d.vhd?sig=1") as f:
        assert f.read(10) == BODY[:10]
    assert fake.counter.bytes_read >= 10 and fake.counter.bytes_read < len(BODY)  # streamed, not read whole
    with fake.open("https://b.example/d.vhd?sig=1") as f:
        assert f.read() == BODY
    assert fake.opened == ["https://b.example/d.vhd?sig=1"] * 2 and fake.counter.opens == 2
    with pytest.raises(SourceUnreadable) as err:
        fake.open("https://b.example/other.vhd?sig=SECRET")
    assert "SECRET" not in str(err.value)
    with pytest.raises(SourceTooLarge):
        MemoryDiskSource({"u": b"x" * 10}, max_bytes=5).open("u")


def test_redact_keeps_the_path_and_drops_the_signature() -> None:
    assert redact(f"https://h.example:8443/a/b.vhd?{SECRET}#frag") == "https://h.example:8443/a/b.vhd"
