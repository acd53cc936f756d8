"""The plugin contract: the example of docs/plugins.md, installed as a real entry point."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from conftest import allow, run_shoal, serve
from testsite import SiteServer, SiteSpec

DOCS = Path(__file__).parent.parent / "docs" / "plugins.md"


def _example_source() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    example = next(b for b in blocks if "# shoal_wordcount.py" in b)
    return textwrap.dedent(example)


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A directory on PYTHONPATH holding the example module and its entry-point metadata."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "shoal_wordcount.py").write_text(_example_source())
    dist = site / "shoal_wordcount-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shoal-wordcount\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[shoal.plugins]\nwordcount = shoal_wordcount:WordCount\n"
    )
    return site


async def test_example_plugin_runs_from_its_entry_point(plugin_path: Path) -> None:
    spec = SiteSpec(pages=15, seed=31)
    async with SiteServer(spec, host="127.0.0.1") as site:
        done = await run_shoal(
            "crawl",
            site.url,
            "--plugin",
            "wordcount",
            "--workers",
            "2",
            *allow(site.url),
            env={"PYTHONPATH": str(plugin_path)},
        )
    assert done.returncode == 0, done.stderr
    records = done.records()
    assert len(records) == len(spec.expected_paths())
    assert all(isinstance(r["words"], int) and r["words"] > 100 for r in records)
    assert {r["title"] for r in records} == {f"Page {i}" for i in range(len(records))}


async def test_plugin_by_module_path(plugin_path: Path) -> None:
    async with SiteServer(SiteSpec(pages=4, seed=32), host="127.0.0.1") as site:
        done = await run_shoal(
            "crawl",
            site.url,
            "--plugin",
            "shoal_wordcount:WordCount",
            *allow(site.url),
            env={"PYTHONPATH": str(plugin_path)},
        )
    assert done.returncode == 0, done.stderr
    assert len(done.records()) == 4


async def test_broken_plugin_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "broken_plugin.py").write_text("raise ImportError('missing dependency: foo')\n")
    done = await run_shoal(
        "crawl",
        "http://127.0.0.1:9/",
        "--plugin",
        "broken_plugin:Thing",
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert done.returncode == 2
    assert "missing dependency: foo" in done.stderr
    assert "Traceback" not in done.stderr


CRASHING_PLUGIN = """
import os

from shoal.plugins.links import LinksPlugin, parse_links


def parse_or_die(response):
    if response.url.endswith("/p/3.html"):
        os._exit(13)  # as a segfaulting parser would: the process is gone
    if response.url.endswith("/p/4.html"):
        raise RuntimeError("cannot parse this one")
    return parse_links(response)


class Crashing(LinksPlugin):
    name = "crashing"
    parse = staticmethod(parse_or_die)
"""


async def test_a_parse_that_kills_its_process_fails_that_page_only(tmp_path: Path) -> None:
    (tmp_path / "crashing_plugin.py").write_text(CRASHING_PLUGIN)
    spec = SiteSpec(pages=30, seed=33)
    stats = tmp_path / "stats.json"
    async with SiteServer(spec, host="127.0.0.1") as site:
        done = await run_shoal(
            "crawl", site.url, "--plugin", "crashing_plugin:Crashing", "--workers", "1",
            "--stats-json", str(stats), *allow(site.url),
            env={"PYTHONPATH": str(tmp_path)},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    by_path = {r["url"].split("/docs/", 1)[1]: r for r in done.records()}  # type: ignore[union-attr]
    assert by_path["p/3.html"]["error"] == "parse_crashed"
    assert by_path["p/4.html"]["error"] == "parse_error"
    # Pages 3 and 4 lead to 7, 8, 9, 10 (the site is a heap): unreachable once unparsed.
    lost = {"p/7.html", "p/8.html", "p/9.html", "p/10.html"}
    others = {p for p in by_path if p not in {"p/3.html", "p/4.html"}}
    assert all("error" not in by_path[p] for p in others)
    assert len(by_path) >= len(spec.expected_paths()) - len(lost)
    figures = orjson.loads(stats.read_bytes())
    assert figures["parse_pool_restarts"] >= 1
    assert figures["errors"] == {"parse_crashed": 1, "parse_error": 1}


SEEDING_PLUGIN = """
from shoal.plugins.api import Seed
from shoal.plugins.links import LinksPlugin


class Seeding(LinksPlugin):
    name = "seeding"

    def start_requests(self, urls):
        for url in urls:
            yield url
            yield Seed(url + "p/7.html", meta={"why": "seeded"})
"""


async def test_plugin_start_requests_seed_the_crawl(tmp_path: Path) -> None:
    (tmp_path / "seeding_plugin.py").write_text(SEEDING_PLUGIN)
    spec = SiteSpec(pages=12, seed=34)
    async with SiteServer(spec, host="127.0.0.1") as site:
        done = await run_shoal(
            "crawl", site.url, "--plugin", "seeding_plugin:Seeding", "--max-depth", "0",
            *allow(site.url), env={"PYTHONPATH": str(tmp_path)},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # Depth 0 only: the start URL and the plugin's own seed, nothing they link to.
    assert {r["url"] for r in done.records()} == {site.url, site.url + "p/7.html"}


CONDITIONAL_PLUGIN = """
from shoal.plugins.api import Plugin, Seed


class Conditional(Plugin):
    name = "conditional"

    def start_requests(self, urls):
        yield Seed(urls[0], etag='"v1"')
        yield Seed(urls[0] + "dated", last_modified="Sun, 29 Nov 2026 10:00:00 GMT")
        yield Seed(urls[0] + "plain")

    async def handle(self, page, ctx):
        ctx.emit({"url": page.url, "status": page.status, "unchanged": page.unchanged})
"""


async def test_a_seed_with_validators_is_fetched_conditionally(tmp_path: Path) -> None:
    """A plugin that kept a page's ETag or Last-Modified (the RSS plugin, for its feeds) gets
    a 304 back as an unchanged page, without --state or --refresh."""
    (tmp_path / "conditional_plugin.py").write_text(CONDITIONAL_PLUGIN)
    asked: dict[str, tuple[str | None, str | None]] = {}

    async def handle(request: web.Request) -> web.Response:
        inm, ims = request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")
        asked[request.path] = (inm, ims)
        if inm == '"v1"' or ims is not None:
            return web.Response(status=304)
        return web.Response(text="<p>new</p>", content_type="text/html")

    async with serve(handle) as base:
        url = base + "/feeds/"
        done = await run_shoal(
            "crawl", url, "--plugin", "conditional_plugin:Conditional", "--ignore-robots",
            *allow(url), env={"PYTHONPATH": str(tmp_path)},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = {r["url"].rsplit("/", 1)[1]: (r["status"], r["unchanged"]) for r in done.records()}
    assert got == {"": (304, True), "dated": (304, True), "plain": (200, False)}
    assert asked["/feeds/"] == ('"v1"', None)
    assert asked["/feeds/dated"] == (None, "Sun, 29 Nov 2026 10:00:00 GMT")
    assert asked["/feeds/plain"] == (None, None)
