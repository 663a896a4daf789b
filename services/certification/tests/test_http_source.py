"""The image intake over the shared disk source, against a loopback server started here: streamed, hashed,
spooled, limited, timed out; and the fake source showing each image is read once."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from offerflow_certification.adapters.source import ImageIntake
from offerflow_certification.image.findings import ImageError
from offerflow_shared.egress_policy import EgressPolicy
from offerflow_shared.sources import MemoryDiskSource, UrlDiskSource

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


def intake(tmp_path: Path, server: str, *, max_bytes: int = 2 << 20, read_timeout: float = 60.0) -> ImageIntake:
    """The loopback server is a named endpoint (as the dev stack names its stores); file:// under tmp_path/files."""
    policy = EgressPolicy(allowed=frozenset({("127.0.0.1", int(server.rsplit(":", 1)[1]))}),
                          file_root=tmp_path / "files")
    source = UrlDiskSource(max_bytes=max_bytes, chunk_bytes=64 * 1024, policy=policy, read_timeout=read_timeout)
    return ImageIntake(source, chunk_bytes=64 * 1024, spool_dir=tmp_path / "spool")


@pytest.fixture(autouse=True)
def folders(tmp_path: Path) -> None:
    (tmp_path / "files" / "p1").mkdir(parents=True)
    (tmp_path / "spool").mkdir()


async def test_download_is_hashed_and_spooled_then_removed(server: str, tmp_path: Path) -> None:
    source = intake(tmp_path, server)
    async with source.fetch(f"{server}/image.vhd?sv=2020&sig=x") as image:
        assert image.size == len(BODY)
        assert image.sha256 == hashlib.sha256(BODY).hexdigest()
        assert image.path.read_bytes() == BODY
    assert not any((tmp_path / "spool").iterdir())


async def test_size_limit_http_errors_and_timeouts_are_image_errors(server: str, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="over the limit"):
        async with intake(tmp_path, server, max_bytes=1000).fetch(f"{server}/image.vhd"):
            pass
    ok = intake(tmp_path, server, read_timeout=0.3)
    with pytest.raises(ImageError, match="could not be fetched \\(HTTP 404\\)") as err:
        async with ok.fetch(f"{server}/missing.vhd?sig=SECRET"):
            pass
    assert "SECRET" not in err.value.message
    with pytest.raises(ImageError, match="could not be fetched"):
        async with ok.fetch(f"{server}/slow.vhd"):
            pass
    assert not any((tmp_path / "spool").iterdir())


async def test_local_files_are_hashed_in_place_and_remote_ones_spooled(server: str, tmp_path: Path) -> None:
    local = tmp_path / "files" / "p1" / "x.bin"
    local.write_bytes(b"abc")
    source = intake(tmp_path, server)
    async with source.fetch(local.as_uri(), "p1") as image:
        assert image.path == local and image.sha256 == hashlib.sha256(b"abc").hexdigest()
    async with source.fetch(f"{server}/image.vhd", "p1") as image:
        assert image.size == len(BODY) and image.path != local


async def test_file_urls_follow_the_source_policy(server: str, tmp_path: Path) -> None:
    local = tmp_path / "files" / "p1" / "x.bin"
    local.write_bytes(b"abc")
    strict = ImageIntake(UrlDiskSource(max_bytes=1 << 20), spool_dir=tmp_path)
    dev = intake(tmp_path, server)
    for source, publisher in ((strict, "p1"), (dev, "p2"), (dev, None)):
        with pytest.raises(ImageError, match="the URL is not allowed"):
            async with source.fetch(local.as_uri(), publisher):
                pass


async def test_each_image_is_read_once(tmp_path: Path) -> None:
    url = "https://blob.example/os.vhd?X-Amz-Signature=abc"
    fake = MemoryDiskSource({url: BODY})
    async with ImageIntake(fake, chunk_bytes=4096, spool_dir=tmp_path).fetch(url) as image:
        assert image.sha256 == hashlib.sha256(BODY).hexdigest() and image.path.read_bytes() == BODY
    assert (fake.counter.opens, fake.counter.bytes_read) == (1, len(BODY))
