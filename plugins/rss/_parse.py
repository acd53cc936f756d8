"""The RSS plugin's parse step, in the process pool: a feed's entries, or an article's main
text with its local analysis.

``parse`` sees only the response, so it tells a feed from an article by what the body is:
servers label feeds as ``text/html``, ``text/plain`` or ``application/octet-stream`` often
enough that the media type alone would lose them.
"""

from __future__ import annotations

import re
from typing import Any, cast

import msgspec
from lxml import etree, html

from .._extract import main_content, plain_text
from .._html import HTML_PARSER
from ..api import Response
from ._analysis import Analysis, ArticleText
from ._feeds import Feed, parse_feed
from ._local import analyze_local

__all__ = ["ArticleDoc", "FeedDoc", "looks_like_feed", "parse_rss"]

# A feed's root element anywhere in the first kilobytes: servers print junk before it (PHP
# warnings, whitespace), and some put a DOCTYPE with an internal subset first.
_FEED_ROOT = re.compile(rb"<(?:[\w.-]+:)?(?:rss|feed|RDF)\b", re.IGNORECASE)
_HTML_START = re.compile(
    rb"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.IGNORECASE | re.DOTALL
)
_JSON_FEED = re.compile(rb'\s*\{.{0,4096}?"version"\s*:\s*"https?://jsonfeed\.org/', re.DOTALL)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")  # UTF-16's lose their NULs first


class FeedDoc(msgspec.Struct, frozen=True, tag="feed"):
    feed: Feed


class ArticleDoc(msgspec.Struct, frozen=True, tag="article"):
    title: str | None
    text: str
    #: The local analysis of ``text`` (cheap, and its word count and language serve every
    #: analyzer); an LLM analyzer adds its own later.
    analysis: Analysis


def looks_like_feed(body: bytes) -> bool:
    """Whether the body is a feed (RSS, RDF, Atom, JSON Feed) rather than a web page."""
    head = body[:8192]
    if head.count(b"\x00") > len(head) // 4:  # UTF-16 or UTF-32, with or without a BOM
        head = head.replace(b"\x00", b"")
    for bom in _BOMS:
        head = head.removeprefix(bom)
    if _HTML_START.match(head):
        return False
    return bool(_JSON_FEED.match(head) or _FEED_ROOT.search(head))


def parse_rss(response: Response) -> FeedDoc | ArticleDoc:
    if looks_like_feed(response.body):
        return FeedDoc(
            parse_feed(
                response.body,
                response.final_url,
                content_type=response.content_type,
                charset=response.charset,
            )
        )
    title, text = article_text(response.text())
    analysis = analyze_local(ArticleText(url=response.final_url, title=title, text=text))
    return ArticleDoc(title=title, text=text, analysis=analysis)


def article_text(markup: str) -> tuple[str | None, str]:
    """An HTML page's title and main text (paragraphs separated by blank lines)."""
    try:
        root = html.document_fromstring(markup, parser=HTML_PARSER)
    except (etree.ParserError, ValueError):
        return None, ""
    title = _title(root)
    return title, plain_text(main_content(root))


# Where an article's title is, best first; compiled once (root.xpath(text) compiles each call).
_TITLES = tuple(
    etree.XPath(path) for path in ("//meta[@property='og:title']/@content", "//h1", "//title")
)


def _title(root: html.HtmlElement) -> str | None:
    for path in _TITLES:
        for found in cast(list[Any], path(root)):
            text = found if isinstance(found, str) else " ".join(found.itertext())
            text = " ".join(str(text).split())
            if text:
                return text
    return None
