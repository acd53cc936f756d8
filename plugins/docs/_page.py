"""One documentation page, parsed in the process pool: title, Markdown, links, canonical URL."""

from __future__ import annotations

from typing import cast

import msgspec
from lxml import etree, html

from ...engine._urls import normalize_url
from .._extract import main_content
from .._html import HTML_PARSER, page_base, page_links
from ..api import Response
from ._markdown import to_markdown
from ._sitemap import is_gzipped_sitemap, read_sitemap

__all__ = ["DocPage", "parse_doc"]

# Where generators put the site's table of contents: <nav> and navigation landmarks, Sphinx's
# toctree and sidebar, Material's md-nav, Docusaurus's menu. A union: in document order.
_NAV_LINKS = (
    "//nav//a/@href | //*[@role='navigation']//a/@href"
    " | //*[contains(@class, 'toctree')]//a/@href"
    " | //*[contains(@class, 'sphinxsidebar')]//a/@href"
    " | //*[contains(@class, 'md-nav')]//a/@href | //*[contains(@class, 'menu__list')]//a/@href"
)
# Compiled once: root.xpath(text) compiles its expression on every call.
_CANONICAL_HREF = etree.XPath("//link[@rel='canonical']/@href")
_NAV_HREFS = etree.XPath(_NAV_LINKS)
_XML_TYPES = frozenset({"application/xml", "text/xml"})


class DocPage(msgspec.Struct, frozen=True):
    title: str | None
    markdown: str
    #: Absolute, normalised links of the whole page (navigation included: it is how a
    #: documentation site links its pages), each once, in document order.
    links: list[str]
    #: The page's rel=canonical URL, normalised, when it names one.
    canonical: str | None = None
    #: Links in the page's navigation (sidebar, toctree), in order: the site's own order.
    nav: list[str] = msgspec.field(default_factory=list)
    #: This was a sitemap: ``links`` are its pages, there is no page to record.
    sitemap: bool = False
    #: A sitemap index's sitemaps.
    sitemaps: list[str] = msgspec.field(default_factory=list)


def parse_doc(response: Response) -> DocPage:
    """The page's main content as Markdown, with its title, links and canonical URL; for a
    sitemap, only its links (``markdown`` empty)."""
    if (
        response.content_type in _XML_TYPES
        or response.final_url.endswith(".xml")
        or is_gzipped_sitemap(response.final_url)
    ):
        return _sitemap(response)
    try:
        root = html.document_fromstring(response.text(), parser=HTML_PARSER)
    except (etree.ParserError, ValueError):
        return DocPage(title=None, markdown="", links=[])
    base = page_base(root, response.final_url)
    canonical = None
    for href in cast(list[str], _CANONICAL_HREF(root)):
        canonical = normalize_url(str(href), base)
        break
    links = page_links(root, base)
    nav: list[str] = []
    nav_seen: set[str] = set()
    for href in cast(list[str], _NAV_HREFS(root)):
        url = normalize_url(str(href), base)
        page = url.partition("#")[0] if url is not None else None
        if page is not None and page not in nav_seen:
            nav_seen.add(page)
            nav.append(page)
    content = main_content(root)
    title = _title(root, content)
    markdown = to_markdown(content, base)
    return DocPage(title=title, markdown=markdown, links=links, canonical=canonical, nav=nav)


def _sitemap(response: Response) -> DocPage:
    """The <loc> URLs of a sitemap, or the sitemaps of a sitemap index; nothing from a broken
    one (it is still a sitemap: there is no page to record)."""
    sitemap = read_sitemap(response.body, response.final_url)
    if sitemap is None:
        return DocPage(title=None, markdown="", links=[], sitemap=True)
    if sitemap.index:
        return DocPage(title=None, markdown="", links=[], sitemap=True, sitemaps=sitemap.locs)
    return DocPage(title=None, markdown="", links=sitemap.locs, sitemap=True)


def _title(root: html.HtmlElement, content: html.HtmlElement) -> str | None:
    """The content's first heading, else the document title (which carries the site name)."""
    for heading in content.iter("h1", "h2"):
        text = " ".join(" ".join(heading.itertext()).split()).rstrip("¶#").strip()
        if text:
            return text
    text = root.findtext(".//title")
    return " ".join(text.split()) or None if text else None
