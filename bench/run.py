"""`make bench`: shoal against Scrapy, a plain loop, an asyncio baseline and the server's ceiling.

Every competitor crawls the same synthetic documentation site (tests/testsite.py, served in its
own process on loopback addresses) under the same limits, in the same invocation, so the ratios
hold even on a shared, noisy 2-core machine. Each figure is the median of ``--runs`` runs, the
competitors taking turns within each round, and each round starting with the next one.

    python bench/run.py            # every scenario, 3 runs (about 15 minutes)
    python bench/run.py --quick    # small sizes, 1 run: under a minute
    python bench/run.py --scenarios A,E --runs 5

Writes bench/results.md, bench/results.json and two PNG charts beside them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil
from _ceiling import ceiling
from _procs import measure
from _report import machine, write_charts, write_json, write_markdown
from _site import BenchSite

BENCH = Path(__file__).resolve().parent
PY = sys.executable
SHOAL = str(Path(sys.executable).parent / "shoal")
COMPETITORS = BENCH / "competitors"


@dataclass
class Limits:
    concurrency: int = 32  # requests in flight in all (per worker for shoal)
    per_host: int = 16
    max_pages: int | None = None
    rate: float | None = None
    strict_per_host: bool = False  # Scrapy: the reactor that makes per-host a hard cap


# --- the competitors: each turns (start URLs, output dir, limits) into a command ---


def _script(name: str, urls: list[str], out: Path, limits: Limits) -> list[str]:
    command = [PY, str(COMPETITORS / name), *urls, "--out", str(out)]
    command += ["--concurrency", str(limits.concurrency), "--per-host", str(limits.per_host)]
    if limits.max_pages:
        command += ["--max-pages", str(limits.max_pages)]
    if limits.rate:
        command += ["--rate", str(limits.rate)]
    if limits.strict_per_host:
        command.append("--strict-per-host")
    return command


def script(name: str) -> Callable[[list[str], Path, Limits], list[str]]:
    """The competitor ``bench/competitors/{name}``, writing ``out.jsonl``."""

    def command(urls: list[str], work: Path, limits: Limits) -> list[str]:
        return _script(name, urls, work / "out.jsonl", limits)

    return command


plain, scrapy, asyncio_baseline = (
    script("plain.py"),
    script("scrapy_spider.py"),
    script("asyncio_baseline.py"),
)


def asyncio_pair(urls: list[str], work: Path, limits: Limits) -> list[str]:
    """Two uncoordinated copies of the baseline, one host each (twice the pages in all)."""
    command = [PY, str(BENCH / "_together.py")]
    for n, url in enumerate(urls[:2]):
        command += [*_script("asyncio_baseline.py", [url], work / f"out-{n}.jsonl", limits), "--"]
    return command


def shoal(*extra: str) -> Callable[[list[str], Path, Limits], list[str]]:
    """``shoal crawl`` with the scenario's limits; ``extra`` options after them."""

    def command(urls: list[str], work: Path, limits: Limits) -> list[str]:
        cmd = [SHOAL, "crawl", *urls, "-o", str(work / "out.jsonl"), "--quiet"]
        cmd += ["--state", str(work / "state.sqlite")]
        cmd += ["--concurrency", str(limits.concurrency)]
        cmd += ["--per-host-concurrency", str(limits.per_host)]
        cmd += ["--max-pages", str(limits.max_pages or 10_000_000)]
        for host in sorted({url.split("/")[2].rsplit(":", 1)[0] for url in urls}):
            cmd += ["--allow-private", host]
        if limits.rate:
            cmd += ["--rate", str(limits.rate)]
        return cmd + list(extra)

    return command


@dataclass
class Competitor:
    key: str
    name: str
    command: Callable[[list[str], Path, Limits], list[str]]
    hosts: int | None = None  # how many of the scenario's start URLs it gets (None: all)
    limits: Limits | None = None  # overrides the scenario's limits


