"""Publisher A's burst for fairness.py, in a process of its own: hundreds of concurrent PUTs on a few dozen
offers plus Publish POSTs, with the lean client (rawhttp.py) or httpx, counted by answer."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import rawhttp

V = {"api-version": "2017-10-31"}


def offer_url(publisher: str, offer: str, suffix: str = "") -> str:
    return f"/api/publishers/{publisher}/offers/{offer}{suffix}"


def _order(puts: int, posts: int) -> list[int]:
    # PUTs and POSTs interleaved, as a client script hammering both would send them.
    return sorted(range(puts + posts), key=lambda i: (i * 7919) % (puts + posts))


async def _burst(api: str, token: str, publisher: str, doc: dict[str, Any], puts: int, posts: int, offers: int,
                 concurrency: int, client: str) -> dict[str, Any]:
    publish_body = {"metadata": {"notification-emails": "a@fair.example"}}
    started = time.perf_counter()
    if client == "raw":
        put, post = rawhttp.json_body(doc), rawhttp.json_body(publish_body)
        requests = iter([
            ("PUT", rawhttp.Request("PUT", offer_url(publisher, f"burst-{i % offers:03d}"), put,
                                    (("If-Match", "*"),))) if i < puts else
            ("POST", rawhttp.Request("POST", offer_url(publisher, f"burst-{i % offers:03d}", "/publish"), post))
            for i in _order(puts, posts)])
        got, retry_after = await rawhttp.run(api, token, V, requests, concurrency)
        return {"codes": got, "retry_after": retry_after, "seconds": time.perf_counter() - started}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    codes: Counter[str] = Counter()
    retry_after = 0
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=api, timeout=120, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as http:

        async def one(i: int) -> None:
            nonlocal retry_after
            offer = f"burst-{i % offers:03d}"
            async with gate:
                try:
                    if i < puts:
                        r = await http.put(offer_url(publisher, offer), params=V, json=doc,
                                           headers={"If-Match": "*"})
                        kind = "PUT"
                    else:
                        r = await http.post(offer_url(publisher, offer, "/publish"), params=V, json=publish_body)
                        kind = "POST"
                except httpx.HTTPError as exc:
                    codes[f"client error {type(exc).__name__}"] += 1
                    return
            codes[f"{kind} {r.status_code}"] += 1
            if r.status_code == 429 and r.headers.get("Retry-After"):
                retry_after += 1

        await asyncio.gather(*(one(i) for i in _order(puts, posts)))
    return {"codes": dict(codes), "retry_after": retry_after, "seconds": time.perf_counter() - started}


def burst_process(args: tuple[Any, ...], ready: Any, go: Any, results: Any, nice: int | None) -> None:
    # A's client stands for another machine: at the lowest priority its own work (hundreds of connections'
    # worth of HTTP in Python) takes only what the stack and B leave, so what B feels is the server's handling
    # of the burst, not two clients fighting over the same two cores.
    if nice is None:
        # SCHED_IDLE: any other task that wakes up preempts it at once. And a session of its own at the lowest
        # autogroup priority: with the kernel's autogroups (sched_autogroup_enabled, on here) CPU time is shared
        # between sessions first, and every server of the stack has its own session, so a niceness alone only
        # ranked A against B's thread in the benchmark's session and A still took a session's full share.
        os.setsid()
        with contextlib.suppress(OSError):
            Path("/proc/self/autogroup").write_text("19")
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    else:
        os.nice(nice)
    ready.set()  # imports done: the burst starts the moment the parent says so
    go.wait()
    results.put(asyncio.run(_burst(*args)))


def one_burst(burst: tuple[Any, ...], recording: threading.Event, nice: int | None) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, go, results = ctx.Event(), ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=burst_process, args=(burst, ready, go, results, nice))
    proc.start()
    try:
        if not ready.wait(120):
            raise SystemExit("A's burst process did not start")
        recording.set()
        go.set()
        result: dict[str, Any] = results.get(timeout=1800)
    finally:
        recording.clear()
        proc.join(timeout=60)
    return result
