"""Link and title extraction, run in the worker's process pool (CPU work, off the event loop)."""

from __future__ import annotations

from typing import cast

import msgspec
from lxml import etree, html

from ...engine._urls import normalize_url
from .._html import HTML_PARSER
from ..api import Response

__all__ = ["PageLinks", "parse_links"]

# Compiled once: root.xpath(text) compiles its expression on every call.
_BASE_HREF = etree.XPath("//base/@href")
_LINK_HREFS = etree.XPath("//a/@href | //area/@href")


class PageLinks(msgspec.Struct, frozen=True):
    title: str | None
    #: Absolute, normalised http(s) links in document order, each once.
    links: list[str]


def parse_links(response: Response) -> PageLinks:
    """Title and links of an HTML page, resolved against ``<base href>`` when the page has one."""
    try:
        root = html.document_fromstring(response.text(), parser=HTML_PARSER)
    except (etree.ParserError, ValueError):
        # Empty or undecodable documents have no links; that is a fact about the page, not a bug.
        return PageLinks(title=None, links=[])
    base = response.final_url
    for href in cast(list[str], _BASE_HREF(root)):
        resolved = normalize_url(str(href), base)
        if resolved is not None:
            base = resolved
        break
    title_text = root.findtext(".//title")
    title = " ".join(title_text.split()) if title_text else None
    seen: set[str] = set()
    links: list[str] = []
    for href in cast(list[str], _LINK_HREFS(root)):
        url = normalize_url(str(href), base)
        if url is not None and url not in seen:
            seen.add(url)
            links.append(url)
    return PageLinks(title=title or None, links=links)