@dataclass
class Scenario:
    key: str
    title: str
    hosts: list[str]
    pages: int  # per host
    limits: Limits
    competitors: list[Competitor]
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    prerender: bool = True
    crawl_hosts: int = 1  # how many of the hosts the crawlers start on
    timeline: bool = False  # sample memory and progress over time; one run is enough
    min_runs: int = 1  # the headline scenario gets more runs: its ratios carry the most noise
    ceiling: tuple[float, str] | None = None  # the server's, measured with scenario A
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def count_pages(work: Path) -> int:
    pages = 0
    for out in work.glob("out*.jsonl"):
        for line in out.read_bytes().splitlines():
            if line.strip() and orjson.loads(line).get("status") == 200:
                pages += 1
    return pages


def run_one(scenario: Scenario, site: BenchSite, competitor: Competitor) -> dict[str, Any]:
    urls = site.urls[: competitor.hosts or scenario.crawl_hosts]
    limits = competitor.limits or scenario.limits
    site.reset()
    with tempfile.TemporaryDirectory(prefix="shoal-bench-") as tmp:
        work = Path(tmp)
        server_cpu = site.cpu()
        probe = site.requests if scenario.timeline else None
        result = measure(
            competitor.command(urls, work, limits), workdir=work, probe=probe, probe_every=0.25
        )
        server_cpu = site.cpu() - server_cpu
        if result.returncode != 0:
            raise SystemExit(
                f"bench: {competitor.name} failed (exit {result.returncode}): "
                + (result.stderr.strip().splitlines() or ["no output"])[-1]
            )
        pages = count_pages(work)
    stats = site.stats()
    return {
        "pages": pages,
        "wall_s": round(result.wall, 3),
        "pages_per_s": round(pages / result.wall, 1),
        "cpu_s": round(result.cpu, 3),
        "cpu_ms_per_page": round(1000 * result.cpu / max(pages, 1), 3),
        "peak_rss_mb": round(result.peak_rss / 2**20, 1),
        "server_cpu_s": round(server_cpu, 3),
        # Of the CPU the site server left free on this machine, the share the crawler used.
        "cpu_share_of_free": round(
            result.cpu / max(psutil.cpu_count() * result.wall - server_cpu, 1e-9), 3
        ),
        "requests": stats["requests"],
        "served_per_s": round(stats["requests"] / stats["span_s"], 1) if stats["span_s"] else 0.0,
        "max_in_flight_per_host": max(stats["max_in_flight_per_host"].values(), default=0),
        "max_per_second_per_host": max(stats["max_per_second_per_host"].values(), default=0),
        "rate_per_host": round(max(stats["rate_per_host"].values(), default=0.0), 2),
        "duplicates": stats["duplicates"],
        "timeline": [[round(s.t, 2), s.rss, s.extra] for s in result.samples],
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))]
    middle = {k: statistics.median(run[k] for run in runs) for k in keys}
    # Politeness figures are worst cases, not medians.
    for k in ("max_in_flight_per_host", "max_per_second_per_host", "duplicates"):
        middle[k] = max(run[k] for run in runs)
    return middle


