"""Synthetic news: feeds of every format and their articles, served by aiohttp on loopback only.

Used in-process by the RSS tests, and as a subprocess by the RSS benchmark::

    python tests/feedsite.py --feeds 200 --entries 20 --hosts 127.0.0.10,127.0.0.11 --latency-ms 100

prints one JSON line ``{"feeds": [...], "pid": ...}`` once serving, and serves until SIGTERM.

Feed ``j`` is ``/feeds/{j}.xml`` (or ``.json``) on host ``j % hosts``, in the format
``FORMATS[j % 6]``; its entry ``k`` links to ``/articles/{j}/{k}.html`` on host
``(j + k) % hosts``, so a feed's articles are spread over every host, as news is. Feeds answer
conditional GETs (ETag and Last-Modified) with 304 until :meth:`FeedSite.add_entry` changes
them. Articles carry a site's chrome (header, navigation, related links, footer) around an
``<article>``, whose paragraphs :meth:`FeedSite.article_text` gives for the tests to check.
Files of ``tests/feeds/`` (broken feeds from the wild, hand-made) are served as ``/corpus/NAME``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import html
import ipaddress
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from testsite import LogRecord, LoopbackApps, _HostState, summarize

__all__ = ["FORMATS", "FeedSite", "FeedSpec"]

FORMATS = ("rss2.0", "atom1.0", "rss1.0", "json1.1", "rss0.91", "atom0.3")
CORPUS = Path(__file__).resolve().parent / "feeds"
_EPOCH = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

_TOPICS = [
    ("harbour", "The harbour authority approved a new breakwater for the eastern docks"),
    ("orchard", "Growers in the valley reported the largest apple orchard harvest in decades"),
    ("telescope", "Astronomers pointed the new radio telescope at a distant pulsar"),
    ("railway", "The regional railway opened its electrified line to the coast"),
    ("library", "The city library reopened after a two-year renovation of its reading rooms"),
    ("glacier", "Researchers measured how fast the northern glacier retreated this summer"),
    ("vaccine", "Health officials began a vaccine campaign in rural clinics"),
    ("festival", "The river festival drew boat builders from every coastal town"),
]


@dataclass
class FeedSpec:
    feeds: int = 6
    entries: int = 5
    latency_ms: float = 0.0
    #: Paragraphs per article (each one sentence or three).
    paragraphs: int = 6


@dataclass
class _Feed:
    index: int
    format: str
    entries: list[int] = field(default_factory=list)  # entry numbers, newest last
    version: int = 0  # bumped by add_entry: changes the ETag and Last-Modified


class FeedSite(LoopbackApps):
    """Serves a :class:`FeedSpec` on one or more loopback addresses."""

    def __init__(
        self, spec: FeedSpec, hosts: list[str] | None = None, control: bool = False
    ) -> None:
        self.spec = spec
        self.hosts = hosts or ["127.0.0.1"]
        for h in self.hosts:
            if not ipaddress.ip_address(h).is_loopback:
                raise ValueError(f"feed site binds to loopback addresses only, not {h}")
        self.control = control
        self.bases: list[str] = []
        self._runners: list[web.AppRunner] = []
        self._feeds = [
            _Feed(j, FORMATS[j % len(FORMATS)], list(range(spec.entries)))
            for j in range(spec.feeds)
        ]
        self.log: list[LogRecord] = []
        #: (path, If-None-Match, If-Modified-Since, status) of every feed request.
        self.conditional: list[tuple[str, str | None, str | None, int]] = []
        self._states: dict[str, _HostState] = collections.defaultdict(_HostState)
        self._pages: dict[tuple[int, int], bytes] = {}

    # --- what the tests read ------------------------------------------------------------------

    @property
    def feed_urls(self) -> list[str]:
        return [self.feed_url(j) for j in range(self.spec.feeds)]

    def feed_url(self, j: int) -> str:
        ext = "json" if self._feeds[j].format.startswith("json") else "xml"
        return f"{self.bases[j % len(self.bases)]}/feeds/{j}.{ext}"

    def mirror_url(self, j: int) -> str:
        """An RSS 2.0 copy of feed ``j`` whose links reach its articles by other URLs."""
        return f"{self.bases[0]}/feeds/mirror-{j}.xml"

    def article_url(self, j: int, k: int) -> str:
        return f"{self.bases[(j + k) % len(self.bases)]}/articles/{j}/{k}.html"

    def article_title(self, j: int, k: int) -> str:
        topic = _TOPICS[(j * 7 + k) % len(_TOPICS)][0]
        return f"Feed {j} story {k}: the {topic} report"

    def article_text(self, j: int, k: int) -> list[str]:
        """The article's paragraphs, as a reader sees them."""
        topic, lead = _TOPICS[(j * 7 + k) % len(_TOPICS)]
        paragraphs = [f"{lead}, in story {k} of feed {j}."]
        for p in range(1, self.spec.paragraphs):
            paragraphs.append(
                f"Paragraph {p} of story {k} in feed {j} adds detail about the {topic}. "
                f"Officials said the {topic} work would continue through the winter months. "
                f"Residents who spoke at the meeting welcomed the {topic} plans."
            )
        return paragraphs

    def published(self, j: int, k: int) -> datetime:
        return _EPOCH + timedelta(hours=k, minutes=j % 60)

    def entries(self, j: int) -> list[int]:
        return list(self._feeds[j].entries)

    def add_entry(self, j: int) -> int:
        """A new story in feed ``j``; its number."""
        feed = self._feeds[j]
        k = max(feed.entries, default=-1) + 1
        feed.entries.append(k)
        feed.version += 1
        return k

    def fetch_counts(self) -> collections.Counter[str]:
        return collections.Counter(r.path for r in self.log if r.path != "/robots.txt")

    def summary(self) -> dict[str, Any]:
        busiest = max((state.max_in_flight for state in self._states.values()), default=0)
        return summarize(self.log, self._states, busiest)

    def reset(self) -> None:
        self.log.clear()
        self.conditional.clear()
        self._states.clear()

    # --- serving ------------------------------------------------------------------------------

    async def __aenter__(self) -> FeedSite:
        try:
            for h in self.hosts:
                self.bases.append(f"http://{h}:{await self._serve(self._handler(), h)}")
        except BaseException:
            await self.aclose()
            raise
        return self

    def _handler(self) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            if self.control and request.path.startswith("/__site/"):
                return self._control(request.path[len("/__site/") :])
            state = self._states[request.host]
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            start = time.monotonic()
            status = 500
            try:
                if self.spec.latency_ms:
                    await asyncio.sleep(self.spec.latency_ms / 1000)
                response = self._respond(request)
                status = response.status
                return response
            finally:
                state.in_flight -= 1
                self.log.append(
                    LogRecord(request.host, request.path, request.query_string, request.method,
                              status, start, time.monotonic())
                )  # fmt: skip

        return handle

    def _control(self, command: str) -> web.Response:
        if command == "stats":
            return web.json_response(self.summary())
        if command == "reset":
            self.reset()
            return web.json_response({"ok": True})
        return web.Response(status=404, text="no such control")

    def _respond(self, request: web.Request) -> web.Response:
        path = request.path
        if path == "/robots.txt":
            return web.Response(text="User-agent: *\nDisallow: /private/\n")
        if path.startswith("/feeds/"):
            return self._feed(request)
        if path.startswith("/articles/"):
            parts = path.split("/")
            try:
                j, k = int(parts[2]), int(parts[3].removesuffix(".html"))
            except (IndexError, ValueError):
                raise web.HTTPNotFound() from None
            if j >= self.spec.feeds or k not in self._feeds[j].entries:
                raise web.HTTPNotFound()
            body = self._pages.get((j, k)) or self._article(j, k)
            self._pages[(j, k)] = body
            return web.Response(body=body, content_type="text/html", charset="utf-8")
        if path.startswith("/corpus/"):
            name = path[len("/corpus/") :]
            file = CORPUS / name
            if "/" in name or not file.is_file():
                raise web.HTTPNotFound()
            return web.Response(body=file.read_bytes(), content_type="application/xml")
        raise web.HTTPNotFound()

    def _feed(self, request: web.Request) -> web.Response:
        name = request.path[len("/feeds/") :].split(".")[0]
        mirror = name.startswith("mirror-")
        try:
            feed = self._feeds[int(name.removeprefix("mirror-"))]
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        body, content_type = _render_feed(self, feed, mirror=mirror)
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        modified = format_datetime(_EPOCH + timedelta(minutes=feed.version), usegmt=True)
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        headers = {"ETag": etag, "Last-Modified": modified}
        if (inm is not None and inm == etag) or (inm is None and ims == modified):
            self.conditional.append((request.path, inm, ims, 304))
            return web.Response(status=304, headers=headers)
        self.conditional.append((request.path, inm, ims, 200))
        return web.Response(body=body, headers={**headers, "Content-Type": content_type})

    def _article(self, j: int, k: int) -> bytes:
        title = html.escape(self.article_title(j, k))
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in self.article_text(j, k))
        related = "".join(
            f'<li><a href="/articles/{j}/{r}.html">Also read: story {r}</a></li>'
            for r in self._feeds[j].entries[-3:]
        )
        return (
            f"<!doctype html><html><head><meta charset=utf-8><title>{title} | Daily Bugle</title>"
            f'<meta property="og:title" content="{title}"></head><body>'
            '<header class="site-header"><a href="/">Daily Bugle</a>'
            '<nav><a href="/world">World</a> <a href="/sport">Sport</a></nav></header>'
            '<div class="cookie-banner">We use cookies to improve your visit.</div>'
            f'<main><article><h1>{title}</h1><p class="byline">By Staff Reporter</p>'
            f'{paragraphs}</article><aside class="related"><h2>Related stories</h2>'
            f"<ul>{related}</ul></aside></main>"
            '<footer class="site-footer">Copyright Daily Bugle. All rights reserved.</footer>'
            "</body></html>"
        ).encode()


