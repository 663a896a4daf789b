"""A lean HTTP/1.1 load client for fairness.py's publisher A: pre-encoded requests over keep-alive connections.

Why not httpx: A's burst stands for a client on another machine, but on this machine it shares the two cores
with the stack it measures. Measured there: httpx's AsyncClient with 200 connections took 0.5-0.9 of a core for
A's bursts, more than the status-api, PostgreSQL and Kafka together, so B's tail mostly measured two clients and
the stack fighting over the cores. This client sends the same requests (same methods, headers and bodies) at
about a tenth of the CPU, like the purpose-built load generators (wrk, h2load) one would put on the other machine.

It reads what the API answers: a status line, headers, and a ``Content-Length`` body (every answer of the API
has one; a chunked answer is refused here loudly rather than misread). ``Connection: close`` from the server
ends that connection and the next request opens a new one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def encode(req: Request, host: str, token: str, params: dict[str, str]) -> bytes:
    target = f"{req.path}?{urlencode(params)}" if params else req.path
    lines = [f"{req.method} {target} HTTP/1.1", f"Host: {host}", f"Authorization: Bearer {token}",
             "Accept: */*", f"Content-Length: {len(req.body)}"]
    if req.body:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in req.headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + req.body


def json_body(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
    if "chunked" in headers.get("transfer-encoding", ""):
        raise RuntimeError("a chunked answer: this client reads Content-Length bodies only")
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def run(base_url: str, token: str, params: dict[str, str], requests: Iterator[tuple[str, Request]],
              connections: int, answer_within: float = 120.0) -> tuple[dict[str, int], int]:
    """Sends every request over ``connections`` keep-alive connections, each taking the next request when its
    previous answer is read. Returns the answers counted by ``"<label> <status>"`` (``"client error <Name>"`` for
    a request that got no answer) and how many 429s carried ``Retry-After``."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    codes: dict[str, int] = {}
    retry_after = 0

    def count(key: str) -> None:
        codes[key] = codes.get(key, 0) + 1

    async def connection() -> None:
        nonlocal retry_after
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        for label, req in requests:  # one shared iterator: each request goes out once
            try:
                if writer is None or reader is None:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), answer_within)
                writer.write(encode(req, f"{host}:{port}", token, params))
                status, headers, _ = await asyncio.wait_for(read_response(reader), answer_within)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                count(f"client error {type(exc).__name__}")
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            count(f"{label} {status}")
            if status == 429 and "retry-after" in headers:
                retry_after += 1
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return codes, retry_after
