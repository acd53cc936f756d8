"""Scrapy as most users run it: a CrawlSpider with a LinkExtractor rule, from CrawlerProcess.

Default Scrapy stack (Twisted's asyncio reactor, robots.txt through Protego, the request
fingerprint dupe filter), told the same scope as the other competitors: the rule allows the
start URLs' directories (scheme, host and port) and its ``process_value`` applies the shared
normalisation (fragment and ``utm_*`` parameters dropped). Items go to ``--out`` through a
jsonlines feed.

Known behaviour of Scrapy 2.19 on its default asyncio reactor: a downloader slot starts every
queued request at once (``transferring`` is only updated when each scheduled task first runs),
so ``--per-host`` is not a hard cap; only ``--concurrency`` is. With a plain Twisted reactor
(e.g. ``TWISTED_REACTOR = "twisted.internet.epollreactor.EPollReactor"``) the cap holds:
``--strict-per-host`` selects it (about 25% slower here), for the scenarios that measure
politeness.
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

from _common import (
    USER_AGENT,
    Scope,
    clean_title,
    is_html,
    normalize,
    parse_args,
    print_result,
    record,
)
from scrapy import Request
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.link import Link
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule


def _normalize_link(value: str) -> str | None:
    """``process_value``: the extractor has already resolved the link against ``<base href>``."""
    return normalize(value, value)


class _LinksOncePerResponse(LinkExtractor):
    """Keeps a response's links in its meta: the callback counts them, the rule follows them."""

    def extract_links(self, response: Any) -> list[Link]:
        links: list[Link] | None = response.meta.get("bench_links")
        if links is None:
            links = super().extract_links(response)
            response.meta["bench_links"] = links
        return links


class DocsSpider(CrawlSpider):
    name = "shoal-bench"

    def __init__(self, urls: list[str], *args: Any, **kwargs: Any) -> None:
        scope = Scope(urls)
        self.start_urls = list(scope.starts)
        # The offsite middleware matches host names only; the rule's regex pins the port.
        self.allowed_domains = sorted({urlsplit(o).hostname or "" for o in scope.origins})
        self.extractor = _LinksOncePerResponse(
            allow=[f"^{re.escape(prefix)}" for prefix in scope.prefixes],
            process_value=_normalize_link,
        )
        self.rules = (Rule(self.extractor, callback="parse_page", follow=True),)
        super().__init__(*args, **kwargs)  # compiles self.rules

    async def start(self) -> AsyncIterator[Any]:
        # Unlike the default (dont_filter=True), the start URLs enter the dupe filter, so a
        # link back to the index does not fetch it a second time.
        for url in self.start_urls:
            yield Request(url)

    def parse_start_url(self, response: Response, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return self.parse_page(response)

    def parse_page(self, response: Response) -> Iterator[dict[str, Any]]:
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        if response.status != 200 or not is_html(content_type):
            return
        title = clean_title(response.xpath("string(//title)").get())
        yield record(response.url, title, len(self.extractor.extract_links(response)))


def crawl(
    start_urls: list[str],
    out: str,
    concurrency: int = 32,
    per_host: int = 16,
    max_pages: int | None = None,
    rate: float | None = None,
    strict_per_host: bool = False,
) -> int:
    settings: dict[str, Any] = {
        "USER_AGENT": USER_AGENT,
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": per_host,
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "RETRY_ENABLED": False,  # nothing is retried, as in the other competitors
        "FEEDS": {out: {"format": "jsonlines", "encoding": "utf-8", "overwrite": True}},
    }
    if rate:
        settings["DOWNLOAD_DELAY"] = 1.0 / rate
        settings["DOWNLOAD_DELAY_JITTER"] = 0.0  # a steady 1/rate, not 0.5x to 1.5x of it
    if max_pages:
        settings["CLOSESPIDER_PAGECOUNT"] = max_pages
    if strict_per_host:
        settings["TWISTED_REACTOR"] = "twisted.internet.epollreactor.EPollReactor"
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(DocsSpider)
    process.crawl(crawler, urls=start_urls)
    process.start()
    assert crawler.stats is not None
    return int(crawler.stats.get_value("item_scraped_count", 0))


def main() -> int:
    args = parse_args(__doc__.split("\n", 1)[0])
    pages = crawl(
        args.urls,
        args.out,
        args.concurrency,
        args.per_host,
        args.max_pages,
        args.rate,
        args.strict_per_host,
    )
    print_result(pages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
