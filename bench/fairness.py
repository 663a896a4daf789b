"""One publisher's burst must not raise another publisher's p99 beyond 2x (issue 13).

Publisher B sends a steady trickle of reads and writes (GET offer, GET status, PUT offer, in turn, at a fixed
rate) and records each request's latency. Phase 1: B alone. Phase 2: the same trickle while publisher A bursts
(as in the issue: hundreds of concurrent PUTs on a few dozen offers, plus Publish POSTs), three bursts 10 s
apart; B's figures there pool the requests B made during the bursts only. Prints B's p50/p99 in both phases,
the ratio of the p99s, and what A got back by status code: 429 is the expected answer once A's rate limit or
quota is reached (counted, with whether ``Retry-After`` came with it). Exits 1 when the ratio is over 2, or
when B itself was refused or failed. The status-api runs with its default rate limits and quotas (the dev stack
raises them for the suites; ``--suite-limits`` keeps those, to see the burst unchecked).

A's burst runs in its own process, so its client work does not sit in B's event loop and inflate B's figures.
A stands for a client on another machine: it sends pre-encoded requests (bench/rawhttp.py; ``--a-client httpx``
for httpx, whose own CPU is then most of what B feels), in a session of its own at the lowest priority
(SCHED_IDLE, autogroup niceness 19), so that what B measures is the server's handling of the burst.

Needs the broker, database and object stores of ``deploy/dev/stack.py with-infra`` (``make bench-fairness``);
starts the services itself.

    deploy/dev/stack.py with-infra .run/bench-fairness -- uv run python bench/fairness.py [--puts 923]
"""

from __future__ import annotations

import argparse
import copy
import math
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "deploy/dev"), str(ROOT / "bench")]

from burst import V, offer_url, one_burst  # noqa: E402
from stack import Stack, create_publisher  # noqa: E402

from tests.conftest import _infra_ports  # noqa: E402
from tests.offers.factory import complete_offer  # noqa: E402

# The dev stack raises the status-api's quotas and rate limits so that the suites never meet them; the benchmark
# takes them away again, so the status-api runs with its own defaults (what production gets).
SUITE_LIMITS = re.compile(r"OFFERFLOW_STATUS_API_(?:(?:WRITE|READ)_(?:RATE|BURST)|(?:WRITE|READ)S_IN_FLIGHT|"
                          r"MAX_OFFERS_PER_PUBLISHER|MAX_RUNS_PER_HOUR)")


class DefaultLimitsStack(Stack):
    def env(self) -> dict[str, str]:
        return {k: v for k, v in super().env().items() if not SUITE_LIMITS.fullmatch(k)}
LIMIT = 2.0  # B's p99 during A's burst may be at most this many times B's p99 alone


def p(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: with a few hundred samples p99 is a real request)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Trickle:
    """B's requests: latencies (seconds) and status codes, from one thread at a fixed rate."""

    latencies: list[float] = field(default_factory=list)
    codes: Counter[int] = field(default_factory=Counter)
    kinds: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lat = self.latencies
        of = {k: [x for x, kk in zip(lat, self.kinds, strict=True) if kk == k] for k in sorted(set(self.kinds))}
        by_kind = "  ".join(f"{k} p99 {p(xs, 0.99) * 1000:.1f}" for k, xs in of.items())
        return (f"{len(lat):5d} requests  p50 {statistics.median(lat) * 1000:8.1f} ms  "
                f"p99 {p(lat, 0.99) * 1000:8.1f} ms  max {max(lat) * 1000:8.1f} ms  codes {dict(self.codes)}\n"
                f"                   by kind (ms): {by_kind}")


def trickle(api: str, token: str, publisher: str, offers: list[str], doc: dict[str, Any], rate: float,
            stop: threading.Event, recording: threading.Event) -> Trickle:
    """GET offer, GET status, PUT offer in turn, one every 1/rate s (a slow answer delays the next, no pile-up).

    Only requests that start while ``recording`` is set are counted: the burst phase records during bursts only.
    """
    out = Trickle()
    interval = 1.0 / rate
    with httpx.Client(base_url=api, timeout=60, headers={"Authorization": f"Bearer {token}"}) as http:
        i = 0
        next_at = time.monotonic()
        while not stop.is_set():
            offer = offers[i % len(offers)]
            kind = i % 3
            counted = recording.is_set()
            started = time.perf_counter()
            if kind == 0:
                r = http.get(offer_url(publisher, offer), params=V)
            elif kind == 1:
                r = http.get(offer_url(publisher, offer, "/status"), params=V)
            else:
                r = http.put(offer_url(publisher, offer), params=V, json=doc, headers={"If-Match": "*"})
            if counted:
                out.latencies.append(time.perf_counter() - started)
                out.codes[r.status_code] += 1
                out.kinds.append(("GET offer", "GET status", "PUT offer")[kind])
            i += 1
            next_at = max(next_at + interval, time.monotonic())
            stop.wait(max(0.0, next_at - time.monotonic()))
    return out


