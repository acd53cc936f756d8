"""Crawler traps: sites that generate new URLs forever. Each crawl must end, bounded by its caps,
with what it skipped counted in the summary.

The trap site is a real aiohttp server on loopback whose pages are generated from the URL:
an infinite calendar, session ids minted on every page view, relative links that repeat path
segments forever, a shop whose every filter combination is a URL, and URLs that double in
length at each step.
"""

from __future__ import annotations

import collections
import itertools
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from aiohttp import web
from conftest import read_jsonl, run_shoal
from testsite import SiteServer, SiteSpec

from shoal.engine._traps import pattern_key, trap_reason
from shoal.engine._urls import normalize_url

_FILTERS = [f"f{i}" for i in range(10)]


def _html(title: str, links: list[str]) -> web.Response:
    anchors = "".join(f'<a href="{href}">{href}</a>' for href in links)
    return web.Response(
        text=f"<html><head><title>{title}</title></head><body>{anchors}</body></html>",
        content_type="text/html",
    )


async def _index(request: web.Request) -> web.Response:
    return _html(
        "traps",
        ["cal/2026/01/", "s/page0.html", "rep/", "shop?f0=1", "long/ab", "ok.html"],
    )


async def _calendar(request: web.Request) -> web.Response:
    year, month = int(request.match_info["y"]), int(request.match_info["m"])
    nxt = (year + month // 12, month % 12 + 1)
    prev = (year - (month == 1), (month - 2) % 12 + 1)
    return _html(f"{year}-{month}", [f"/t/cal/{y}/{m:02d}/" for y, m in (nxt, prev)])


async def _session(request: web.Request) -> web.Response:
    # Five real pages, each link carrying a session id minted for this view.
    links = []
    for n in range(5):
        links.append(f"/t/s/page{n}.html;jsessionid={secrets.token_hex(8)}")
        links.append(f"/t/s/page{n}.html?PHPSESSID={secrets.token_hex(8)}")
    return _html(request.path, links)


async def _repeat(request: web.Request) -> web.Response:
    return _html(request.path, ["a/", "b/"])  # relative: one level deeper, forever


async def _shop(request: web.Request) -> web.Response:
    # Every filter toggled from here is a new URL: 2**10 combinations.
    on = set(request.query)
    links = []
    for name in _FILTERS:
        chosen = sorted(on ^ {name})
        links.append("/t/shop?" + "&".join(f"{f}=1" for f in chosen))
    return _html("shop", links)


async def _long(request: web.Request) -> web.Response:
    tail = request.match_info["tail"]
    return _html("long", [f"/t/long/{tail}{tail}"])


async def _ok(request: web.Request) -> web.Response:
    return _html("ok", [])


@pytest.fixture
async def trap_site() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/t/", _index)
    app.router.add_get("/t/cal/{y:\\d+}/{m:\\d+}/", _calendar)
    app.router.add_get("/t/s/{page}", _session)
    app.router.add_get("/t/rep/{rest:.*}", _repeat)
    app.router.add_get("/t/shop", _shop)
    app.router.add_get("/t/long/{tail}", _long)
    app.router.add_get("/t/ok.html", _ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/t/"
    finally:
        await runner.cleanup()


def _max_repeats(path: str) -> int:
    counts = collections.Counter(s for s in path.split("/") if s)
    return max(counts.values(), default=0)


async def test_traps_end_within_their_caps(trap_site: str, tmp_path: Path) -> None:
    out, stats_json = tmp_path / "out.jsonl", tmp_path / "stats.json"
    done = await run_shoal(
        "crawl",
        trap_site,
        "-o",
        str(out),
        "--stats-json",
        str(stats_json),
        "--max-pages-per-pattern",
        "40",
        "--max-url-length",
        "300",
        "--max-depth",
        "1000",
        "--max-pages",
        "5000",  # the safety net: a trap that got through would end here, failing the test
        "--allow-private",
        "127.0.0.1",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    urls = [str(r["url"]) for r in read_jsonl(out)]
    assert len(urls) == len(set(urls))
    paths = [urlsplit(u) for u in urls]

    calendar = [p for p in paths if p.path.startswith("/t/cal/")]
    assert 10 <= len(calendar) <= 40  # one pattern, /t/cal/0/0/, capped at 40
    sessions = sorted(p.path for p in paths if p.path.startswith("/t/s/"))
    assert sessions == [f"/t/s/page{n}.html" for n in range(5)]  # ids dropped: 5 pages, once
    assert all(p.query == "" for p in paths if p.path.startswith("/t/s/"))
    repeats = [p.path for p in paths if p.path.startswith("/t/rep/")]
    assert repeats and max(map(_max_repeats, repeats)) <= 3
    shop = [p for p in paths if p.path == "/t/shop" and p.query]
    assert 10 <= len(shop) <= 40  # 1,024 filter combinations, one pattern
    long = [u for u in urls if "/t/long/" in u]
    assert long and max(map(len, long)) <= 300
    assert "/t/ok.html" in {p.path for p in paths}

    skipped = orjson.loads(stats_json.read_bytes())["links_skipped"]
    assert {"url_too_long", "path_repeats", "max_pages_per_pattern"} <= set(skipped)
    assert "links not followed (crawler-trap limits)" in done.stderr


async def test_pages_per_host_cap(tmp_path: Path) -> None:
    spec = SiteSpec(pages=60, seed=5)
    hosts = ["127.0.0.10", "127.0.0.11"]
    async with SiteServer(spec, hosts=hosts) as site:
        done = await run_shoal(
            "crawl",
            *site.urls,
            "-o",
            str(tmp_path / "out.jsonl"),
            "--max-pages-per-host",
            "12",
            *itertools.chain.from_iterable(("--allow-private", h) for h in hosts),
        )
    assert done.returncode == 0, done.stderr
    per_host = collections.Counter(
        urlsplit(str(r["url"])).hostname for r in read_jsonl(tmp_path / "out.jsonl")
    )
    assert per_host == dict.fromkeys(hosts, 12)


@pytest.mark.parametrize(
    ("url", "pattern"),
    [
        ("http://127.0.0.10:8080/cal/2031/07/", "127.0.0.10:8080/cal/0/0/"),
        ("http://a.org/cal/1999/12/", "a.org/cal/0/0/"),
        ("http://a.org/search?q=x&page=2", "a.org/search?"),
        ("http://a.org", "a.org/"),
        ("http://b.org/p/12.html", "b.org/p/0.html"),
    ],
)
def test_pattern_keeps_the_host_and_collapses_digits_and_queries(url: str, pattern: str) -> None:
    assert pattern_key(url) == pattern


def test_trap_reasons() -> None:
    assert trap_reason("http://a.org/a/b/a/b/a/b/a/", 2048, 3) == "path_repeats"
    assert trap_reason("http://a.org/a/b/a/b/a/b/", 2048, 3) is None
    assert trap_reason("http://a.org/" + "x" * 2048, 2048, 3) == "url_too_long"
    assert trap_reason("http://a.org/" + "x" * 2048, 0, 0) is None  # 0 turns a check off


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("http://a.org/x;jsessionid=ABC123?q=1", "http://a.org/x?q=1"),
        ("http://a.org/x;JSESSIONID=ABC/y", "http://a.org/x/y"),
        ("http://a.org/p?PHPSESSID=ff&id=3", "http://a.org/p?id=3"),
        ("http://a.org/p?ASPSESSIONIDQQ=1&a=2", "http://a.org/p?a=2"),
        ("http://a.org/p?sid=3", "http://a.org/p?sid=3"),  # too common a name to drop
    ],
)
def test_session_ids_are_normalised_away(url: str, normalised: str) -> None:
    assert normalize_url(url) == normalised
