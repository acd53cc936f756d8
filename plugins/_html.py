"""The HTML parser the plugins share: lxml's, with lxml.html's element classes looked up in C.

``lxml.html.HTMLParser`` picks each element's class with a Python function (a form element, an
input element ...), called every time Python touches an element: a tenth of a docs page's
conversion. Every element is an ``HtmlElement`` here (``drop_tree``, ``text_content`` and the
rest work); the form-specific classes are not needed by any plugin.
"""

from __future__ import annotations

from typing import cast

from lxml import etree, html

from ..engine._urls import normalize_url

__all__ = ["HTML_PARSER", "page_base", "page_links"]

#: huge_tree: libxml2 otherwise stops at depth 256 and silently loses the rest of the page.
HTML_PARSER = etree.HTMLParser(huge_tree=True)
HTML_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=html.HtmlElement,
        comment=html.HtmlComment,
        pi=html.HtmlProcessingInstruction,
        entity=html.HtmlEntity,
    )
)

# Compiled once: root.xpath(text) compiles its expression on every call.
_BASE_HREF = etree.XPath("//base/@href")
_LINK_HREFS = etree.XPath("//a/@href | //area/@href")


def page_base(root: html.HtmlElement, url: str) -> str:
    """What the page's links resolve against: its first ``<base href>``, else ``url``."""
    for href in cast(list[str], _BASE_HREF(root)):
        return normalize_url(str(href), url) or url
    return url


def page_links(root: html.HtmlElement, base: str) -> list[str]:
    """The page's ``<a>`` and ``<area>`` links, absolute and normalised, each once, in
    document order."""
    seen: set[str] = set()
    links: list[str] = []
    for href in cast(list[str], _LINK_HREFS(root)):
        url = normalize_url(str(href), base)
        if url is not None and url not in seen:
            seen.add(url)
            links.append(url)
    return links
