"""The http(s) intake against a loopback server started here: streamed, hashed, limited, timed out."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from offerflow_certification.adapters.source import FileDiskSource, HttpDiskSource, RoutingDiskSource
from offerflow_certification.image.findings import ImageError

BODY = bytes(range(256)) * 4096  # 1 MiB


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[:100])
            self.wfile.flush()
            time.sleep(1.5)
            return
        if self.path.startswith("/missing"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def test_download_is_hashed_and_spooled_then_removed(server: str, tmp_path: Path) -> None:
    source = HttpDiskSource(max_bytes=2 << 20, chunk_bytes=64 * 1024, spool_dir=tmp_path)
    async with source.fetch(f"{server}/image.vhd?sv=2020&sig=x") as image:
        assert image.size == len(BODY)
        assert image.sha256 == hashlib.sha256(BODY).hexdigest()
        assert image.path.read_bytes() == BODY
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - a test's own temp dir


async def test_size_limit_http_errors_and_timeouts_are_image_errors(server: str, tmp_path: Path) -> None:
    small = HttpDiskSource(max_bytes=1000, chunk_bytes=4096, spool_dir=tmp_path)
    with pytest.raises(ImageError, match="over the limit"):
        async with small.fetch(f"{server}/image.vhd"):
            pass
    ok = HttpDiskSource(max_bytes=2 << 20, chunk_bytes=4096, spool_dir=tmp_path, read_timeout=0.3)
    with pytest.raises(ImageError, match="HTTP 404"):
        async with ok.fetch(f"{server}/missing.vhd"):
            pass
    with pytest.raises(ImageError, match="Timeout"):
        async with ok.fetch(f"{server}/slow.vhd"):
            pass
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - a test's own temp dir


async def test_routing_by_scheme(server: str, tmp_path: Path) -> None:
    local = tmp_path / "x.bin"
    local.write_bytes(b"abc")
    limits = {"max_bytes": 2 << 20, "chunk_bytes": 4096}
    source = RoutingDiskSource(FileDiskSource(**limits), HttpDiskSource(**limits, spool_dir=tmp_path))
    async with source.fetch(local.as_uri()) as image:
        assert image.sha256 == hashlib.sha256(b"abc").hexdigest()
    async with source.fetch(f"{server}/image.vhd") as image:
        assert image.size == len(BODY)
