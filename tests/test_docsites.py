"""The documentation fixture sites: they build, their truth matches what was built, they are served.

The docs plugin's tests compare its Markdown with ``docsites.truth``; these tests make sure that
truth is right, element by element, against the HTML the real generators produced.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import aiohttp
import pytest
from docsites import fixtures
from docsites.build import SOURCES, build_sites
from docsites.serve import DocSiteServer
from docsites.truth import MARKER, SITES, Element, Kind, Page, Site
from lxml import html

# The fixtures, for this module (pytest finds fixtures among a module's names).
docsites = fixtures.docsites
docsite_server = fixtures.docsite_server

ALL_PAGES = [(site, page) for site in SITES.values() for page in site.pages]
PAGE_IDS = [f"{site.name}:{page.path or 'index'}" for site, page in ALL_PAGES]

# A stand-in for the URL a site is served at, to resolve links against.
BASE = "http://site.test/"


# --- reading the built HTML -------------------------------------------------------------------

_BLOCKS = frozenset(
    {"p", "div", "pre", "blockquote", "figure", "details", "aside", "section", "header", "footer"}
    | {"ul", "ol", "dl", "table", "nav", "form", *(f"h{n}" for n in range(1, 7))}
)
# What a reader does not see as the element's text: permalinks, footnote numbers and
# back-links, line numbers, buttons and toggles.
_NOT_TEXT_CLASSES = frozenset(
    {"headerlink", "hash-link", "anchor", "doc-anchor", "linenos", "linenodiv"}
    | {"footnote-ref", "footnote-reference", "footnote-backref", "view-source-button"}
)
_NOT_TEXT_TAGS = frozenset({"button", "label", "input", "script", "style", "svg"})
_PERMALINK_SIGNS = frozenset(["", "¶", "§", "#", "↩", "\u200b"])

# Which element carries each kind: the nearest of these tags around the marker.
_TAGS: dict[Kind, frozenset[str]] = {
    Kind.PARAGRAPH: frozenset({"p", "div"}),
    Kind.LIST_ITEM: frozenset({"li"}),
    Kind.TABLE_CELL: frozenset({"td", "th", "div"}),
    Kind.CODE: frozenset({"pre"}),
    Kind.ADMONITION: frozenset({"p", "div"}),
    Kind.TERM: frozenset({"dt"}),
    Kind.DEFINITION: frozenset({"dd", "p"}),
    Kind.BLOCKQUOTE: frozenset({"p"}),
    Kind.LINK: frozenset({"a"}),
    Kind.EMPHASIS: frozenset({"em", "i"}),
    Kind.STRONG: frozenset({"strong", "b"}),
    Kind.INLINE_CODE: frozenset({"code", "tt"}),
    Kind.CAPTION: frozenset({"figcaption", "caption", "span", "div", "p", "summary", "th"}),
    Kind.FOOTNOTE: frozenset({"p", "li", "div"}),
    Kind.SIGNATURE: frozenset({"dt", "div", "h3", "h4"}),
    Kind.TAB_LABEL: frozenset({"label"}),
}
# Their own text leaves out nested blocks (a list item's sub-list, a paragraph's code block).
_OWN_TEXT = {Kind.PARAGRAPH, Kind.ADMONITION, Kind.DEFINITION, Kind.FOOTNOTE, Kind.BLOCKQUOTE}

_LANG_PREFIX = re.compile(r"^(?:highlight|language|lang)-(.+)$")
_NO_LANGUAGE = frozenset({"default", "none", "text"})


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).replace("\u200b", "").split())


def normalize_code(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def classes(el: html.HtmlElement) -> list[str]:
    return (el.get("class") or "").split()


def visible_text(el: html.HtmlElement, without: frozenset[str] = frozenset()) -> str:
    """The element's text as a reader sees it: no permalinks, buttons or line numbers; <br> as a
    newline; descendants whose tag is in ``without`` left out."""
    el = copy.deepcopy(el)
    for child in list(el.iterdescendants("*")):
        if child.getparent() is None:
            continue  # inside something already dropped
        tag = child.tag
        if tag == "br":
            child.tail = "\n" + (child.tail or "")
            child.drop_tree()
        elif (
            tag in _NOT_TEXT_TAGS
            or tag in without
            or _NOT_TEXT_CLASSES.intersection(classes(child))
            or (tag == "sup" and (child.get("id") or "").startswith("fnref"))
            or (
                tag == "a"
                and (child.get("href") or "").startswith("#")
                and child.text_content().strip() in _PERMALINK_SIGNS
            )
        ):
            child.drop_tree()
    return str(el.text_content())


def main_containers(doc: html.HtmlElement, page: Page) -> list[html.HtmlElement]:
    found = doc.xpath(" | ".join(page.main))
    assert found, f"{page.path}: no main container {page.main}"
    return list(found)


def elements_in(containers: list[html.HtmlElement]) -> Iterator[html.HtmlElement]:
    for container in containers:
        for el in container.iter():
            if isinstance(el.tag, str):  # not a comment
                yield el


def candidates(containers: list[html.HtmlElement], element: Element) -> list[html.HtmlElement]:
    """The HTML elements that may carry ``element``: around each innermost place that holds its
    marker, the nearest element with one of its kind's tags."""
    marker = element.marker
    holders = [el for el in elements_in(containers) if marker in normalize(el.text_content())]
    innermost = [
        el
        for el in holders
        if not any(marker in normalize(c.text_content()) for c in el.iterchildren("*"))
    ]
    tags = frozenset({f"h{element.level}"}) if element.kind is Kind.HEADING else _TAGS[element.kind]
    found: list[html.HtmlElement] = []
    for el in innermost:
        while el is not None and el.tag not in tags:
            el = el.getparent()
        if el is not None:
            found.append(el)
    return found


