"""The benchmark's instruments: what the site server reports, and how a crawler is measured.

The benchmark's figures are only as good as these, so they are tested like the engine: the
real site server over real loopback HTTP, real processes for the CPU count.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
from pathlib import Path

import aiohttp
from testsite import SiteServer, SiteSpec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from _procs import measure  # bench/ is not a package: on sys.path above


async def test_site_reports_duplicates_in_flight_and_windows_per_host() -> None:
    # Long enough a latency that the three requests on host a, started together, overlap
    # almost wholly even if a loaded machine starts them tens of milliseconds apart.
    spec = SiteSpec(pages=20, latency_ms=400)
    async with (
        SiteServer(spec, hosts=["127.0.0.10", "127.0.0.11"], control=True) as site,
        aiohttp.ClientSession() as session,
    ):
        a, b = site.urls

        async def get(url: str) -> None:
            async with session.get(url) as response:
                await response.read()

        # Three requests at once on host a (one page twice), one on host b.
        await asyncio.gather(get(a + "p/3.html"), get(a + "p/3.html"), get(a), get(b + "p/3.html"))
        async with session.get(a.replace("/docs/", "/__site/stats")) as response:
            stats = await response.json()
    host_a, host_b = (url.split("/")[2] for url in site.urls)
    assert stats["requests"] == 4  # the control request itself is not counted
    # The same path on two hosts is two pages, not a duplicate.
    assert stats["duplicates"] == 1
    assert stats["max_in_flight_per_host"] == {host_a: 3, host_b: 1}
    assert stats["max_per_second_per_host"] == {host_a: 3, host_b: 1}
    assert 0.4 <= stats["span_s"] < 1.3
    assert stats["last_end"] - stats["first_start"] == stats["span_s"]
    # Host a had three requests of ~400 ms at once, host b one: time-weighted, ~3 and 1.
    assert 2.5 < stats["mean_in_flight_per_host"][host_a] <= 3.0
    assert 0.9 < stats["mean_in_flight_per_host"][host_b] <= 1.0


async def test_site_reset_starts_a_new_run() -> None:
    async with SiteServer(SiteSpec(pages=5), control=True) as site:
        base = site.url.replace("/docs/", "/__site/")

        def control(command: str) -> dict[str, object]:
            with urllib.request.urlopen(base + command, timeout=10) as response:
                return dict(json.loads(response.read()))

        await asyncio.to_thread(urllib.request.urlopen, site.url, timeout=10)
        assert (await asyncio.to_thread(control, "count"))["requests"] == 1
        await asyncio.to_thread(control, "reset")
        assert (await asyncio.to_thread(control, "stats"))["requests"] == 0


def test_measure_counts_the_cpu_of_grandchildren(tmp_path: Path) -> None:
    # A crawler's CPU is mostly in its workers and parse processes: a child's child here.
    burn = "import time; t = time.process_time(); exec('while time.process_time() - t < 0.3: pass')"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}], check=True)"
    result = measure([sys.executable, "-c", parent], workdir=tmp_path, every=0.05)
    assert result.returncode == 0
    assert result.cpu >= 0.3
    assert result.peak_rss > 1_000_000
