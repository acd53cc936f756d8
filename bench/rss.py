"""`shoal rss` against a plain sequential loop, in one run: articles per second and the ratio.

The site is tests/feedsite.py in its own process: 200 feeds x 20 articles (by default) on 20
loopback hosts, every response 100 ms late. Both sides do the same work per article: fetch the
feed, parse it, fetch the article, extract its main text, analyse it (the local analyzer),
store it in SQLite. The loop is what one writes in an afternoon with requests, using shoal's
own parser, extractor and analyzer so that only the way of working differs.

The loop waits 100 ms per request one after the other, so it runs on the first --loop-feeds
feeds only (its rate does not depend on how many); shoal runs on all of them. Rounds alternate
who goes first; medians are quoted. Per-host politeness is what the server saw: the most
requests in flight on one host at once, against shoal's --per-host-concurrency.

    python bench/rss.py                      # writes bench/rss_results.md
    python bench/rss.py --feeds 40 --rounds 1 --out /tmp/rss.md
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

from shoal.plugins.rss._analysis import ArticleText  # noqa: E402
from shoal.plugins.rss._feeds import parse_feed  # noqa: E402
from shoal.plugins.rss._local import analyze_local  # noqa: E402
from shoal.plugins.rss._parse import article_text  # noqa: E402


class FeedSiteProcess:
    def __init__(self, feeds: int, entries: int, hosts: list[str], latency_ms: float) -> None:
        self._args = [
            sys.executable, str(ROOT / "tests" / "feedsite.py"),
            "--feeds", str(feeds), "--entries", str(entries), "--hosts", ",".join(hosts),
            "--latency-ms", str(latency_ms), "--control",
        ]  # fmt: skip

    def __enter__(self) -> FeedSiteProcess:
        self._proc = subprocess.Popen(self._args, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        self.feeds: list[str] = json.loads(self._proc.stdout.readline())["feeds"]
        self._control = self.feeds[0].split("/feeds/")[0] + "/__site/"
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        self._proc.wait(10)

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self._control + "stats") as r:
            return dict(json.load(r))

    def reset(self) -> None:
        urllib.request.urlopen(self._control + "reset").read()


def run_shoal(feeds: list[str], workdir: Path, hosts: list[str]) -> tuple[float, int]:
    """Wall seconds and articles read, for the whole `shoal rss` command."""
    listing = workdir / "feeds.txt"
    listing.write_text("\n".join(feeds) + "\n")
    db = workdir / "shoal.sqlite"
    db.unlink(missing_ok=True)
    allow = [f"--allow-private={h}" for h in hosts]
    began = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "shoal"), "rss", str(listing), "--db", str(db), "--report",
         str(workdir / "report.md"), "-q", *allow],
        capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"shoal rss failed: {done.stderr}")
    with sqlite3.connect(db) as conn:
        (articles,) = conn.execute("SELECT count(*) FROM analyses").fetchone()
    return wall, int(articles)


def run_loop(feeds: list[str], workdir: Path) -> tuple[float, int]:
    """The afternoon script: one request at a time, everything in order."""
    db_path = workdir / "loop.sqlite"
    db_path.unlink(missing_ok=True)
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE articles (url TEXT PRIMARY KEY, feed TEXT, title TEXT, text TEXT,"
               " summary TEXT, keywords TEXT)")  # fmt: skip
    session = requests.Session()
    began = time.perf_counter()
    articles = 0
    for feed_url in feeds:
        response = session.get(feed_url, timeout=30)
        feed = parse_feed(response.content, feed_url)
        for entry in feed.entries:
            if not entry.link:
                continue
            page = session.get(entry.link, timeout=30)
            title, text = article_text(page.text)
            analysis = analyze_local(ArticleText(url=entry.link, title=title, text=text))
            db.execute(
                "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?)",
                (entry.link, feed_url, title, text, analysis.summary, ",".join(analysis.keywords)),
            )
            db.commit()
            articles += 1
    wall = time.perf_counter() - began
    db.close()
    return wall, articles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--loop-feeds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "rss_results.md")
    args = parser.parse_args()
    hosts = [f"127.0.0.{10 + i}" for i in range(args.hosts)]
    shoal_rates: list[float] = []
    loop_rates: list[float] = []
    politeness: list[int] = []
    duplicates: list[int] = []
    walls: list[float] = []
    with FeedSiteProcess(args.feeds, args.entries, hosts, args.latency_ms) as site, \
            tempfile.TemporaryDirectory(prefix="shoal-bench-rss-") as tmp:  # fmt: skip
        work = Path(tmp)
        for round_ in range(args.rounds):
            order = ["shoal", "loop"] if round_ % 2 == 0 else ["loop", "shoal"]
            for who in order:
                site.reset()
                if who == "shoal":
                    wall, n = run_shoal(site.feeds, work, hosts)
                    stats = site.stats()
                    shoal_rates.append(n / wall)
                    walls.append(wall)
                    politeness.append(max(stats["max_in_flight_per_host"].values()))
                    duplicates.append(stats["duplicates"])
                    print(f"round {round_ + 1}: shoal {n} articles in {wall:.1f} s = "
                          f"{n / wall:.0f}/s, max {politeness[-1]} in flight per host",
                          flush=True)  # fmt: skip
                else:
                    wall, n = run_loop(site.feeds[: args.loop_feeds], work)
                    loop_rates.append(n / wall)
                    print(f"round {round_ + 1}: loop {n} articles in {wall:.1f} s = "
                          f"{n / wall:.2f}/s", flush=True)  # fmt: skip
    shoal_rate, loop_rate = statistics.median(shoal_rates), statistics.median(loop_rates)
    ratio = statistics.median(s / lp for s, lp in zip(shoal_rates, loop_rates, strict=True))
    total = args.feeds * args.entries
    lines = [
        "# RSS: shoal rss against a plain sequential loop",
        "",
        f"{args.feeds} feeds x {args.entries} articles on {args.hosts} loopback hosts, "
        f"{args.latency_ms:g} ms per response (tests/feedsite.py); fetch, parse, extract, "
        "analyse (local analyzer), store, for both. Medians of "
        f"{args.rounds} rounds, alternating who goes first. Produced by `python bench/rss.py`.",
        "",
        "| | articles/s | articles | ratio |",
        "|---|---|---|---|",
        f"| shoal rss (whole command: crawl, store, report) | {shoal_rate:.0f} | {total} | "
        f"{ratio:.0f}x |",
        f"| sequential loop (requests) | {loop_rate:.2f} | {args.loop_feeds * args.entries} "
        "(first feeds only: its rate does not depend on how many) | 1x |",
        "",
        f"Target: at least 50x the loop: {'met' if ratio >= 50 else 'NOT met'} ({ratio:.0f}x).",
        "",
        f"Politeness as the server saw it: at most {max(politeness)} requests in flight on one "
        f"host (shoal's default per-host limit is 4); {max(duplicates)} duplicate requests. "
        f"shoal wall times: {', '.join(f'{w:.1f}' for w in walls)} s.",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
