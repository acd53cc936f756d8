"""The daemon's API under load: /healthz and /jobs latency at 100 requests/s, while a crawl
keeps every core busy, against the same with the machine idle.

The crawl is a job of the daemon (shoal crawl with two workers, each with its parse process)
on the synthetic site with no latency, so it is CPU-bound on both cores; the load generator
is a separate process sending requests on a fixed schedule (open loop: a slow answer does not
delay the next request, so queueing shows in the figures).

    python bench/daemon_latency.py             # writes bench/daemon_results.md
    python bench/daemon_latency.py --seconds 10 --out /tmp/d.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from testsite import serve_in_subprocess  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _load(base: str, paths: list[str], rate: float, seconds: float) -> dict[str, list[float]]:
    """Requests at ``rate`` per second (alternating paths) for ``seconds``; latencies in ms."""
    import aiohttp

    latencies: dict[str, list[float]] = {p: [] for p in paths}
    failures = 0

    async def one(session: aiohttp.ClientSession, path: str) -> None:
        nonlocal failures
        began = time.perf_counter()
        try:
            async with session.get(base + path) as r:
                await r.read()
                if r.status != 200:
                    failures += 1
                    return
        except aiohttp.ClientError:
            failures += 1
            return
        latencies[path].append((time.perf_counter() - began) * 1000)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = []
        start = time.perf_counter()
        n = int(rate * seconds)
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(session, paths[i % len(paths)])))
        await asyncio.gather(*tasks)
    if failures:
        print(f"  {failures} requests failed", flush=True)
    return latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _wait_ready(base: str) -> None:
    for _ in range(200):
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("daemon did not become ready")


def _post(url: str) -> dict[str, object]:
    request = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(request) as r:
        return dict(json.load(r))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--pages", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "daemon_results.md")
    args = parser.parse_args()
    paths = ["/healthz", "/jobs"]
    results: dict[str, dict[str, list[float]]] = {}
    cpu_busy = 0.0
    with serve_in_subprocess("--pages", str(args.pages), "--prerender") as urls, \
            tempfile.TemporaryDirectory(prefix="shoal-bench-daemon-") as tmp:  # fmt: skip
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        config = Path(tmp) / "shoal.toml"
        config.write_text(
            f'[daemon]\napi = "127.0.0.1:{port}"\nstate_dir = "{tmp}/state"\n\n'
            f'[[jobs]]\nname = "busy"\nplugin = "crawl"\n'
            f'args = ["{urls[0]}", "-o", "/dev/null", "--allow-private", "127.0.0.1",'
            f' "--workers", "2"]\ncron = "0 0 1 1 *"\nmissed = "skip"\n'
        )
        daemon = subprocess.Popen(
            [str(Path(sys.executable).parent / "shoal"), "daemon", "--config", str(config),
             "--paused", "-q"],
        )  # fmt: skip
        try:
            _wait_ready(base)
            print("idle machine ...", flush=True)
            results["idle"] = asyncio.run(_load(base, paths, args.rate, args.seconds))
            run = _post(base + "/jobs/busy/run")
            time.sleep(2.0)  # the crawl up to speed
            print(f"crawl {run['id']} running: every core busy ...", flush=True)
            psutil.cpu_percent(None)
            results["crawl running"] = asyncio.run(_load(base, paths, args.rate, args.seconds))
            cpu_busy = psutil.cpu_percent(None)
            with urllib.request.urlopen(f"{base}/crawls/{run['id']}") as r:
                state = json.load(r)
            print(f"crawl state {state['state']}, {state['progress']['pages']} pages", flush=True)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
    lines = [
        "# Daemon API latency under load",
        "",
        f"{args.rate:g} requests/s for {args.seconds:g} s, /healthz and /jobs alternating, from "
        "a separate process (open loop); the daemon's job is `shoal crawl --workers 2` on the "
        "synthetic site with no latency (CPU-bound). "
        f"{os.cpu_count()} CPUs; with the crawl running they were {cpu_busy:.0f}% busy. "
        "Produced by `python bench/daemon_latency.py`.",
        "",
        "| machine | endpoint | requests | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    worst = 0.0
    for label, by_path in results.items():
        for path, values in by_path.items():
            p99 = _pct(values, 0.99)
            if label == "crawl running":
                worst = max(worst, p99)
            lines.append(
                f"| {label} | {path} | {len(values)} | {statistics.median(values):.1f} | "
                f"{p99:.1f} | {max(values):.1f} |"
            )
    lines += ["", f"Target: p99 under 25 ms while the crawl runs: "
              f"{'met' if worst < 25 else 'NOT met'} ({worst:.1f} ms).", ""]  # fmt: skip
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
