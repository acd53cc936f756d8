"""The ``rss`` plugin: feeds in, every new article fetched and read, with a local analysis.

One record per fetched URL, for ``shoal rss`` (engine/_cmd_rss.py) to store and report:

* ``{"kind": "feed", "feed", "status", "unchanged", "etag", "last_modified", "format",
  "title", "link", "entries": [...], "error"}`` for a feed; ``unchanged`` when the server
  answered the conditional GET with 304;
* ``{"kind": "article", "feed", "entry", "url", "final_url", "status", "title", "text",
  "analysis", "error"}`` for an article page, which the feed's entry led to.

Options (from ``shoal rss``): ``feeds`` (``[{"url", "etag", "last_modified"}]``: the feeds,
with their validators from the last fetch), ``known`` (entry keys whose article was already
read, and article URLs read within the pages cache's TTL: not fetched again), ``limit`` (new
articles per feed per run), ``since`` (ISO 8601 UTC: older entries are stored but their
articles are not fetched).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..api import Context, Page, Plugin, Response, Seed
from ._feeds import Entry
from ._parse import ArticleDoc, FeedDoc, parse_rss

__all__ = ["RssPlugin", "new_entries"]

# Responses never worth parsing as a feed or an article.
_BINARY = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")


class RssPlugin(Plugin):
    name = "rss"
    parse = staticmethod(parse_rss)

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._known = frozenset(self.options.get("known") or ())
        self._limit: int | None = self.options.get("limit")
        self._since: str | None = self.options.get("since")

    def start_requests(self, urls: Sequence[str]) -> Iterable[str | Seed]:
        feeds = self.options.get("feeds")
        if not feeds:  # `shoal crawl FEED_URL --plugin rss`: the feeds are the URLs
            return [Seed(url, meta={"feed": url}) for url in urls]
        return [
            Seed(f["url"], {"feed": f["url"]}, f.get("etag"), f.get("last_modified")) for f in feeds
        ]

    def wants_parse(self, response: Response) -> bool:
        # Any 2xx but the obviously binary: feeds come labelled text/html, text/plain,
        # application/octet-stream; parse_rss looks at the bytes.
        return 200 <= response.status < 300 and not response.content_type.startswith(_BINARY)

    async def handle(self, page: Page, ctx: Context) -> None:
        meta = page.meta or {}
        feed_url = meta.get("feed", page.url)
        if "entry" in meta:
            ctx.emit(_article_record(page, feed_url, meta["entry"]))
            return
        record: dict[str, Any] = {
            "kind": "feed",
            "feed": feed_url,
            "status": page.status,
            "unchanged": page.unchanged,
            "fetched_at": page.fetched_at,
        }
        if page.response is not None and not page.unchanged:
            record["etag"] = page.response.headers.get("etag")
            record["last_modified"] = page.response.headers.get("last-modified")
        parsed = page.parsed
        if isinstance(parsed, FeedDoc):
            feed = parsed.feed
            record.update(format=feed.kind, title=feed.title, link=feed.link)
            record["entries"] = feed.entries
            if feed.error:
                record["parse_error"] = feed.error
            for entry in new_entries(feed.entries, self._known, self._limit, self._since):
                assert entry.link is not None
                # Articles live anywhere, not under the feed's URL: data the feed names.
                ctx.enqueue(
                    entry.link,
                    meta={"feed": feed_url, "entry": entry.key()},
                    scope_exempt=True,
                )
        elif isinstance(parsed, ArticleDoc) or (page.error is None and not page.unchanged):
            record["error"] = "not_a_feed"
        if page.error is not None:
            record["error"] = page.error
            record["error_detail"] = page.error_detail
        ctx.emit(record)


def new_entries(
    entries: Sequence[Entry], known: frozenset[str], limit: int | None, since: str | None
) -> list[Entry]:
    """The entries whose article is to be fetched: with a link, not read before, not older
    than ``since``; the newest ``limit`` of them."""
    fresh = [
        e
        for e in entries
        if e.link
        and e.key() not in known
        and e.link not in known
        and (since is None or (e.published or "") >= since)
    ]
    if limit is not None and len(fresh) > limit:
        # Undated entries count as oldest: a feed's order is usually newest first, but not always.
        fresh = sorted(fresh, key=lambda e: e.published or "", reverse=True)[:limit]
    return fresh


def _article_record(page: Page, feed_url: str, entry: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "article",
        "feed": feed_url,
        "entry": entry,
        "url": page.url,
        "final_url": page.final_url,
        "status": page.status,
        "fetched_at": page.fetched_at,
    }
    parsed = page.parsed
    if isinstance(parsed, ArticleDoc):
        record.update(title=parsed.title, text=parsed.text, analysis=parsed.analysis)
    elif page.error is None:
        record["error"] = "not_html"
    if page.error is not None:
        record["error"] = page.error
        record["error_detail"] = page.error_detail
    return record