def scenarios(quick: bool) -> list[Scenario]:
    a_pages = 1_000 if quick else 5_000
    b_pages = 60 if quick else 400
    d_pages = 2_500 if quick else 50_000  # per host, four hosts
    e_pages = 60 if quick else 400
    polite = Limits(concurrency=40, per_host=4, strict_per_host=True)
    shoal_default = Competitor("shoal", "shoal", shoal())
    return [
        Scenario(
            "A",
            f"1 host x {a_pages:,} pages, no latency (CPU-bound)",
            hosts=["127.0.0.10", "127.0.0.11"],
            pages=a_pages,
            min_runs=1 if quick else 5,
            limits=Limits(),
            competitors=[
                Competitor("plain", "plain loop (requests + lxml)", plain),
                Competitor("scrapy", "Scrapy CrawlSpider", scrapy),
                Competitor("asyncio", "asyncio baseline (1 process)", asyncio_baseline),
                Competitor(
                    "asyncio_x2",
                    "2 x asyncio baseline, 1 host each (machine limit)",
                    asyncio_pair,
                    hosts=2,
                ),
                shoal_default,
                *(
                    []
                    if quick
                    else [  # the defaults' evidence (docs/performance.md), in the same run
                        Competitor("shoal_w2", "shoal --workers 2", shoal("--workers", "2")),
                        Competitor(
                            "shoal_p2", "shoal --parse-processes 2", shoal("--parse-processes", "2")
                        ),
                    ]
                ),
            ],
        ),
        Scenario(
            "B",
            f"10 hosts x {b_pages} pages, 100 +/- 50 ms latency, 4 in flight per host",
            hosts=[f"127.0.0.{20 + n}" for n in range(10)],
            pages=b_pages,
            latency_ms=100,
            jitter_ms=50,
            crawl_hosts=10,
            limits=polite,
            competitors=[
                Competitor(
                    "plain",
                    "plain loop (requests + lxml), first pages only",
                    plain,
                    limits=Limits(40, 4, max_pages=30 if quick else 100, strict_per_host=True),
                ),
                Competitor("scrapy", "Scrapy CrawlSpider", scrapy),
                Competitor("asyncio", "asyncio baseline (1 process)", asyncio_baseline),
                shoal_default,
            ],
        ),
        Scenario(
            "D",
            f"4 hosts x {d_pages:,} pages: memory over time",
            hosts=[f"127.0.0.{30 + n}" for n in range(4)],
            pages=d_pages,
            crawl_hosts=4,
            prerender=False,
            timeline=True,
            limits=Limits(),
            # Every page of the synthetic site is /docs/p/N.html: one path pattern, which the
            # default crawler-trap cap (10,000 per pattern) would stop at; real sites vary.
            competitors=[
                Competitor("shoal", "shoal", shoal("--max-pages-per-pattern", "0")),
            ],
        ),
        Scenario(
            "E",
            f"1 host x {e_pages} pages, --rate 20",
            hosts=["127.0.0.40"],
            pages=e_pages,
            limits=Limits(concurrency=32, per_host=16, rate=20),
            competitors=[shoal_default],
        ),
    ]


def run_scenario(scenario: Scenario, runs: int) -> None:
    print(f"\n== {scenario.key}: {scenario.title}", flush=True)
    with BenchSite(
        scenario.hosts,
        scenario.pages,
        latency_ms=scenario.latency_ms,
        jitter_ms=scenario.jitter_ms,
        prerender=scenario.prerender,
    ) as site:
        runs = 1 if scenario.timeline else max(runs, scenario.min_runs)
        for n in range(runs):
            # Each round starts with the next competitor: whoever runs first after a pause
            # (a new site, a reset) was measured slower, the same every round.
            shift = n % len(scenario.competitors)
            for competitor in scenario.competitors[shift:] + scenario.competitors[:shift]:
                run = run_one(scenario, site, competitor)
                scenario.results.setdefault(competitor.key, []).append(run)
                print(
                    f"  run {n + 1}/{runs} {competitor.name}: {run['pages']} pages, "
                    f"{run['pages_per_s']:.0f} pages/s, {run['cpu_ms_per_page']:.2f} CPU-ms/page, "
                    f"peak RSS {run['peak_rss_mb']:.0f} MB, max in flight/host "
                    f"{run['max_in_flight_per_host']}, duplicates {run['duplicates']}",
                    flush=True,
                )
        if scenario.key == "A":
            scenario.ceiling = rate, tool = ceiling(site.urls[0] + "p/1.html")
            print(f"  server ceiling: {rate:.0f} req/s ({tool})")


