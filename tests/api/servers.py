"""The API app without resources (no database, no broker) and a real uvicorn serving it with the API process's
own protocol, for tests of what happens before any route runs."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from fastapi import FastAPI

from offerflow_status_api.api.server import JsonErrorsProtocol


async def no_resources(_: FastAPI) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        return None

    return close


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[int]:
    """``app`` on a free port of 127.0.0.1 in a thread, as the API process runs it; yields the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = int(s.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free, log_config=None, access_log=False,
                                        http=JsonErrorsProtocol))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield free
    finally:
        srv.should_exit = True
        thread.join(10)