def text_of(el: html.HtmlElement, element: Element) -> str:
    if element.kind is Kind.CODE:
        return normalize_code(visible_text(el))
    if element.kind is Kind.LIST_ITEM:
        return normalize(visible_text(el, frozenset({"ul", "ol"})))
    return normalize(visible_text(el, _BLOCKS if element.kind in _OWN_TEXT else frozenset()))


def locate(containers: list[html.HtmlElement], element: Element) -> html.HtmlElement:
    """The one HTML element of ``element``'s kind whose text is ``element``'s text."""
    found = candidates(containers, element)
    matching = [el for el in found if text_of(el, element) == element.text]
    assert len(matching) == 1, (
        f"{element.kind} {element.marker!r}: {len(matching)} matches; "
        f"candidates {[(el.tag, text_of(el, element)) for el in found]}"
    )
    return matching[0]


def ancestors(el: html.HtmlElement, levels: int) -> list[html.HtmlElement]:
    found: list[html.HtmlElement] = []
    parent = el.getparent()
    while parent is not None and len(found) < levels:
        found.append(parent)
        parent = parent.getparent()
    return found


def list_depth(li: html.HtmlElement) -> int:
    """1 for an item of an outermost list. Lists that hold whole sections (Javadoc lays out its
    member details so) are layout, not lists: counting stops at the nearest section."""
    depth = 1
    for el in ancestors(li, 99):
        if el.tag in ("section", "article", "main"):
            break
        depth += el.tag == "li"
    return depth


def languages(pre: html.HtmlElement) -> set[str]:
    """Languages that the classes around a <pre> declare (``highlight-python``, ``language-js``,
    rustdoc's bare ``rust``)."""
    found: set[str] = set()
    for el in [pre, *pre.iterdescendants("code"), *ancestors(pre, 6)]:
        for name in classes(el):
            match = _LANG_PREFIX.match(name)
            if match:
                found.add(match.group(1))
            elif name == "rust":
                found.add(name)
    return found