def checks(done: dict[str, Scenario]) -> list[dict[str, Any]]:
    """The issue's targets against what was measured."""
    found: list[dict[str, Any]] = []

    def med(s: str, c: str, k: str) -> float:
        return float(medians(done[s].results[c])[k])

    def check(scenario: str, target: str, measured: str, ok: bool) -> None:
        found.append({"scenario": scenario, "target": target, "measured": measured, "ok": ok})

    if "A" in done:
        try:
            share = med("A", "shoal", "cpu_share_of_free")
            check("C", ">= 85% of the CPU the server leaves free", f"{share:.0%}", share >= 0.85)
            shoal_rate = med("A", "shoal", "pages_per_s")
            ratio = shoal_rate / med("A", "asyncio", "pages_per_s")
            check("A", ">= 1.5x the asyncio baseline", f"{ratio:.2f}x", ratio >= 1.5)
            ratio = shoal_rate / med("A", "scrapy", "pages_per_s")
            check("A", ">= 12x Scrapy", f"{ratio:.1f}x", ratio >= 12)
        except KeyError:  # that competitor was left out of this run
            pass
    if "B" in done:
        try:
            s = done["B"]
            ceiling_rate = len(s.hosts) * s.limits.per_host / (s.latency_ms / 1000)
            rate = med("B", "shoal", "pages_per_s")
            crawling = med("B", "shoal", "served_per_s")
            check(
                "B",
                f">= 95% of the {ceiling_rate:.0f} pages/s politeness ceiling",
                f"{rate / ceiling_rate:.0%} by the wall clock, "
                f"{crawling / ceiling_rate:.0%} while crawling",
                rate >= 0.95 * ceiling_rate,
            )
            worst = max(r["max_in_flight_per_host"] for r in s.results["shoal"])
            limit = s.limits.per_host
            target = f"never more than {limit} in flight on a host"
            check("B", target, f"max {worst}", worst <= limit)
        except KeyError:  # that competitor was left out of this run
            pass
    if "D" in done:
        try:
            d = done["D"]
            ratio, text = memory_growth(d.results["shoal"][0]["timeline"], d.pages * len(d.hosts))
            check("D", "summed RSS at the end <= 1.2x at 5% of the pages", text, ratio <= 1.2)
        except KeyError:  # that competitor was left out of this run
            pass
    if "E" in done:
        try:
            rate = med("E", "shoal", "rate_per_host")
            target = done["E"].limits.rate or 0.0
            worst = max(r["max_per_second_per_host"] for r in done["E"].results["shoal"])
            check(
                "E",
                f"rate within 5% of {target:g}/s",
                f"{rate:.2f}/s",
                abs(rate - target) <= 0.05 * target,
            )
            check(
                "E",
                f"never above {target:g} in any 1 s window",
                f"max {worst}",
                worst <= target,
            )
        except KeyError:  # that competitor was left out of this run
            pass
    return found


def memory_growth(timeline: list[list[float]], total: int) -> tuple[float, str]:
    """RSS near the end of a crawl of ``total`` pages over RSS once 5% of them were fetched."""
    early = next((rss for _, rss, n in timeline if n >= 0.05 * total), None)
    late = [rss for _, rss, n in timeline if n >= 0.9 * total]
    if not early or not late:
        return float("inf"), "not enough samples"
    ratio = max(late) / early
    return ratio, (
        f"{max(late) / 2**20:.0f} MB at {total:,} vs {early / 2**20:.0f} MB at "
        f"{0.05 * total:,.0f} pages: {ratio:.2f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and 1 run")
    parser.add_argument("--runs", type=int, help="runs per competitor (default 3; quick 1)")
    parser.add_argument("--scenarios", default="A,B,D,E", help="which scenarios (C comes with A)")
    parser.add_argument("--competitors", help="only these (e.g. shoal,asyncio)")
    parser.add_argument("--out", type=Path, default=BENCH, help="where results go")
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    wanted = set(args.scenarios.upper().split(","))
    done: dict[str, Scenario] = {}
    for scenario in scenarios(args.quick):
        if args.competitors:
            keep = set(args.competitors.split(","))
            scenario.competitors = [c for c in scenario.competitors if c.key in keep]
        if scenario.key in wanted and scenario.competitors:
            run_scenario(scenario, runs)
            done[scenario.key] = scenario
    results = {
        "machine": machine(),
        "mode": "quick" if args.quick else "full",
        "runs": runs,
        "scenarios": {
            key: {
                "title": s.title,
                "runs": len(next(iter(s.results.values()))),
                "ceiling": s.ceiling,
                "competitors": {
                    c.key: {
                        "name": c.name,
                        "median": medians(s.results[c.key]),
                        "runs": s.results[c.key],
                    }
                    for c in s.competitors
                },
            }
            for key, s in done.items()
        },
        "checks": checks(done),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(results, args.out / "results.json")
    charts = write_charts(results, args.out)
    write_markdown(results, args.out / "results.md", charts)
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
