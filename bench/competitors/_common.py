"""What the benchmark competitors share: options, scope, URL normalisation, parsing, output.

Each competitor runs as ``python bench/competitors/<name>.py URL [URL ...] --out FILE.jsonl
[--concurrency N] [--per-host N] [--max-pages N] [--rate R]``, writes one JSON line per page
that answered 200 with HTML, and prints exactly one line, ``{"pages": N}``, to stdout.

The logic here is deliberately plain (``urllib.parse``, lxml): it is what the competitors
would each write themselves, kept in one place so that they crawl the same set of pages.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree, html
from protego import Protego

__all__ = [
    "REDIRECTS",
    "USER_AGENT",
    "RateLimiter",
    "Robots",
    "Scope",
    "clean_title",
    "is_html",
    "normalize",
    "origin",
    "parse_args",
    "parse_page",
    "print_result",
    "record",
]

USER_AGENT = "shoal-bench"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_LINKS = etree.XPath("//a/@href | //area/@href")
_BASE = etree.XPath("//base/@href")


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("urls", nargs="+", metavar="URL", help="start URLs")
    parser.add_argument("--out", required=True, help="JSON lines output, one per page")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--per-host", type=int, default=16, help="requests in flight per host")
    parser.add_argument("--max-pages", type=int, default=None, help="stop after this many pages")
    parser.add_argument("--rate", type=float, default=None, help="requests/s per host at most")
    parser.add_argument(
        "--strict-per-host",
        action="store_true",
        help="make --per-host a hard cap where that costs speed (Scrapy: a non-asyncio reactor)",
    )
    args = parser.parse_args(argv)
    for url in args.urls:
        if normalize(url, url) is None:
            parser.error(f"not an absolute http(s) URL: {url!r}")
    return args


def normalize(href: str, base: str) -> str | None:
    """``href`` resolved against ``base``, without fragment or ``utm_*`` parameters.

    Scheme and host are lower-cased. ``None`` for anything but an http(s) URL with a host.
    """
    try:
        parts = urlsplit(urljoin(base, href.strip()))
    except ValueError:  # e.g. an unterminated IPv6 literal
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        return None
    query = parts.query
    if query:
        query = "&".join(
            p for p in query.split("&") if p and not p.split("=", 1)[0].lower().startswith("utm_")
        )
    return urlunsplit((scheme, parts.netloc.lower(), parts.path or "/", query, ""))


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a normalised URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Scope:
    """Same scheme, host and port as a start URL, and a path under its directory."""

    def __init__(self, start_urls: Sequence[str]) -> None:
        starts: list[str] = []
        prefixes: list[str] = []
        for url in start_urls:
            normalised = normalize(url, url)
            if normalised is None:
                raise ValueError(f"not an absolute http(s) URL: {url!r}")
            parts = urlsplit(normalised)
            directory = parts.path[: parts.path.rfind("/") + 1]
            starts.append(normalised)
            prefixes.append(f"{parts.scheme}://{parts.netloc}{directory}")
        self.starts = tuple(dict.fromkeys(starts))
        self.prefixes = tuple(dict.fromkeys(prefixes))
        self.origins = tuple(dict.fromkeys(origin(p) for p in self.prefixes))

    def __contains__(self, url: str) -> bool:
        return url.startswith(self.prefixes)


class Robots:
    """robots.txt rules per origin, parsed with Protego; a missing robots.txt allows all."""

    def __init__(self) -> None:
        self._rules: dict[str, Protego | None] = {}

    def add(self, origin: str, status: int, text: str) -> None:
        self._rules[origin] = Protego.parse(text) if status == 200 else None

    def allowed(self, url: str) -> bool:
        rules = self._rules.get(origin(url))
        return rules is None or bool(rules.can_fetch(url, USER_AGENT))


class RateLimiter:
    """At most ``rate`` requests per second per host: each request reserves the next slot."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next: dict[str, float] = {}

    def reserve(self, url: str) -> float:
        """Seconds to wait before sending a request to ``url``'s host."""
        if not self._interval:
            return 0.0
        host = urlsplit(url).netloc
        now = time.monotonic()
        slot = max(now, self._next.get(host, now))
        self._next[host] = slot + self._interval
        return slot - now


def is_html(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in _HTML_TYPES


def clean_title(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def parse_page(body: bytes, url: str, scope: Scope) -> tuple[str, list[str]]:
    """Title and unique in-scope links of an HTML page, honouring ``<base href>``."""
    try:
        root = html.document_fromstring(body)
    except (etree.ParserError, ValueError):  # empty or undecodable
        return "", []
    base = url
    for href in cast(list[str], _BASE(root))[:1]:
        base = urljoin(url, str(href).strip())
    links: dict[str, None] = {}
    for href in cast(list[str], _LINKS(root)):
        link = normalize(str(href), base)
        if link is not None and link in scope:
            links[link] = None
    return clean_title(root.findtext(".//title")), list(links)


def record(url: str, title: str, links: int) -> dict[str, Any]:
    return {"url": url, "status": 200, "title": title, "links": links}


def print_result(pages: int) -> None:
    """The one line a competitor prints to stdout."""
    print(json.dumps({"pages": pages}), flush=True)