def phase(api: str, token: str, publisher: str, offers: list[str], doc: dict[str, Any], rate: float,
          seconds: float, burst: tuple[Any, ...] | None, rounds: int = 1, pause: float = 10.0,
          nice: int | None = None          ) -> tuple[Trickle, dict[str, Any] | None]:
    """B's trickle for ``seconds``; with a burst, during ``rounds`` bursts of A only (``pause`` s apart, so that
    A's rate-limit buckets fill up again and every round starts as the first did)."""
    stop, recording = threading.Event(), threading.Event()
    box: dict[str, Trickle] = {}
    thread = threading.Thread(target=lambda: box.update(
        t=trickle(api, token, publisher, offers, doc, rate, stop, recording)))
    thread.start()
    result: dict[str, Any] | None = None
    try:
        if burst is None:
            recording.set()
            time.sleep(seconds)
        else:
            result = {"codes": Counter(), "retry_after": 0, "seconds": []}
            for i in range(rounds):
                if i:
                    time.sleep(pause)
                got = one_burst(burst, recording, nice)
                result["codes"].update(got["codes"])
                result["retry_after"] += got["retry_after"]
                result["seconds"].append(got["seconds"])
    finally:
        stop.set()
        thread.join()
    return box["t"], result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--puts", type=int, default=923, help="A's PUTs in the burst (default 923, the issue's)")
    parser.add_argument("--posts", type=int, default=100, help="A's Publish POSTs in the burst (default 100)")
    parser.add_argument("--a-offers", type=int, default=30, help="offers A's burst spreads over (default 30)")
    parser.add_argument("--concurrency", type=int, default=200, help="A's requests in flight (default 200)")
    parser.add_argument("--rate", type=float, default=10.0, help="B's requests per second (default 10)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long B runs alone (default 30)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="A's bursts, 10 s apart; B's burst figures pool them (default 3: a burst lasts about "
                             "25 s at the default limits, so B makes 700-800 requests during them)")
    parser.add_argument("--a-nice", type=int, default=None,
                        help="niceness of A's client process (default: none, it runs as SCHED_IDLE and stands for "
                             "another machine; 19 as before, 0 to "
                             "let it compete with the stack and B for the cores)")
    parser.add_argument("--a-client", choices=("raw", "httpx"), default="raw",
                        help="A's HTTP client: raw (bench/rawhttp.py, pre-encoded requests; default) or httpx, whose "
                             "own CPU on this machine's cores is most of what B then feels")
    parser.add_argument("--suite-limits", action="store_true",
                        help="keep the dev stack's raised rate limits and quotas (A is then never refused)")
    args = parser.parse_args()
    ports = _infra_ports()
    if ports is None:
        raise SystemExit("run through `make bench-fairness` (needs the private broker, database and object stores)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        kind = Stack if args.suite_limits else DefaultLimitsStack
        stack = kind(run_dir=work / "stack", ports=ports)
        # PUT stores the document without reading its URLs; A's Publish runs then fail at validation (the
        # logos are outside the stack's file root), which keeps the burst about the API, not the pipeline.
        doc = complete_offer((work / "os.vhd").as_uri(), work / "assets")
        stack.start_services(timeout=120)
        try:
            a_token, b_token = create_publisher(stack, "fair-a"), create_publisher(stack, "fair-b")
            b_offers = [f"steady-{i}" for i in range(3)]
            with httpx.Client(base_url=stack.api_url, timeout=60,
                              headers={"Authorization": f"Bearer {b_token}"}) as http:
                for offer in b_offers:
                    r = http.put(offer_url("fair-b", offer), params=V, json=doc, headers={"If-Match": "*"})
                    if r.status_code not in (200, 201):
                        raise SystemExit(f"B cannot create {offer}: {r.status_code} {r.text[:300]}")
            b_doc = copy.deepcopy(doc)
            phase(stack.api_url, b_token, "fair-b", b_offers, b_doc, args.rate, 5.0, None)  # warm-up, not counted
            alone, _ = phase(stack.api_url, b_token, "fair-b", b_offers, b_doc, args.rate, args.seconds, None)
            burst = (stack.api_url, a_token, "fair-a", doc, args.puts, args.posts, args.a_offers, args.concurrency,
                     args.a_client)
            during, a = phase(stack.api_url, b_token, "fair-b", b_offers, b_doc, args.rate, args.seconds, burst,
                              rounds=args.rounds, nice=args.a_nice)
        finally:
            stack.stop_services()
    assert a is not None
    ratio = p(during.latencies, 0.99) / p(alone.latencies, 0.99)
    codes = a["codes"]
    refused = sum(n for k, n in codes.items() if k.endswith(" 429"))
    print(f"B alone            {alone.summary()}")
    print(f"B during A's burst {during.summary()}")
    took = " / ".join(f"{t:.1f}" for t in a["seconds"])
    print(f"A's bursts         {args.rounds} x ({args.puts} PUTs + {args.posts} POSTs over {args.a_offers} offers, "
          f"{args.concurrency} in flight, {args.a_client} client), {took} s; answers {dict(sorted(codes.items()))}")
    print(f"A's 429s           {refused} ({a['retry_after']} with Retry-After); limits: "
          f"{'the dev stack raised ones' if args.suite_limits else 'the status-api defaults'}")
    print(f"ratio              {ratio:.2f} (B's p99 during / alone; limit {LIMIT:g})")
    b_bad = {c: n for t in (alone, during) for c, n in t.codes.items() if c >= 400}
    if b_bad:
        print(f"B was refused or failed: {b_bad}")
    return 1 if ratio > LIMIT or b_bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
