"""`shoal crawl` end to end: the real command, real worker processes, a real loopback site."""

from __future__ import annotations

import asyncio
import collections
import itertools
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import orjson
from conftest import SHOAL, allow, paths_of, read_jsonl, run_shoal
from testsite import SiteServer, SiteSpec


async def test_every_page_fetched_exactly_once(tmp_path: Path) -> None:
    spec = SiteSpec(pages=2000, seed=7)
    async with SiteServer(spec, host="127.0.0.1") as site:
        out = tmp_path / "pages.jsonl"
        stats = tmp_path / "stats.json"
        done = await run_shoal(
            "crawl",
            site.url,
            "-o",
            str(out),
            "--workers",
            "2",
            "--stats-json",
            str(stats),
            *allow(site.url),
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        records = read_jsonl(out)
        paths = paths_of(records)
        # Exactly once in the output, and exactly once on the server side.
        assert len(paths) == len(set(paths))
        assert set(paths) == spec.expected_paths()
        fetched = site.fetch_counts()
        html_fetches = {p: n for p, n in fetched.items() if p in spec.expected_paths()}
        assert set(html_fetches) == spec.expected_paths()
        assert max(fetched.values()) == 1, [p for p, n in fetched.items() if n > 1][:5]
    # Robots-disallowed pages were never requested.
    assert not any("/private/" in p for p in fetched)
    figures = orjson.loads(stats.read_bytes())
    assert figures["pages"] == len(spec.expected_paths())
    assert figures["status_counts"] == {"200": len(spec.expected_paths())}
    assert figures["robots_disallowed"] >= 1
    assert figures["workers"] == 2
    # The summary goes to stderr, and nothing else that would alarm a user does.
    assert "pages/s" in done.stderr
    for alarming in ("Traceback", "Warning", "leaked", "died"):
        assert alarming not in done.stderr


async def test_record_fields(tmp_path: Path) -> None:
    spec = SiteSpec(pages=30, seed=3)
    async with SiteServer(spec, host="127.0.0.1") as site:
        done = await run_shoal("crawl", site.url, "--workers", "1", *allow(site.url))
    assert done.returncode == 0, done.stderr
    records = done.records()
    index = next(r for r in records if r["url"] == site.url)
    assert index["status"] == 200
    assert index["depth"] == 0
    assert index["title"] == "Page 0"
    assert isinstance(index["links"], int) and index["links"] > 0
    assert index["bytes"] > 1000
    assert index["final_url"] == site.url
    assert "error" not in index
    for key in ("fetched_at", "elapsed_ms"):
        assert key in index
    assert max(r["depth"] for r in records) >= 2  # type: ignore[type-var]


async def test_max_depth_and_scope(tmp_path: Path) -> None:
    spec = SiteSpec(pages=40, shape="chain", seed=2)
    async with SiteServer(spec, host="127.0.0.1") as site:
        done = await run_shoal("crawl", site.url, "--max-depth", "5", *allow(site.url))
        assert done.returncode == 0, done.stderr
        records = done.records()
        assert {r["depth"] for r in records} == set(range(6))
        # Nothing outside the start URL's path prefix was requested.
        requested = set(site.fetch_counts())
        assert all(p.startswith(spec.prefix) or p == "/robots.txt" for p in requested)


async def test_max_pages(tmp_path: Path) -> None:
    spec = SiteSpec(pages=200, seed=4)
    async with SiteServer(spec, host="127.0.0.1") as site:
        done = await run_shoal(
            "crawl", site.url, "--max-pages", "25", "--workers", "2", *allow(site.url)
        )
    assert done.returncode == 0, done.stderr
    assert len(done.records()) == 25
    assert "max_pages" in done.stderr


async def test_per_host_concurrency_and_rate_hold_across_workers(tmp_path: Path) -> None:
    spec = SiteSpec(pages=60, seed=5, latency_ms=30, jitter_ms=20)
    async with SiteServer(spec, hosts=["127.0.0.10", "127.0.0.11"]) as site:
        done = await run_shoal(
            "crawl",
            *site.urls,
            "--workers",
            "2",
            "--concurrency",
            "16",
            "--per-host-concurrency",
            "3",
            *allow(*site.urls),
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        assert len(done.records()) == 2 * len(spec.expected_paths())
        for url in site.urls:
            host = urlsplit(url).netloc
            assert 1 < site.max_in_flight(host) <= 3

    async with SiteServer(SiteSpec(pages=25, seed=6), host="127.0.0.12") as site:
        done = await run_shoal(
            "crawl", site.url, "--workers", "2", "--rate", "8", *allow(site.url), timeout=180
        )
        assert done.returncode == 0, done.stderr
        # Measured where the requests arrive: 0.1 s of the window is left for the jitter
        # between a grant and its request; a limit held per worker would show 12-16.
        assert site.max_per_window(0.9) <= 8


async def test_crawl_delay_from_robots_is_honoured(tmp_path: Path) -> None:
    spec = SiteSpec(pages=8, seed=8, crawl_delay=0.25)
    async with SiteServer(spec, host="127.0.0.1") as site:
        done = await run_shoal("crawl", site.url, "--workers", "2", *allow(site.url))
        assert done.returncode == 0, done.stderr
        starts = sorted(r.start for r in site.log if r.path != "/robots.txt")
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == len(spec.expected_paths())
    # Each gap carries the difference of two requests' delivery delays; the whole span only
    # the two ends' (without the delay, both would be near zero).
    assert min(gaps) >= 0.2, gaps
    assert starts[-1] - starts[0] >= 0.25 * len(gaps) - 0.02, gaps


async def test_faults_retry_redirect_and_size_limits(tmp_path: Path) -> None:
    spec = SiteSpec(pages=5, seed=9, faults=True)
    async with SiteServer(spec, host="127.0.0.1") as site:
        done = await run_shoal(
            "crawl",
            site.url,
            "--max-bytes",
            "1MB",
            "--timeout",
            "2",
            "--retries",
            "2",  # enough for 503-then-ok; fewer tries of the slow page keep the test short
            "--workers",
            "1",
            *allow(site.url),
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        by_path = {urlsplit(str(r["url"])).path: r for r in done.records()}
        # 503 twice, then OK: retried and recorded once with the final status.
        assert by_path["/docs/fault/503-then-ok"]["status"] == 200
        assert site.hits("/docs/fault/503-then-ok") == 3
        # 429 with Retry-After: 1 -> the retry came at least a second later.
        assert by_path["/docs/fault/429"]["status"] == 200
        starts = [r.start for r in site.log if r.path == "/docs/fault/429"]
        assert len(starts) == 2 and starts[1] - starts[0] >= 0.95
        # A redirect loop ends with an error, not a hang.
        assert by_path["/docs/fault/redirect-loop"]["error"] == "redirect"
        # A redirect is followed and the final URL recorded.
        assert by_path["/docs/fault/redirect"]["status"] == 200
        assert (
            by_path["/docs/fault/redirect"]["final_url"] != by_path["/docs/fault/redirect"]["url"]
        )
        # A 20 MB body is cut off at 1 MB while streaming.
        assert by_path["/docs/fault/big"]["error"] == "too_large"
        # A byte a second: the total timeout ends it.
        assert by_path["/docs/fault/slow"]["error"] == "timeout"
        assert by_path["/docs/fault/notfound"]["status"] == 404
    summary = done.stderr
    assert "retries" in summary
    # Not a terminal: a progress line is logged every few seconds of a long crawl.
    assert "progress:" in summary


async def test_ssrf_refuses_loopback_not_allowed(tmp_path: Path) -> None:
    spec = SiteSpec(pages=5, seed=10)
    async with SiteServer(spec, host="127.0.0.1") as site:
        done = await run_shoal("crawl", site.url, "--workers", "1")
        assert done.returncode == 0, done.stderr
        records = done.records()
        assert len(records) == 1
        assert records[0]["error"] == "forbidden_address"
        assert site.log == []  # not even robots.txt reached the server
        # Allowing another port of the same address is not allowing this one.
        done = await run_shoal(
            "crawl", site.url, "--workers", "1", "--allow-private", "127.0.0.1:1"
        )
        assert done.records()[0]["error"] == "forbidden_address"
        assert site.log == []


async def test_ssrf_rule_applies_to_every_redirect_hop(tmp_path: Path) -> None:
    # A trap "host" on a second loopback address, in scope but never allowed: it must see
    # no request at all, though a page of the allowed site redirects there.
    async with SiteServer(SiteSpec(pages=3, seed=14), host="127.0.0.2") as trap:
        spec = SiteSpec(pages=5, seed=15, redirect_away=trap.url)
        async with SiteServer(spec, host="127.0.0.1") as site:
            done = await run_shoal(
                "crawl", site.url, "--scope", f"{site.url},{trap.url}", *allow(site.url)
            )
        assert done.returncode == 0, done.stderr
        by_path = {urlsplit(str(r["url"])).path: r for r in done.records()}
        assert by_path["/docs/away"]["error"] == "forbidden_address"
        assert set(by_path) == spec.expected_paths()
        assert trap.log == []


async def test_output_appends_on_resume_of_finished_crawl(tmp_path: Path) -> None:
    spec = SiteSpec(pages=20, seed=11)
    out, state = tmp_path / "out.jsonl", tmp_path / "state.sqlite"
    async with SiteServer(spec, host="127.0.0.1") as site:
        first = await run_shoal(
            "crawl", site.url, "-o", str(out), "--state", str(state), *allow(site.url)
        )
        assert first.returncode == 0, first.stderr
        lines = out.read_bytes()
        again = await run_shoal(
            "crawl",
            site.url,
            "-o",
            str(out),
            "--state",
            str(state),
            "--resume",
            *allow(site.url),
        )
        assert again.returncode == 0, again.stderr
        # Nothing new to do: nothing fetched again, nothing lost or duplicated.
        assert out.read_bytes() == lines
        counts = collections.Counter(paths_of(read_jsonl(out)))
        assert max(counts.values()) == 1
        assert max(site.fetch_counts().values()) == 1


async def test_robots_rules_past_the_first_chunk_are_read(tmp_path: Path) -> None:
    # 200 KB of comments before the rule: it arrives in many TCP reads.
    padding = "".join(f"# comment line {i:06d} " + "x" * 60 + "\n" for i in range(2800))
    robots = f"User-agent: *\n{padding}Disallow: /docs/p/2.html\n"
    spec = SiteSpec(pages=12, seed=12, robots=robots, private_pages=0)
    async with SiteServer(spec, host="127.0.0.1") as site:
        done = await run_shoal("crawl", site.url, *allow(site.url))
        assert done.returncode == 0, done.stderr
        assert site.hits("/docs/p/2.html") == 0
        assert "/docs/p/2.html" not in paths_of(done.records())
        assert site.hits("/docs/p/1.html") == 1


async def test_live_progress_line_on_a_terminal(tmp_path: Path) -> None:
    spec = SiteSpec(pages=60, seed=13, latency_ms=40)
    controller, terminal = os.openpty()
    try:
        async with SiteServer(spec, host="127.0.0.1") as site:
            proc = await asyncio.create_subprocess_exec(
                SHOAL, "crawl", site.url, "-o", str(tmp_path / "out.jsonl"),
                "--per-host-concurrency", "2", *allow(site.url),
                stdin=asyncio.subprocess.DEVNULL, stderr=terminal,
            )  # fmt: skip
            os.close(terminal)
            screen = await asyncio.to_thread(_read_all, controller)
            assert await proc.wait() == 0
    finally:
        os.close(controller)
    # Redrawn in place (carriage return, erase line) with the figures a user watches.
    assert "\r\x1b[K" in screen
    progress = [p for p in screen.split("\r") if p.startswith("\x1b[K") and "queued" in p]
    assert len(progress) >= 2
    assert all("pages/s" in p and "in flight" in p and "errors" in p for p in progress)


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


async def test_unreachable_host_is_recorded_with_the_reason() -> None:
    # Nothing listens on a port just freed: robots.txt cannot be fetched, so per RFC 9309
    # nothing may be crawled there, and the record says why.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/docs/"
    done = await run_shoal(
        "crawl", url, "--allow-private", "127.0.0.1", "--robots-retry", "0.2", "--retries", "1"
    )
    assert done.returncode == 0, done.stderr
    [record] = done.records()
    assert record["error"] == "robots_unavailable"
    assert "(after 2 tries)" in str(record["error_detail"])
    assert f"127.0.0.1:{port}/robots.txt" in str(record["error_detail"])
    assert "connect" in str(record["error_detail"]).lower()


async def test_pages_wait_for_an_unavailable_robots_txt_then_are_crawled(tmp_path: Path) -> None:
    # RFC 9309: a 5xx robots.txt means "disallow all" for now, and retry later. The first
    # six robots.txt requests fail (the worker tries 3 times per fetch, so two fetches).
    spec = SiteSpec(pages=20, seed=66, robots_failures=6)
    async with SiteServer(spec, host="127.0.0.1") as site:
        done = await run_shoal(
            "crawl", site.url, "--robots-retry", "0.3", *allow(site.url), timeout=120
        )
        robots_fetches = site.hits("/robots.txt")
    assert done.returncode == 0, done.stderr
    by_path = {urlsplit(str(r["url"])).path: r for r in done.records()}
    assert set(by_path) == spec.expected_paths()
    assert all(r.get("error") is None for r in by_path.values()), by_path
    assert robots_fetches == 7
    assert all(n == 1 for n in site.fetch_counts().values())


async def test_robots_txt_is_fetched_again_when_its_cache_expires(tmp_path: Path) -> None:
    spec = SiteSpec(pages=60, seed=67, latency_ms=40)
    async with SiteServer(spec, host="127.0.0.1") as site:
        done = await run_shoal(
            "crawl", site.url, "--robots-cache", "0.5", "--per-host-concurrency", "2",
            *allow(site.url), timeout=120,
        )  # fmt: skip
        robots_fetches = site.hits("/robots.txt")
    assert done.returncode == 0, done.stderr
    assert len(done.records()) == len(spec.expected_paths())
    assert robots_fetches >= 2


async def test_robots_txt_redirects_are_followed_up_to_five(tmp_path: Path) -> None:
    # RFC 9309 2.3.1.2: follow at least five redirects; past that, robots.txt is unavailable.
    for redirects, private_crawled in ((5, False), (6, None)):
        spec = SiteSpec(pages=10, seed=68, robots_redirects=redirects)
        async with SiteServer(spec, host="127.0.0.1") as site:
            done = await run_shoal(
                "crawl", site.url, "--robots-retry", "0.1", "--retries", "0", *allow(site.url)
            )
        assert done.returncode == 0, done.stderr
        errors = {urlsplit(str(r["url"])).path: r.get("error") for r in done.records()}
        if private_crawled is None:  # six hops: unavailable, nothing crawled
            assert set(errors.values()) == {"robots_unavailable"}, errors
        else:  # five hops: the rules were read, the private pages were not fetched
            assert "robots_disallowed" not in errors.values()
            assert not any("/private/" in p for p in site.fetch_counts()), errors
            assert len(errors) == len(spec.expected_paths())


async def test_refresh_recognises_unchanged_pages_by_their_body(tmp_path: Path) -> None:
    # The test site sends no validators: the body's hash is what tells a page unchanged.
    spec = SiteSpec(pages=20, seed=69)
    out, state, stats = tmp_path / "out.jsonl", tmp_path / "s.sqlite", tmp_path / "stats.json"
    async with SiteServer(spec, host="127.0.0.1") as site:
        base = ["crawl", site.url, "-o", str(out), "--state", str(state), *allow(site.url)]
        assert (await run_shoal(*base)).returncode == 0
        done = await run_shoal(*base, "--refresh", "--stats-json", str(stats))
        assert site.fetch_counts() == collections.Counter(dict.fromkeys(site.fetch_counts(), 2))
    assert done.returncode == 0, done.stderr
    records = read_jsonl(out)
    assert len(records) == 2 * len(spec.expected_paths())
    second = records[len(spec.expected_paths()) :]
    assert all(r.get("unchanged") for r in second if r["status"] == 200)
    figures = orjson.loads(stats.read_bytes())
    assert figures["unchanged"] == sum(1 for r in second if r["status"] == 200)
    refused = await run_shoal("crawl", site.url, "--refresh")
    assert refused.returncode == 2 and "--refresh needs --state" in refused.stderr
