"""`make bench`: shoal against a plain synchronous loop on the same loopback site, same run.

A first, small harness (the full one with Scrapy, an asyncio baseline and the server ceiling is
tracked separately). It serves tests/testsite.py in a subprocess, then for each competitor runs
the crawl ``--runs`` times and prints the median pages/s and the ratio to the plain loop. These
2-core machines are shared and noisy: read the ratios, not the absolute figures.

    python bench/run.py --pages 1000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from lxml import html

ROOT = Path(__file__).resolve().parent.parent
SHOAL = str(Path(sys.executable).parent / "shoal")
sys.path.insert(0, str(ROOT / "tests"))

from testsite import serve_in_subprocess  # noqa: E402 - the site generator lives with the tests


def plain_loop(start: str) -> int:
    """The "before" of every user: fetch one page at a time, parse inline, follow links."""
    prefix = start.rsplit("/", 1)[0] + "/"
    seen, queue, pages = {start}, [start], 0
    while queue:
        url = queue.pop(0)
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                body = resp.read()
        except urllib.error.HTTPError:
            continue
        pages += 1
        root = html.document_fromstring(body)
        base = url
        for href in root.xpath("//base/@href"):
            base = urllib.parse.urljoin(url, str(href))
        for href in root.xpath("//a/@href"):
            link = urllib.parse.urljoin(base, str(href)).split("#", 1)[0]
            if "utm_" in link:
                link = link.split("?", 1)[0]
            if link.startswith(prefix) and "/private/" not in link and link not in seen:
                seen.add(link)
                queue.append(link)
    return pages


def shoal_crawl(workers: int) -> Callable[[str], int]:
    def run(start: str) -> int:
        with tempfile.TemporaryDirectory() as tmp:
            stats = Path(tmp) / "stats.json"
            subprocess.run(
                [
                    SHOAL,
                    "crawl",
                    start,
                    "-o",
                    str(Path(tmp) / "out.jsonl"),
                    "--quiet",
                    "--workers",
                    str(workers),
                    "--allow-private",
                    "127.0.0.1",
                    "--per-host-concurrency",
                    "16",
                    "--stats-json",
                    str(stats),
                ],
                check=True,
            )
            figures = json.loads(stats.read_text())
            print(
                f"    shoal --workers {workers}: loop lag max {figures['loop_lag_max_ms']} ms",
                flush=True,
            )
            return int(figures["pages"])

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with serve_in_subprocess("--pages", str(args.pages)) as urls:
        start = urls[0]
        competitors: dict[str, Callable[[str], int]] = {
            "plain loop (urllib + lxml)": plain_loop,
            "shoal --workers 1": shoal_crawl(1),
            "shoal --workers 2": shoal_crawl(2),
        }
        plain_loop(start)  # warm-up, untimed: every competitor then meets a warm server
        medians: dict[str, float] = {}
        for name, run in competitors.items():
            rates = []
            for _ in range(args.runs):
                began = time.perf_counter()
                pages = run(start)
                rates.append(pages / (time.perf_counter() - began))
            medians[name] = statistics.median(rates)
            print(
                f"{name}: median {medians[name]:.1f} pages/s over {args.runs} runs "
                f"({', '.join(f'{r:.0f}' for r in rates)})",
                flush=True,
            )
        base = medians["plain loop (urllib + lxml)"]
        print("\nratios to the plain loop (wall clock, process start included):")
        for name, value in medians.items():
            print(f"  {name}: {value / base:.2f}x")
        return 0


if __name__ == "__main__":
    sys.exit(main())
