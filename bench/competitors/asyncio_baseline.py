"""What a competent engineer writes in an afternoon: one process, one uvloop loop, aiohttp.

A pooled ``aiohttp.ClientSession`` (``TCPConnector(limit=concurrency,
limit_per_host=per_host)``), ``--concurrency`` worker tasks pulling from an ``asyncio.Queue``,
lxml parsing inline on the event loop, an in-memory seen set, robots.txt fetched once per host
before crawling it, and output serialised with orjson through a buffered file.
"""

from __future__ import annotations

import asyncio
import sys
from typing import BinaryIO

import aiohttp
import orjson
import uvloop
from _common import (
    REDIRECTS,
    USER_AGENT,
    RateLimiter,
    Robots,
    Scope,
    is_html,
    normalize,
    parse_args,
    parse_page,
    print_result,
    record,
)

TIMEOUT = aiohttp.ClientTimeout(total=30)


class Crawler:
    def __init__(
        self,
        start_urls: list[str],
        sink: BinaryIO,
        max_pages: int | None = None,
        rate: float | None = None,
    ) -> None:
        self.scope = Scope(start_urls)
        self.sink = sink
        self.max_pages = max_pages
        self.limiter = RateLimiter(rate)
        self.robots = Robots()
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.seen: set[str] = set()
        self.pages = 0

    @property
    def done(self) -> bool:
        return self.max_pages is not None and self.pages >= self.max_pages

    async def run(self, concurrency: int, per_host: int) -> int:
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=per_host)
        headers = {"User-Agent": USER_AGENT}
        async with aiohttp.ClientSession(
            connector=connector, headers=headers, timeout=TIMEOUT
        ) as session:
            await asyncio.gather(*(self.fetch_robots(session, o) for o in self.scope.origins))
            for url in self.scope.starts:
                self.enqueue(url)
            workers = [asyncio.create_task(self.worker(session)) for _ in range(concurrency)]
            await self.queue.join()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        return self.pages

    async def fetch_robots(self, session: aiohttp.ClientSession, site: str) -> None:
        try:
            await self.throttle(site)
            async with session.get(f"{site}/robots.txt", allow_redirects=False) as response:
                self.robots.add(site, response.status, await response.text(errors="replace"))
        except (aiohttp.ClientError, TimeoutError):
            self.robots.add(site, 0, "")

    def enqueue(self, url: str) -> None:
        if url not in self.seen and url in self.scope and self.robots.allowed(url):
            self.seen.add(url)
            self.queue.put_nowait(url)

    async def throttle(self, url: str) -> None:
        delay = self.limiter.reserve(url)
        if delay:
            await asyncio.sleep(delay)

    async def worker(self, session: aiohttp.ClientSession) -> None:
        while True:
            url = await self.queue.get()
            try:
                if not self.done:
                    await self.fetch(session, url)
            except Exception as exc:  # one bad page must not stop the worker
                print(f"{url}: {exc!r}", file=sys.stderr)
            finally:
                self.queue.task_done()

    async def fetch(self, session: aiohttp.ClientSession, url: str) -> None:
        await self.throttle(url)
        async with session.get(url, allow_redirects=False) as response:
            if response.status in REDIRECTS:
                target = normalize(response.headers.get("Location", ""), url)
                if target is not None:
                    self.enqueue(target)
                return
            if response.status != 200 or not is_html(response.headers.get("Content-Type")):
                return
            body = await response.read()
        if self.done:
            return
        title, links = parse_page(body, url, self.scope)
        for link in links:
            self.enqueue(link)
        self.sink.write(
            orjson.dumps(record(url, title, len(links)), option=orjson.OPT_APPEND_NEWLINE)
        )
        self.pages += 1


async def crawl(
    start_urls: list[str],
    out: str,
    concurrency: int = 32,
    per_host: int = 16,
    max_pages: int | None = None,
    rate: float | None = None,
) -> int:
    # Opened before the loop does anything else; writes go through the 1 MiB buffer.
    with open(out, "wb", buffering=1 << 20) as sink:  # noqa: ASYNC230
        return await Crawler(start_urls, sink, max_pages, rate).run(concurrency, per_host)


def main() -> int:
    args = parse_args(__doc__.split("\n", 1)[0])
    pages = uvloop.run(
        crawl(args.urls, args.out, args.concurrency, args.per_host, args.max_pages, args.rate)
    )
    print_result(pages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
