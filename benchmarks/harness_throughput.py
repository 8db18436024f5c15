"""Harness throughput: requests/s through connect() + generate_batch() against a stub.

Starts ``python -m alignkit.models.stub`` in a subprocess (50 ms per answer), then sends
``--requests`` chat requests through the ``openai:`` adapter at each concurrency, three
runs each, and prints the median requests/s, its ratio to the latency-bound ideal
(concurrency / latency) and the largest number of requests the stub held at once.
Every request must come back ``ok``: a failed request is not throughput.

    python benchmarks/harness_throughput.py [--requests 256] [--concurrency 1 8 32]
                                            [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import Any

from _cli import positive_float, positive_int, writable_json_path, write_json

from alignkit.core import HttpConfig, Message
from alignkit.models import TargetOptions, connect, generate_batch
from alignkit.models._openai import OpenAIChatModel


def start_stub(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "alignkit.models.stub", "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"stub did not start (printed {url!r})")
    return proc, url


def stub_call(url: str, route: str, method: str = "GET") -> dict[str, int]:
    root = url.removesuffix("/v1")
    req = urllib.request.Request(f"{root}/stub/{route}", method=method)
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def prompts(n: int) -> list[list[Message]]:
    return [
        [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": f"Question {i}: what is {i} plus {i + 1}?"},
        ]
        for i in range(n)
    ]


async def one_run(url: str, concurrency: int, n: int) -> tuple[float, int]:
    """(requests/s, stub peak in-flight) for one batch of ``n`` requests."""
    stub_call(url, "reset", "POST")
    options = TargetOptions(http=HttpConfig(max_connections=max(64, concurrency)))
    model = connect(f"openai:{url}#stub", options)
    assert isinstance(model, OpenAIChatModel)
    try:
        await model.ping()
        requests = prompts(n)
        start = time.perf_counter()
        results = await generate_batch(model, requests, concurrency, max_tokens=16, seed=0)
        elapsed = time.perf_counter() - start
    finally:
        await model.aclose()
    bad = [r for r in results if not r.ok]
    if bad:
        raise SystemExit(f"{len(bad)} of {n} requests failed at C={concurrency}: {bad[0].error}")
    return n / elapsed, stub_call(url, "stats")["peak_in_flight"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=positive_int, default=256)
    ap.add_argument("--concurrency", type=positive_int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--runs", type=positive_int, default=3)
    ap.add_argument("--latency", type=positive_float, default=0.05, help="stub latency, s")
    ap.add_argument("--json", type=writable_json_path, default=None, help="write the numbers here")
    args = ap.parse_args()

    proc, url = start_stub(args.latency)
    rows: list[dict[str, Any]] = []
    try:
        for c in args.concurrency:
            runs = [asyncio.run(one_run(url, c, args.requests)) for _ in range(args.runs)]
            rps = statistics.median(r[0] for r in runs)
            ideal = c / args.latency
            rows.append(
                {
                    "concurrency": c,
                    "requests_per_s": round(rps, 1),
                    "runs_requests_per_s": [round(r[0], 1) for r in runs],
                    "ideal_requests_per_s": ideal,
                    "ratio_to_ideal": round(rps / ideal, 3),
                    "peak_in_flight": max(r[1] for r in runs),
                }
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    runs = "a single run" if args.runs == 1 else f"median of {args.runs} runs"
    print(f"{args.requests} requests, stub latency {args.latency * 1000:g} ms, {runs}")
    print(f"{'concurrency':>11}  {'req/s':>8}  {'ideal':>6}  {'ratio':>6}  {'peak in-flight':>14}")
    for r in rows:
        c, rps, ideal = r["concurrency"], r["requests_per_s"], r["ideal_requests_per_s"]
        print(
            f"{c:>11}  {rps:>8.1f}  {ideal:>6.0f}  {r['ratio_to_ideal']:>6.0%}"
            f"  {r['peak_in_flight']:>14}"
        )
    if args.json is not None:
        doc = {
            "benchmark": "harness_throughput",
            "requests": args.requests,
            "latency_s": args.latency,
            "runs": args.runs,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "results": rows,
        }
        write_json(args.json, doc)


if __name__ == "__main__":
    main()
