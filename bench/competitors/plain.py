"""The "before" of every user: one page at a time with requests, lxml inline, a FIFO queue.

A ``requests.Session`` (keep-alive), a ``deque`` of URLs to fetch and a ``set`` of URLs seen.
No concurrency: ``--concurrency`` and ``--per-host`` are accepted and ignored.
"""

from __future__ import annotations

import collections
import json
import sys
import time

import requests
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

TIMEOUT = 30.0


def crawl(
    start_urls: list[str], out: str, max_pages: int | None = None, rate: float | None = None
) -> int:
    scope = Scope(start_urls)
    limiter = RateLimiter(rate)
    robots = Robots()
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT

    def get(url: str) -> requests.Response:
        delay = limiter.reserve(url)
        if delay:
            time.sleep(delay)
        return session.get(url, timeout=TIMEOUT, allow_redirects=False)

    for site in scope.origins:
        try:
            response = get(f"{site}/robots.txt")
            robots.add(site, response.status_code, response.text)
        except requests.RequestException:
            robots.add(site, 0, "")

    queue: collections.deque[str] = collections.deque()
    seen: set[str] = set()

    def enqueue(url: str) -> None:
        if url not in seen and url in scope and robots.allowed(url):
            seen.add(url)
            queue.append(url)

    for url in scope.starts:
        enqueue(url)
    pages = 0
    with open(out, "w", encoding="utf-8") as sink:
        while queue and (max_pages is None or pages < max_pages):
            url = queue.popleft()
            try:
                response = get(url)
            except requests.RequestException as exc:
                print(f"{url}: {exc!r}", file=sys.stderr)
                continue
            if response.status_code in REDIRECTS:
                target = normalize(response.headers.get("Location", ""), url)
                if target is not None:
                    enqueue(target)
                continue
            if response.status_code != 200 or not is_html(response.headers.get("Content-Type")):
                continue
            title, links = parse_page(response.content, url, scope)
            for link in links:
                enqueue(link)
            sink.write(json.dumps(record(url, title, len(links))) + "\n")
            pages += 1
    session.close()
    return pages


def main() -> int:
    args = parse_args(__doc__.split("\n", 1)[0])
    print_result(crawl(args.urls, args.out, args.max_pages, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
