"""The shared disk source: a real TLS server on 127.0.0.1 (its own CA), reached as a named endpoint or as a
"public" host (tests.egress_net), files under the policy's file root, and the in-memory fake."""

from __future__ import annotations

import hashlib
import ssl
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from offerflow_shared.egress_policy import EgressPolicy
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

from tests.egress_net import PUBLIC_IP, public_net, public_policy

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
        if self.path.startswith("/to/"):  # /to/<absolute URL>: a redirect anywhere
            self.send_response(302)
            self.send_header("Location", self.path[len("/to/"):])
            self.end_headers()
            return
        if self.path.startswith("/status/"):
            self.send_response(int(self.path.split("/")[2].split("?")[0]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/chunked"):  # no Content-Length: read until the connection closes
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(BODY)
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


def _named(base: str) -> EgressPolicy:
    port = int(base.rsplit(":", 1)[1])
    return EgressPolicy(allowed=frozenset({("127.0.0.1", port)}))


def test_https_is_streamed_through_the_trusted_ca_and_counted(tls_server: tuple[str, Path]) -> None:
    base, ca = tls_server
    source = UrlDiskSource(max_bytes=1 << 20, chunk_bytes=64 * 1024, policy=_named(base), ca_file=ca)
    with source.open(f"{base}/hop?{SECRET}") as stream:
        first = stream.read(1000)
        rest = stream.read()
    assert hashlib.sha256(first + rest).digest() == hashlib.sha256(BODY).digest()
    assert (source.counter.opens, source.counter.bytes_read) == (1, len(BODY))


def test_an_untrusted_certificate_is_refused_without_the_ca(tls_server: tuple[str, Path]) -> None:
    base, _ = tls_server
    source = UrlDiskSource(max_bytes=1 << 20, policy=_named(base))
    with pytest.raises(SourceUnreadable) as err:
        source.open(f"{base}/disk.vhd?{SECRET}")
    assert str(err.value) == f"{base}/disk.vhd could not be fetched"  # no error class, no certificate detail
    assert source.counter.bytes_read == 0


def test_loopback_is_refused_before_any_request_unless_named(tls_server: tuple[str, Path]) -> None:
    base, ca = tls_server
    Handler.hits.clear()
    strict = UrlDiskSource(max_bytes=1 << 20, ca_file=ca)
    with pytest.raises(SourceNotAllowed) as err:
        strict.open(f"{base}/disk.vhd?{SECRET}")
    assert str(err.value) == f"{base}/disk.vhd: the URL is not allowed" and Handler.hits == []
    with pytest.raises(SourceNotAllowed, match="the URL is not allowed"):
        strict.open("http://blob.example/disk.vhd")  # plain http only to a named endpoint


def test_a_public_host_shows_its_status_and_the_pinned_address_is_used(
        tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    base, ca = tls_server
    net = public_net(monkeypatch)
    port = int(base.rsplit(":", 1)[1])
    # "localhost" is in the server's certificate; the policy's resolver makes it a public host.
    names = {"localhost": [PUBLIC_IP], "blob.example": [PUBLIC_IP]}
    source = UrlDiskSource(max_bytes=1 << 20, policy=public_policy(names), ca_file=ca)
    for status, transient in ((403, False), (404, False), (503, True), (429, True)):
        with pytest.raises(SourceUnreadable, match=f"could not be fetched \\(HTTP {status}") as err:
            source.open(f"https://localhost:{port}/status/{status}?{SECRET}")
        assert err.value.transient is transient and "SECRET" not in str(err.value)
    # Connected to the pinned address, while TLS checked the certificate against the URL's name: the same
    # server under a name its certificate does not carry is refused.
    with pytest.raises(SourceUnreadable):
        source.open(f"https://blob.example:{port}/d.vhd")
    assert set(net.connects) == {(PUBLIC_IP, port)}


def test_a_named_endpoint_answers_like_a_public_one(tls_server: tuple[str, Path]) -> None:
    base, ca = tls_server
    with pytest.raises(SourceUnreadable) as err:
        UrlDiskSource(max_bytes=1 << 20, policy=_named(base), ca_file=ca).open(f"{base}/status/403")
    assert str(err.value) == f"{base}/status/403 could not be fetched (HTTP 403 (an expired or wrong signature?))"


def test_size_limit_holds_for_declared_and_undeclared_lengths(tls_server: tuple[str, Path]) -> None:
    base, ca = tls_server
    small = UrlDiskSource(max_bytes=1000, chunk_bytes=4096, policy=_named(base), ca_file=ca)
    with pytest.raises(SourceTooLarge, match=f"{len(BODY)} bytes, over the limit of 1000"):
        small.open(f"{base}/d.vhd")
    stream = small.open(f"{base}/chunked")
    with pytest.raises(SourceTooLarge, match="over the limit of 1000"):
        stream.read()


def test_every_redirect_hop_is_checked_and_hops_are_limited(tls_server: tuple[str, Path]) -> None:
    base, ca = tls_server
    source = UrlDiskSource(max_bytes=1 << 20, policy=_named(base), ca_file=ca)
    Handler.hits.clear()
    # The named endpoint redirects to loopback on another notation and port: refused at the second hop.
    for inward in ("https://[::1]:9/x", "https://localhost:9/x", "https://169.254.169.254/latest/",
                   f"https://127.0.0.2:{base.rsplit(':', 1)[1]}/other-loopback"):
        with pytest.raises(SourceNotAllowed, match="the URL is not allowed"):
            source.open(f"{base}/to/{inward}")
    assert all(h.startswith("/to/") for h in Handler.hits)
    with pytest.raises(SourceUnreadable, match="could not be fetched"):
        source.open(f"{base}/to/{base}/to/{base}/to/{base}/to/{base}/to/{base}/to/{base}/d.vhd")


def test_files_only_under_the_publishers_folder_and_bounded(tmp_path: Path) -> None:
    disk = tmp_path / "files" / "alice" / "disk image.vhd"
    disk.parent.mkdir(parents=True)
    disk.write_bytes(b"abc" * 100)
    url = disk.as_uri()
    assert local_path(url) == disk and local_path("file://server/share/x.vhd") is None
    with pytest.raises(SourceNotAllowed, match="the URL is not allowed"):
        UrlDiskSource(max_bytes=1000).open(url, "alice")  # no file root: no file:// at all
    policy = EgressPolicy(file_root=tmp_path / "files")
    source = UrlDiskSource(max_bytes=1000, policy=policy)
    with source.open(url, "alice") as f:
        assert f.read() == b"abc" * 100
    for other in ("bob", None, "..", ""):
        with pytest.raises(SourceNotAllowed, match="the URL is not allowed"):
            source.open(url, other)
    with pytest.raises(SourceTooLarge, match="300 bytes, over the limit of 100"):
        UrlDiskSource(max_bytes=100, policy=policy).open(url, "alice")
    with pytest.raises(SourceUnreadable, match="could not be fetched"):
        source.open((disk.parent / "gone.vhd").as_uri(), "alice")
    with pytest.raises(SourceNotAllowed):
        source.open("file://server/share/x.vhd", "alice")
    with pytest.raises(UnsupportedSource, match="the URL is not allowed") as err:
        source.open("ftp://example.com/x.vhd?sig=SECRET")
    assert "SECRET" not in str(err.value)
    local = UrlDiskSource(max_bytes=1000, local_files=True)  # the CLI: the publisher's own machine
    assert local.local_file(url) == disk


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