def check_element(containers: list[html.HtmlElement], element: Element, page_url: str) -> None:
    where = f"{element.kind} {element.marker!r}"
    if element.kind is Kind.IMAGE:
        images = [
            i
            for i in elements_in(containers)
            if i.tag == "img" and element.marker in (i.get("alt") or "")
        ]
        assert len(images) == 1, where
        assert normalize(images[0].get("alt") or "") == element.text, where
        assert element.target is not None
        assert urljoin(page_url, images[0].get("src")) == urljoin(BASE, element.target), where
        return
    el = locate(containers, element)
    if element.kind is Kind.CODE:
        langs = languages(el)
        if element.lang is None:
            assert langs <= _NO_LANGUAGE, f"{where}: declares {langs}"
        else:
            assert element.lang in langs, f"{where}: declares {langs}"
        return
    if element.kind is Kind.LIST_ITEM:
        assert list_depth(el) == element.level, where
        assert (el.getparent().tag == "ol") is element.ordered, where
    elif element.kind is Kind.TABLE_CELL and el.tag in ("td", "th"):
        assert (el.tag == "th") is element.header, where
    elif element.kind is Kind.BLOCKQUOTE:
        assert any(a.tag == "blockquote" for a in ancestors(el, 3)), where
    elif element.kind is Kind.LINK:
        assert element.target is not None
        assert urljoin(page_url, el.get("href")) == urljoin(BASE, element.target), where
    elif element.kind is Kind.ADMONITION:
        assert element.admonition is not None
        boxes = [a for a in ancestors(el, 3) if any(element.admonition in c for c in classes(a))]
        if not boxes:
            boxes = [el] if any(element.admonition in c for c in classes(el)) else []
        assert boxes, f"{where}: in no box of class {element.admonition!r}"
        if element.title is not None:
            assert element.title in normalize(visible_text(boxes[0])), where


# --- the builds ---------------------------------------------------------------------------------


def test_builds_produce_every_page(docsites: dict[str, Path]) -> None:
    assert set(docsites) == set(SITES)
    for site in SITES.values():
        for page in site.pages:
            assert (docsites[site.name] / page.file).is_file(), f"{site.name}: {page.file}"
    assert (docsites["sphinx"] / "_images" / "kelp.png").is_file()
    assert (docsites["mkdocs"] / "images" / "kelp.png").is_file()
    assert (docsites["mkdocs"] / "404.html").is_file()


def test_an_up_to_date_build_is_not_redone(docsites: dict[str, Path]) -> None:
    cache = next(iter(docsites.values())).parent
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.stamp")}
    started = time.monotonic()
    assert build_sites(cache) == docsites
    assert time.monotonic() - started < 2.0
    assert {p.name: p.stat().st_mtime_ns for p in cache.glob("*.stamp")} == stamps


# --- the truth ----------------------------------------------------------------------------------


@pytest.mark.parametrize("site", SITES.values(), ids=list(SITES))
def test_truth_is_consistent(site: Site) -> None:
    for page in site.pages:
        assert len(page.markers) == len(set(page.markers)), f"{page.path}: a marker used twice"
    # Site-wide too, but for links titled with another page's title (Sphinx's toctree).
    own = [
        m for pg in site.pages for e in pg.elements if (m := e.marker) and e.kind is not Kind.LINK
    ]
    assert len(own) == len(set(own)), "a marker is the own marker of two elements"
    own = [
        m for m in set(own) | {m for pg in site.pages for m in pg.markers} if MARKER.fullmatch(m)
    ]
    for a in own:
        for b in own:
            assert a == b or a not in b, f"{a} is part of {b}"
    for page in site.pages:
        texts = [e.text for e in page.elements] + [e.title for e in page.elements if e.title]
        for element in page.elements:
            assert element.marker in element.text, element
        for text in page.chrome + page.optional:
            clashes = [t for t in texts if text in t]
            assert not clashes, f"{page.path}: chrome/optional {text!r} is in content {clashes}"
        # Every marker written in the source is accounted for (in a text, a title, a link's
        # target or the optional strings), and every element's own marker is in the source.
        written = set(MARKER.findall((SOURCES / site.name / page.source).read_text()))
        optional = {m for text in page.optional for m in MARKER.findall(text)}
        assert written <= page.text_markers() | optional, page.source
        mine = {e.marker for e in page.elements if e.kind is not Kind.LINK}
        assert {m for m in mine if MARKER.fullmatch(m)} <= written, page.source


