"""Link and title extraction, run in the worker's process pool (CPU work, off the event loop)."""

from __future__ import annotations

import msgspec
from lxml import etree, html

from .._html import HTML_PARSER, page_base, page_links
from ..api import Response

__all__ = ["PageLinks", "parse_links"]


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
    base = page_base(root, response.final_url)
    title_text = root.findtext(".//title")
    title = " ".join(title_text.split()) if title_text else None
    links = page_links(root, base)
    return PageLinks(title=title or None, links=links)
