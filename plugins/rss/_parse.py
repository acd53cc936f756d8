"""The RSS plugin's parse step, in the process pool: a feed's entries, or an article's main
text with its local analysis.

``parse`` sees only the response, so it tells a feed from an article by what the body is:
servers label feeds as ``text/html``, ``text/plain`` or ``application/octet-stream`` often
enough that the media type alone would lose them.
"""

from __future__ import annotations

import re

import msgspec
from lxml import etree, html

from .._extract import main_content, plain_text
from .._html import HTML_PARSER
from ..api import Response
from ._analysis import Analysis, ArticleText
from ._feeds import Feed, parse_feed
from ._local import analyze_local

__all__ = ["ArticleDoc", "FeedDoc", "looks_like_feed", "parse_rss"]

# The start of a feed document, after a BOM, whitespace, an XML declaration, comments and
# processing instructions: an RSS, RDF or Atom root, or a JSON Feed's version key.
_FEED_START = re.compile(
    rb"\s*(?:<\?xml[^>]*>\s*|<!--.*?-->\s*|<\?[^>]*>\s*|<!DOCTYPE[^>]*>\s*)*"
    rb"<(?:rss|feed|(?:\w+:)?RDF|channel)\b",
    re.IGNORECASE | re.DOTALL,
)
_JSON_FEED = re.compile(rb'\s*\{.{0,4096}?"version"\s*:\s*"https?://jsonfeed\.org/', re.DOTALL)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class FeedDoc(msgspec.Struct, frozen=True, tag="feed"):
    feed: Feed


class ArticleDoc(msgspec.Struct, frozen=True, tag="article"):
    title: str | None
    text: str
    #: The local analysis of ``text`` (cheap, and its word count and language serve every
    #: analyzer); an LLM analyzer adds its own later.
    analysis: Analysis


def looks_like_feed(body: bytes) -> bool:
    head = body[:8192]
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
            if bom != _BOMS[0]:  # UTF-16: the markup's ASCII letters are every other byte
                head = head.replace(b"\x00", b"")
            break
    return bool(_FEED_START.match(head) or _JSON_FEED.match(head))


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


def _title(root: html.HtmlElement) -> str | None:
    for path in ("//meta[@property='og:title']/@content", "//h1", "//title"):
        for found in root.xpath(path):
            text = found if isinstance(found, str) else " ".join(found.itertext())
            text = " ".join(str(text).split())
            if text:
                return text
    return None
