"""Guard overhead: ``alignkit serve`` vs a direct call to the same instant upstream, one run.

Starts the stub (``python -m alignkit.models.stub --latency 0``) and ``alignkit serve``
in front of it (the shipped default guard.yaml, a fresh SQLite store) as two separate
processes, then from this process (the lean keep-alive client of ``_loadgen``; ``--client
aiohttp`` for aiohttp, which costs this machine twice the CPU per request and, on two
cores shared with the server, inflates the tail it measures):

1. concurrency 1: ``--n1`` requests alternating direct / through the guard; the added
   latency is p50(guard) − p50(direct) and p99(guard) − p99(direct);
2. closed loop at concurrency 32 for ``--seconds`` each, direct then guard: req/s,
   p50/p99, errors;
3. optionally (``--open-rate R``) open loop at R req/s for ``--open-seconds`` (with the
   guard's CPU per request and its RSS every 5 s: flat in a soak);
4. in-process: the rule tier alone and the whole default rail set, per request, over
   alignkit's held-out prompts (no HTTP);

and finally checks that the audit log holds one verified entry per guarded request.
Before 1–3, ``--warm`` requests (default 2,100) go through the guard at the closed-loop
concurrency: the traffic monitor fits its reference window once, at its 2,000th request
(about a second of CPU), and that one-time cost would otherwise land in whichever
measurement is running then; its CPU is reported as ``warm.guard_cpu_s``.

    python benchmarks/guard_overhead.py [--n1 2000] [--seconds 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from _cli import (
    dumps,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    writable_json_path,
    write_json,
)
from _loadgen import CLIENTS, Client, client

BODY = {
    "model": "stub",
    "messages": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is the capital of France? Reply in one word please."},
    ],
    "max_tokens": 16,
}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def quiet_client() -> None:
    """Keep this load generator's own cyclic collector out of what it measures.

    Its full passes walked every object alive here (50-75 ms with the open loop's tasks)
    and landed in the latencies being recorded. Called before each measurement: what
    exists by then is frozen, so later passes scan only what the measurement allocates.
    """
    gc.collect()
    gc.freeze()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_stub() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "alignkit.models.stub", "--port", "0", "--latency", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"stub did not start (printed {url!r})")
    return proc, url


class ChildStderr:
    """A child's stderr, held back while it starts (to explain a failure), then passed on."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        self._stream = proc.stderr
        self._held: list[str] = []
        self._through = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            with self._lock:
                if self._through:
                    sys.stderr.write(line)
                else:
                    self._held.append(line)

    def release(self) -> None:
        """Write what was held back and pass the rest through."""
        with self._lock:
            sys.stderr.write("".join(self._held))
            self._held.clear()
            self._through = True

    def last_line(self) -> str:
        """The last non-empty line written so far (after the child exited: all of it)."""
        self._thread.join(timeout=5)
        with self._lock:
            lines = [x.strip() for x in self._held if x.strip()]
        return lines[-1] if lines else ""


def start_guard(
    stub_url: str, store: Path, guard: Path | None, timeout_s: float = 60.0
) -> tuple[subprocess.Popen[str], str]:
    """Start ``alignkit serve`` in front of the stub; stop at once if it exits instead."""
    port = free_port()
    code = (
        "from alignkit.guard import serve; "
        f"serve({('openai:' + stub_url + '#stub')!r}, {str(guard) if guard else None!r}, "
        f"port={port}, store_url={('sqlite:///' + str(store))!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    err = ChildStderr(proc)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as resp:
                if resp.status == 200:
                    err.release()
                    return proc, base + "/v1"
        except OSError:
            time.sleep(0.1)
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
        why = f"did not answer /healthz within {timeout_s:g} s"
    else:
        why = f"exited with status {proc.returncode}"
    last = err.last_line()
    raise SystemExit(f"alignkit serve {why}" + (f": {last}" if last else ""))


CLIENT = "lean"
"""The load generator's HTTP client (``--client``; see ``_loadgen``)."""


def _client(url: str, limit: int) -> Client:
    return client(CLIENT, url, json.dumps(BODY).encode(), limit)


async def _timed(c: Client) -> tuple[float, bool]:
    """One request's latency and success; a failed one counts the time until it failed."""
    start = time.perf_counter()
    try:
        return await c.post()
    except OSError:
        return time.perf_counter() - start, False


async def sequential(direct: str, guard: str, n: int) -> dict[str, Any]:
    lat: dict[str, list[float]] = {"direct": [], "guard": []}
    errors = 0
    quiet_client()
    async with _client(direct, 1) as d, _client(guard, 1) as g:
        for _ in range(50):  # warm both paths
            await _timed(d)
            await _timed(g)
        for i in range(2 * n):
            name, c = ("direct", d) if i % 2 == 0 else ("guard", g)
            dt, ok = await _timed(c)
            lat[name].append(dt)
            errors += not ok
    out: dict[str, Any] = {"n": n, "errors": errors}
    for name, values in lat.items():
        out[name] = {"p50_ms": pct(values, 0.5) * 1e3, "p99_ms": pct(values, 0.99) * 1e3}
    out["added_p50_ms"] = out["guard"]["p50_ms"] - out["direct"]["p50_ms"]
    out["added_p99_ms"] = out["guard"]["p99_ms"] - out["direct"]["p99_ms"]
    return out


async def closed_loop(url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    quiet_client()
    stop = time.perf_counter() + seconds

    async def worker(c: Client) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            dt, ok = await _timed(c)
            lat.append(dt)
            errors += not ok

    async with _client(url, concurrency) as c:
        await asyncio.gather(*(_timed(c) for _ in range(concurrency)))  # warm
        start = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return {
        "concurrency": concurrency,
        "requests": len(lat),
        "errors": errors,
        "resent": c.resent,
        "req_per_s": len(lat) / wall,
        "p50_ms": pct(lat, 0.5) * 1e3,
        "p99_ms": pct(lat, 0.99) * 1e3,
    }


async def warm(url: str, n: int, concurrency: int) -> dict[str, Any]:
    """Send ``n`` requests at ``concurrency`` (past the traffic monitor's reference window)."""
    left, errors = n, 0

    async def worker(c: Client) -> None:
        nonlocal left, errors
        while left > 0:
            left -= 1
            try:
                _, ok = await c.post()
            except OSError:
                ok = False
            errors += not ok

    start = time.perf_counter()
    async with _client(url, concurrency) as c:
        await asyncio.gather(*(worker(c) for _ in range(concurrency)))
    return {"requests": n, "errors": errors, "seconds": time.perf_counter() - start}


async def open_loop(url: str, rate: float, seconds: float, pid: int) -> dict[str, Any]:
    """``rate`` requests/s for ``seconds``, each sent on time whatever the earlier ones do;
    ``pid``'s CPU per request and RSS every 5 s (the server measured)."""
    lat: list[float] = []
    errors = 0
    rss: list[float] = []
    quiet_client()
    cpu0 = cpu_s(pid)

    async def sample_rss() -> None:  # the guard's memory, every 5 s: flat in a soak
        while True:
            rss.append(round(rss_mb(pid), 1))
            await asyncio.sleep(5.0)

    sampler = asyncio.create_task(sample_rss())
    async with _client(url, 512) as c:

        async def fire() -> None:
            nonlocal errors
            dt, ok = await _timed(c)
            lat.append(dt)
            errors += not ok

        pending: set[asyncio.Task[None]] = set()  # finished tasks are let go
        start = time.perf_counter()
        total = int(rate * seconds)
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(fire())
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        wall = time.perf_counter() - start
    sampler.cancel()
    rss.append(round(rss_mb(pid), 1))
    return {
        "target_rate": rate,
        "achieved_rate": total / wall,
        "requests": total,
        "errors": errors,
        "resent": c.resent,
        "p50_ms": pct(lat, 0.5) * 1e3,
        "p99_ms": pct(lat, 0.99) * 1e3,
        "cpu_ms_per_request": (cpu_s(pid) - cpu0) * 1e3 / total,
        "rss_mb_every_5s": rss,
    }


def in_process(n: int) -> dict[str, Any]:
    from alignkit.guard import Guard
    from alignkit.guard._injection_data import load_split

    prompts = [r["prompt"] for r in load_split("heldout")][:n]
    response = "Paris is the capital of France; it has been since the 10th century."
    rules = {
        "input": [{"rail": "secrets"}, {"rail": "pii", "action": "redact"}],
        "output": [{"rail": "secrets", "action": "redact"}, {"rail": "pii"},
                   {"rail": "unsafe-markers"}],
    }  # fmt: skip
    out: dict[str, Any] = {"prompts": len(prompts)}
    for name, config in (("rules", rules), ("default", None)):
        guard = Guard(config)

        async def run_all(g: Any = guard) -> tuple[list[float], list[float]]:
            wall, cpu = [], []
            for p in prompts:
                msgs = [{"role": "user", "content": p}]
                t0, c0 = time.perf_counter(), time.thread_time()
                pre = await g.check_input(msgs)
                if not pre.blocked:
                    await g.check_output(pre.messages, response)
                wall.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)
            return wall, cpu

        asyncio.run(run_all())  # warm
        wall, cpu = asyncio.run(run_all())
        out[name] = {
            "p50_ms": pct(wall, 0.5) * 1e3,
            "p99_ms": pct(wall, 0.99) * 1e3,
            "cpu_p50_ms": pct(cpu, 0.5) * 1e3,
            "cpu_p99_ms": pct(cpu, 0.99) * 1e3,
        }
    return out


def verify_log(store: Path) -> dict[str, Any]:
    from alignkit.store import Store

    with Store.open(f"sqlite:///{store}") as s:
        log = s.audit_log()
        report = log.verify()
        return {"entries": report.entries, "ok": report.ok, "problem": report.problem}


def traffic_metric(guard_url: str, name: str) -> float | None:
    """The value of ``alignkit_traffic_<name>`` on the guard's /metrics (None: no monitor)."""
    with urllib.request.urlopen(guard_url.removesuffix("/v1") + "/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(f"alignkit_traffic_{name} "):
                return float(line.split()[1])
    return None


def monitor_caught_up(
    guard_url: str, n: int, timeout_s: float = 60.0, stall_s: float = 10.0
) -> bool | None:
    """Wait until the guard's traffic monitor has processed or dropped ``n`` requests.

    False when it stops moving for ``stall_s`` before that (a breaker's own refusals, for
    one, are never fed to it) or ``timeout_s`` passes; None when the guard has no monitor.
    """
    deadline = time.monotonic() + timeout_s
    last, since = -1.0, time.monotonic()
    while time.monotonic() < deadline:
        done = traffic_metric(guard_url, "requests_total")
        if done is None:
            return None
        done += traffic_metric(guard_url, "dropped_total") or 0.0
        if done >= n:
            return True
        if done != last:
            last, since = done, time.monotonic()
        elif time.monotonic() - since > stall_s:
            return False
        time.sleep(0.2)
    return False


def _family(pid: int) -> list[int]:
    """``pid`` and its live child processes (the guard's traffic-monitor worker)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return [pid, *kids]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` and its live children."""
    total = 0
    for p in _family(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` and its live children, MB."""
    total = 0.0
    for p in _family(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total or float("nan")


def over_http(args: argparse.Namespace, results: dict[str, Any], store: Path) -> None:
    """Parts 1-3: the stub and ``alignkit serve`` as processes, measured from here."""
    stub, stub_url = start_stub()
    try:
        guard, guard_url = start_guard(stub_url, store, args.guard)
    except SystemExit:  # do not leave the stub running
        stub.terminate()
        stub.wait(10)
        raise
    try:
        if args.warm:  # the monitor fits its reference once, at request 2000 by default
            g0 = cpu_s(guard.pid)
            results["warm"] = asyncio.run(warm(guard_url, args.warm, args.concurrency))
            results["warm"]["monitor_caught_up"] = monitor_caught_up(guard_url, args.warm)
            results["warm"]["guard_cpu_s"] = cpu_s(guard.pid) - g0
        results["rss_mb_start"] = rss_mb(guard.pid)
        results["c1"] = asyncio.run(sequential(stub_url, guard_url, args.n1))
        c0 = cpu_s(stub.pid)
        results["closed_direct"] = asyncio.run(
            closed_loop(stub_url, args.concurrency, args.seconds)
        )
        cd = results["closed_direct"]
        cd["stub_cpu_ms_per_request"] = (cpu_s(stub.pid) - c0) * 1e3 / cd["requests"]
        c0, g0 = cpu_s(stub.pid), cpu_s(guard.pid)
        results["closed_guard"] = asyncio.run(
            closed_loop(guard_url, args.concurrency, args.seconds)
        )
        cg = results["closed_guard"]
        cg["guard_cpu_ms_per_request"] = (cpu_s(guard.pid) - g0) * 1e3 / cg["requests"]
        cg["stub_cpu_ms_per_request"] = (cpu_s(stub.pid) - c0) * 1e3 / cg["requests"]
        if args.open_rate > 0:  # the stub alone at the same rate, then through the guard
            od = asyncio.run(open_loop(stub_url, args.open_rate, args.open_seconds, stub.pid))
            od["stub_cpu_ms_per_request"] = od.pop("cpu_ms_per_request")
            results["open_direct"] = {k: v for k, v in od.items() if k != "rss_mb_every_5s"}
            og = asyncio.run(open_loop(guard_url, args.open_rate, args.open_seconds, guard.pid))
            og["guard_cpu_ms_per_request"] = og.pop("cpu_ms_per_request")
            og["added_p50_ms"] = og["p50_ms"] - od["p50_ms"]
            og["added_p99_ms"] = og["p99_ms"] - od["p99_ms"]
            # the monitor worker yields the CPU to the server: did it keep up, or defer
            # work (and CPU) past the measurement, or drop records?
            t0 = time.monotonic()
            caught_up = monitor_caught_up(guard_url, sent_to_guard(args, results, og))
            og["monitor_caught_up"] = caught_up
            og["monitor_caught_up_after_s"] = round(time.monotonic() - t0, 2) if caught_up else None
            og["monitor_dropped"] = traffic_metric(guard_url, "dropped_total")
            results["open_guard"] = og
        results["rss_mb_end"] = rss_mb(guard.pid)
    finally:
        guard.terminate()
        guard.wait(30)
        stub.terminate()
        stub.wait(10)


def _monitor_line(og: dict[str, Any]) -> str:
    caught_up = og["monitor_caught_up"]
    if caught_up is None:
        return "no traffic monitor"
    if not caught_up:
        return f"traffic monitor did not catch up (dropped {og['monitor_dropped']:.0f})"
    return (
        f"traffic monitor caught up {og['monitor_caught_up_after_s']} s after, dropped "
        f"{og['monitor_dropped']:.0f}"
    )


def sent_to_guard(
    args: argparse.Namespace, results: dict[str, Any], open_guard: dict[str, Any] | None
) -> int:
    """Requests sent through the guard: warm-up, concurrency 1 (with its 50 warm-up),
    the closed loop (with one warm-up per connection) and the open loop."""
    sent = args.warm + 50 + args.n1 + results["closed_guard"]["requests"] + args.concurrency
    return sent + (open_guard["requests"] if open_guard else 0)


def existing_file(text: str) -> Path:
    """``--guard``: a config file that exists."""
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file")
    return Path(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--n1", type=positive_int, default=2000, help="requests per path at concurrency 1"
    )
    p.add_argument(
        "--seconds", type=positive_float, default=10.0, help="closed-loop seconds per path"
    )
    p.add_argument("--concurrency", type=positive_int, default=32)
    p.add_argument(
        "--open-rate", type=nonnegative_float, default=0.0, help="open-loop req/s (0: skip)"
    )
    p.add_argument("--open-seconds", type=positive_float, default=30.0)
    p.add_argument(
        "--warm",
        type=nonnegative_int,
        default=2100,
        help="requests sent through the guard before measuring, so that the traffic "
        "monitor's one-time reference fit (default window: 2000 requests) is not "
        "counted as per-request cost (0: none; its CPU is reported as warm.guard_cpu_s)",
    )
    p.add_argument(
        "--inprocess", type=nonnegative_int, default=1000, help="prompts for the in-process part"
    )
    p.add_argument(
        "--guard", type=existing_file, default=None, help="guard config (default: shipped)"
    )
    p.add_argument(
        "--client",
        choices=CLIENTS,
        default="lean",
        help="load generator's HTTP client (default lean: httptools on asyncio)",
    )
    p.add_argument("--json", type=writable_json_path, default=None)
    args = p.parse_args()
    global CLIENT
    CLIENT = args.client

    results: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "client": args.client,
        "loadavg_start": os.getloadavg()[0],
    }
    if args.inprocess > 0:
        results["in_process"] = in_process(args.inprocess)
    tmp = Path(tempfile.mkdtemp(prefix="alignkit-guard-bench-"))
    try:
        store = tmp / "bench.db"
        over_http(args, results, store)
        sent = sent_to_guard(args, results, results.get("open_guard"))
        if args.guard is None:
            results["audit_log"] = {**verify_log(store), "requests_sent_to_guard": sent}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["loadavg_end"] = os.getloadavg()[0]
    sys.stdout.write(dumps(results, indent=2) + "\n")
    if args.json:
        write_json(args.json, results)
    c1, cd, cg = results["c1"], results["closed_direct"], results["closed_guard"]
    sys.stdout.write(
        f"\nadded at c=1: p50 {c1['added_p50_ms']:.2f} ms, p99 {c1['added_p99_ms']:.2f} ms\n"
        f"c={args.concurrency}: direct {cd['req_per_s']:.0f} req/s, guard "
        f"{cg['req_per_s']:.0f} req/s (p50 {cg['p50_ms']:.2f} ms, p99 {cg['p99_ms']:.2f} ms), "
        f"errors {cg['errors']}; added p50 {cg['p50_ms'] - cd['p50_ms']:.2f} ms, "
        f"p99 {cg['p99_ms'] - cd['p99_ms']:.2f} ms; guard process CPU "
        f"{cg['guard_cpu_ms_per_request']:.2f} ms per request\n"
        + (
            f"in-process rules p99 {ip['rules']['p99_ms']:.3f} ms "
            f"(CPU {ip['rules']['cpu_p99_ms']:.3f}), default set p99 "
            f"{ip['default']['p99_ms']:.3f} ms (CPU {ip['default']['cpu_p99_ms']:.3f})\n"
            if (ip := results.get("in_process"))
            else ""
        )
        + (
            f"open loop {og['achieved_rate']:.0f} req/s for {og['requests']} requests: "
            f"p50 {og['p50_ms']:.2f} ms, p99 {og['p99_ms']:.2f} ms, errors {og['errors']} "
            f"(direct p50 {od['p50_ms']:.2f} ms, p99 {od['p99_ms']:.2f} ms: added p50 "
            f"{og['added_p50_ms']:.2f} ms, p99 {og['added_p99_ms']:.2f} ms), "
            f"guard CPU {og['guard_cpu_ms_per_request']:.2f} ms per request, "
            f"RSS {og['rss_mb_every_5s'][0]:.0f} -> {og['rss_mb_every_5s'][-1]:.0f} MB; "
            f"{_monitor_line(og)}; resent {og['resent']}\n"
            if (og := results.get("open_guard")) and (od := results["open_direct"])
            else ""
        )
        + f"load average {results['loadavg_start']:.2f} at start, "
        f"{results['loadavg_end']:.2f} at end ({results['cpus']} CPUs): "
        "under load, quote the CPU per request\n"
    )


if __name__ == "__main__":
    main()
