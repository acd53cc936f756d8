"""The Python API: shoal.crawl / shoal.acrawl, progress callbacks, the public surface."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from testsite import SiteServer, SiteSpec

import shoal


def test_public_surface_is_curated() -> None:
    assert shoal.__all__ == sorted(shoal.__all__)
    for name in shoal.__all__:
        assert hasattr(shoal, name), name
    assert issubclass(shoal.BadURLError, shoal.UsageError)
    assert issubclass(shoal.ForbiddenAddressError, shoal.FetchError)
    assert all(
        issubclass(getattr(shoal, n), shoal.ShoalError)
        for n in shoal.__all__
        if n.endswith("Error") and n != "ShoalError"
    )


async def test_acrawl_with_progress(tmp_path: Path) -> None:
    spec = SiteSpec(pages=40, seed=41, latency_ms=20)
    seen: list[shoal.Progress] = []
    async with SiteServer(spec, host="127.0.0.1") as site:
        result = await shoal.acrawl(
            site.url,
            output=tmp_path / "out.jsonl",
            workers=1,
            allow_private=["127.0.0.1"],
            progress=seen.append,
        )
    assert result.stats.pages == len(spec.expected_paths())
    assert result.stats.stopped_by == "complete"
    # The last call carries the final figures, however short the crawl.
    assert seen and seen[-1].pages == result.stats.pages
    lines = (tmp_path / "out.jsonl").read_bytes().splitlines()
    assert len(lines) == result.stats.pages
    assert orjson.loads(lines[0])["depth"] == 0


async def test_crawl_works_inside_a_running_loop(tmp_path: Path) -> None:
    """As in Jupyter: a loop is already running in this thread."""
    spec = SiteSpec(pages=10, seed=42)
    async with SiteServer(spec, host="127.0.0.1") as site:
        # The site is served by this loop, so the blocking call must run elsewhere meanwhile.
        result = await asyncio.to_thread(
            lambda: _call_crawl_with_loop_running(site.url, tmp_path / "o.jsonl")
        )
    assert result.stats.pages == len(spec.expected_paths())


def _call_crawl_with_loop_running(url: str, out: Path) -> shoal.CrawlResult:
    async def inner() -> shoal.CrawlResult:
        return shoal.crawl(url, output=out, workers=1, allow_private=["127.0.0.1"])

    return asyncio.run(inner())


def test_bad_url_raises_usage_error() -> None:
    with pytest.raises(shoal.BadURLError):
        shoal.crawl("mailto:someone@example.org")