@pytest.mark.parametrize(("site", "page"), ALL_PAGES, ids=PAGE_IDS)
def test_truth_matches_the_built_html(docsites: dict[str, Path], site: Site, page: Page) -> None:
    doc = html.fromstring((docsites[site.name] / page.file).read_bytes())
    page_url = urljoin(BASE, page.path)
    containers = main_containers(doc, page)
    for element in page.elements:
        check_element(containers, element, page_url)

    # In the order of the source (tab labels come before their panels in the HTML).
    content = normalize(" ".join(c.text_content() for c in containers))
    # Text nodes apart, so that neighbouring cells do not run together into one "marker".
    spaced = normalize(" ".join(" ".join(c.itertext()) for c in containers))
    positions = [
        (content.find(e.marker), e.marker)
        for e in page.elements
        if e.kind not in (Kind.IMAGE, Kind.TAB_LABEL)
    ]
    assert all(at >= 0 for at, _ in positions), [m for at, m in positions if at < 0]
    assert positions == sorted(positions), "elements out of order"
    # No marker in the content that the truth does not know of.
    optional = {m for text in page.optional for m in MARKER.findall(text)}
    assert set(MARKER.findall(spaced)) <= page.text_markers() | optional

    # The chrome is on the page, and other pages' markers only in its chrome.
    body_el = doc.find("body")
    assert body_el is not None
    body = normalize("".join(str(text) for text in body_el.itertext()))
    missing = [text for text in page.chrome if text not in body]
    assert not missing, f"chrome not on the page: {missing}"
    assert not [m for m in site.foreign_markers(page) if m in content]


# --- the server ---------------------------------------------------------------------------------


async def test_server_serves_every_page_over_loopback(docsite_server: DocSiteServer) -> None:
    async with aiohttp.ClientSession() as session:
        for site in SITES.values():
            base = docsite_server.url(site.name)
            host = urlsplit(base).hostname
            assert host is not None and ipaddress.ip_address(host).is_loopback
            for page in site.pages:
                async with session.get(base + page.path, allow_redirects=False) as response:
                    assert response.status == 200, page.path
                    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
                    await response.read()
            async with session.get(base + "robots.txt") as response:
                assert response.status in (200, 404)
            async with session.get(base + "no/such/page.html") as response:
                assert response.status == 404
            async with session.get(base + "../../etc/passwd") as response:
                assert response.status in (400, 404)
        # A directory without its slash is redirected, as static servers do.
        async with session.get(
            docsite_server.url("mkdocs", "install"), allow_redirects=False
        ) as response:
            assert response.status == 301
            assert response.headers["Location"] == "/install/"
        async with session.head(docsite_server.url("sphinx", "_images/kelp.png")) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/png"
    assert docsite_server.hits
    assert all(ipaddress.ip_address(hit.peer).is_loopback for hit in docsite_server.hits)


async def test_links_and_images_of_the_generated_sites_resolve(
    docsite_server: DocSiteServer,
) -> None:
    # The hand-written pages link to pages of their imagined sites, which do not exist.
    async with aiohttp.ClientSession() as session:
        for name in ("sphinx", "mkdocs"):
            for page in SITES[name].pages:
                for element in page.elements:
                    if element.target is None or element.target.startswith("https://"):
                        continue
                    url = urldefrag(docsite_server.url(name, element.target)).url
                    async with session.get(url) as response:
                        assert response.status == 200, (name, element.target)


def test_server_refuses_addresses_that_are_not_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        DocSiteServer({"x": tmp_path}, host="0.0.0.0")