def _render_feed(site: FeedSite, feed: _Feed, *, mirror: bool = False) -> tuple[bytes, str]:
    """The feed in its format; a mirror is an RSS 2.0 copy whose links reach the same
    articles by other URLs (as syndication and tracking parameters do)."""
    j = feed.index
    items = [
        (
            k,
            site.article_title(j, k),
            site.article_url(j, k) + ("?via=mirror" if mirror else ""),
            site.published(j, k),
            site.article_text(j, k)[0],
        )
        for k in reversed(feed.entries)  # newest first, as feeds are
    ]
    title = f"Feed {j}"
    home = site.bases[j % len(site.bases)] + "/"
    kind = "rss2.0" if mirror else feed.format
    if mirror:
        title = f"Mirror of feed {j}"
    if kind == "json1.1":
        doc = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": title,
            "home_page_url": home,
            "items": [
                {
                    "id": f"feed{j}-{k}",
                    "url": url,
                    "title": t,
                    "summary": s,
                    "date_published": d.isoformat().replace("+00:00", "Z"),
                }
                for k, t, url, d, s in items
            ],
        }
        return json.dumps(doc).encode(), "application/feed+json"
    esc = html.escape
    if kind == "rss2.0":
        body = "".join(
            f"<item><title>{esc(t)}</title><link>{esc(url)}</link>"
            f'<guid isPermaLink="false">{"mirror" if mirror else "feed"}{j}-{k}</guid>'
            f"<pubDate>{format_datetime(d)}</pubDate><description>{esc(s)}</description></item>"
            for k, t, url, d, s in items
        )
        doc_s = _rss_document("2.0", title, home, body)
    elif kind == "rss0.91":
        body = "".join(
            f"<item><title>{esc(t)}</title><link>{esc(url)}</link><description>{esc(s)}</description></item>"
            for k, t, url, d, s in items
        )
        doc_s = _rss_document("0.91", title, home, body)
    elif kind == "rss1.0":
        body = "".join(
            f'<item rdf:about="{esc(url)}"><title>{esc(t)}</title><link>{esc(url)}</link>'
            f"<dc:date>{d.isoformat()}</dc:date><description>{esc(s)}</description></item>"
            for k, t, url, d, s in items
        )
        doc_s = (
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>{title}</title><link>{home}</link></channel>{body}</rdf:RDF>"
        )
    else:  # Atom 1.0 and 0.3; links relative to xml:base, as many Atom feeds write them
        ns = "http://www.w3.org/2005/Atom" if kind == "atom1.0" else "http://purl.org/atom/ns#"
        date = "published" if kind == "atom1.0" else "issued"
        body = "".join(
            f'<entry xml:base="{esc(url.rsplit("/", 1)[0])}/"><title>{esc(t)}</title>'
            f'<link rel="alternate" href="{esc(url.rsplit("/", 1)[1])}"/>'
            f"<id>urn:feed{j}:{k}</id><{date}>{d.isoformat()}</{date}>"
            f"<summary>{esc(s)}</summary></entry>"
            for k, t, url, d, s in items
        )
        version = ' version="0.3"' if kind == "atom0.3" else ""
        doc_s = (
            f'<feed xmlns="{ns}"{version}><title>{title}</title>'
            f'<link rel="alternate" href="{home}"/>{body}</feed>'
        )
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + doc_s).encode(), "application/xml"


def _rss_document(version: str, title: str, home: str, items: str) -> str:
    channel = f"<title>{title}</title><link>{home}</link>{items}"
    return f'<rss version="{version}"><channel>{channel}</channel></rss>'


async def _main(args: argparse.Namespace) -> None:
    spec = FeedSpec(feeds=args.feeds, entries=args.entries, latency_ms=args.latency_ms)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with FeedSite(spec, hosts=args.hosts.split(","), control=args.control) as site:
        print(json.dumps({"feeds": site.feed_urls, "pid": os.getpid()}), flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve synthetic feeds and articles on loopback.")
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--hosts", default="127.0.0.1", help="comma-separated loopback IPs")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--control", action="store_true", help="serve /__site/{stats,reset}")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(_main(args))
    except ImportError:
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
