"""The Python API: ``shoal.crawl`` (blocking) and ``shoal.acrawl`` (async)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ._options import CrawlOptions
from ._stats import CrawlStats, Progress
from ._supervisor import Supervisor

__all__ = ["CrawlResult", "acrawl", "crawl"]


class CrawlResult(msgspec.Struct):
    """What a finished crawl returns: its figures and where its output and state are."""

    stats: CrawlStats

    @property
    def pages(self) -> int:
        return self.stats.pages


def _options(urls: str | Sequence[str], kwargs: dict[str, Any]) -> CrawlOptions:
    url_list = [urls] if isinstance(urls, str) else list(urls)
    for key in ("output", "state", "stats_json"):
        if kwargs.get(key) is not None:
            kwargs[key] = str(kwargs[key])
    try:
        return msgspec.convert({"urls": url_list, **kwargs}, CrawlOptions)
    except msgspec.ValidationError as exc:
        raise TypeError(f"bad crawl option: {exc}") from exc


async def acrawl(
    urls: str | Sequence[str],
    *,
    progress: Callable[[Progress], None] | None = None,
    **options: Any,
) -> CrawlResult:
    """Crawl from ``urls`` and return when done. Options are :class:`CrawlOptions` fields.

    ``progress`` is called on the crawl's event loop every half second, and once more with the
    final figures when the crawl ends (so it is called even for a crawl shorter than that).

    Example::

        result = await shoal.acrawl("https://docs.example.org/", output="pages.jsonl",
                                    max_pages=500)
        print(result.stats.pages_per_s)
    """
    supervisor = Supervisor(_options(urls, options), progress=progress)
    return CrawlResult(stats=await supervisor.run())


def crawl(
    urls: str | Sequence[str],
    *,
    progress: Callable[[Progress], None] | None = None,
    **options: Any,
) -> CrawlResult:
    """Blocking form of :func:`acrawl`; also works where a loop already runs (Jupyter).

    In that case the crawl gets its own event loop on a helper thread, and this call waits.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(acrawl(urls, progress=progress, **options))
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = asyncio.run(acrawl(urls, progress=progress, **options))
        except BaseException as exc:  # re-raised in the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=run, name="shoal-crawl")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: CrawlResult = box["result"]
    return result
