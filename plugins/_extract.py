"""A page's main content, without chrome: shared by the docs plugin (documentation pages, as
Markdown) and the RSS plugin (articles, as plain text).

Two steps, both on lxml, in the parse processes:

1. **Find the container.** Documentation generators put a page's content in a container of
   their own (Sphinx's ``div[role=main]``, Material's ``article.md-content__inner``,
   Docusaurus's ``.theme-doc-markdown``, rustdoc's ``#main-content`` ...); the known ones are
   tried first, most specific first, then the standard ``main``, ``article`` and
   ``[role=main]``. For an unknown layout, the block with the most text that is not link text
   wins (a text-density/link-density score: navigation is mostly links, content mostly not).
2. **Strip the chrome inside it**: navigation, headers and footers of the site, sidebars and
   tables of contents, breadcrumbs, "edit this page", version pickers, cookie banners,
   previous/next buttons, search boxes.

If what is left has no text while the page has some, the whole body is returned instead: a
page is never made empty.
"""

from __future__ import annotations

import copy
import re
from typing import cast

from lxml import etree, html

__all__ = ["main_content", "plain_text"]

# Most specific first: a generator's own container beats the generic landmarks, which themes
# also use for their navigation (Material's whole page is in <main>).
_CONTAINERS = (
    # MkDocs Material, then MkDocs' own themes.
    "//article[contains(concat(' ', normalize-space(@class), ' '), ' md-content__inner ')]",
    # Docusaurus.
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' theme-doc-markdown ')]",
    # Read the Docs theme, then Sphinx's themes (alabaster, classic, furo, pydata).
    "//*[@itemprop='articleBody']",
    "//div[@role='main']//div[contains(concat(' ', normalize-space(@class), ' '), ' body ')]",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' document ')]"
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' body ')]",
    "//article[@role='main']",
    "//main[@id='main-content']//article",
    # rustdoc, pdoc, Javadoc, GitBook.
    "//section[@id='main-content']",
    "//main[contains(concat(' ', normalize-space(@class), ' '), ' pdoc ')]",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' contentContainer ')]",
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' markdown-section ')]",
    # The standard landmarks.
    "//div[@role='main']",
    "//main//article",
    "//article",
    "//main",
    "//*[@role='main']",
    "//*[@id='content']",
)
# Blocks of text: each is a paragraph of plain_text's output.
_TEXT_BLOCKS = frozenset(
    {
        "p", "div", "section", "article", "main", "li", "dd", "dt", "pre", "blockquote",
        "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "figcaption", "ul", "ol", "dl",
        "header", "aside", "details", "summary", "body",
    }
)  # fmt: skip
# Compiled once: root.xpath(text) compiles its expression on every call.
_CONTAINER_XPATHS = tuple(etree.XPath(path) for path in _CONTAINERS)
# Chrome found inside content containers, by tag, role, or class/id words.
_CHROME_TAGS = frozenset(
    {"nav", "header", "footer", "aside", "script", "style", "noscript", "form"}
)
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary"})
_CHROME_WORDS = re.compile(
    r"(?:^|[\s_-])(?:breadcrumbs?|toc|table-of-contents|sidebar|sidenav|navbar|nav-?links?|"
    r"pagination|pager|prev-?next|footer|edit-?this-?page|edit-?page|editlink|"
    r"version-?(?:switcher|picker|selector)|cookie\w*|consent|banner|skip-?link|"
    r"searchbox|search-?form|rst-footer-buttons|md-source-file|theme-doc-footer|"
    r"theme-doc-toc\w*|related|feedback|last-?updated|md-content__button)(?:$|[\s_-])",
    re.IGNORECASE,
)
_BLOCKS = ("div", "section", "article", "main", "td", "body")
# Never chrome, whatever their class says: headings and definition terms are the content's
# own structure.
_CONTENT_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "dt"})
# Elements whose id a theme chooses (and may call "sidebar" or "footer"); see _chrome_words.
_ID_NAMED_TAGS = frozenset({"div", "nav", "aside", "header", "footer", "ul", "ol", "form"})
_ADMONITION_WORDS = re.compile(
    r"admonition|callout|aside|note|tip|warning|caution|danger|important|info", re.IGNORECASE
)


def main_content(root: html.HtmlElement) -> html.HtmlElement:
    """A copy of the element holding the page's main content, its chrome removed."""
    container = _known_container(root)
    if container is None:
        container = _densest_block(root)
    if container is None:
        container = root
    content = copy.deepcopy(container)
    _strip_chrome(content)
    if content.find(".//h1") is None:
        _adopt_title(root, container, content)
    if _text_length(content) or not _text_length(root):
        return content
    body = root.find("body")  # all of it looked like chrome: better all than nothing
    return body if body is not None else root


def _adopt_title(
    root: html.HtmlElement, container: html.HtmlElement, content: html.HtmlElement
) -> None:
    """Put the page's title, and the lead paragraphs right after it, at the top of ``content``
    when the theme set them just outside the content container (GitBook does).

    Only a title that comes before the container and is text, not a link: a site name in
    the header is a link to the home page (or a logo), and is not the page's title.
    """
    order = {el: i for i, el in enumerate(root.iter())}
    start = order.get(container, 0)
    titles = [
        h1
        for h1 in root.iter("h1")
        if order.get(h1, start) < start
        and "logo" not in (h1.get("class") or "")
        and "".join(h1.itertext()).strip()
        and "".join(h1.itertext()).strip()
        != "".join(t for a in h1.iter("a") for t in a.itertext()).strip()
    ]
    if len(titles) != 1:
        return
    adopted = [titles[0]]
    sibling = titles[0].getnext()
    while sibling is not None and sibling.tag == "p":
        adopted.append(sibling)
        sibling = sibling.getnext()
    for offset, el in enumerate(adopted):
        clone = copy.deepcopy(el)
        clone.tail = None
        content.insert(offset, clone)
    if content.text:  # keep the container's leading text after what was put before it
        adopted_last = content[len(adopted) - 1]
        adopted_last.tail, content.text = content.text, None


def _known_container(root: html.HtmlElement) -> html.HtmlElement | None:
    for path in _CONTAINER_XPATHS:
        for found in cast(list[object], path(root)):  # element paths give element lists
            if isinstance(found, html.HtmlElement) and _text_length(found) > 0:
                return found
    return None


def _strip_chrome(container: html.HtmlElement) -> None:
    doomed = []
    for el in container.iterdescendants():
        if not isinstance(el.tag, str) or el.tag in _CONTENT_TAGS:
            continue
        words = _chrome_words(el)
        if (
            el.tag in _CHROME_TAGS
            or el.get("role") in _CHROME_ROLES
            or (words.strip() and _CHROME_WORDS.search(words))
        ):
            doomed.append(el)
    for el in doomed:
        if _inside_code(el) or _is_content(el):
            continue
        parent = el.getparent()
        if parent is not None:
            el.drop_tree()


def _chrome_words(el: etree._Element) -> str:
    """The class and id words that may name an element as chrome.

    Ids count only on the kinds of element a theme names: generators derive the ids of
    sections and definitions from their titles (a section "HTTP Related", an API entry
    ``set_cookie``), which are content whatever they say. Sphinx links a heading back to its
    local table of contents with class ``toc-backref``: that link is the heading's text.
    """
    classes = el.get("class") or ""
    if el.tag == "a":
        classes = classes.replace("toc-backref", "")
    if el.tag in _ID_NAMED_TAGS:
        return f"{classes} {el.get('id') or ''}"
    return classes


def _is_content(el: etree._Element) -> bool:
    """Chrome-looking elements that carry content: a <header> holding the page's title
    (Docusaurus), an <aside> that is an admonition (Starlight and others)."""
    if el.tag == "header":
        return any(True for _ in el.iter("h1", "h2", "h3"))
    if el.tag == "aside":
        return _ADMONITION_WORDS.search(el.get("class") or "") is not None
    return False


def _inside_code(el: etree._Element) -> bool:
    return any(ancestor.tag in ("pre", "code") for ancestor in el.iterancestors())


def _text_length(el: html.HtmlElement) -> int:
    return len("".join(el.itertext()).strip())


def _densest_block(root: html.HtmlElement) -> html.HtmlElement | None:
    """The block whose own text, links discounted, scores best (readability-style)."""
    best, best_score = None, 0.0
    for el in root.iter(*_BLOCKS):
        if el.tag == "body":
            continue
        text = _text_length(el)
        if text < 80:
            continue
        link_text = sum(_text_length(a) for a in el.iter("a"))
        density = 1.0 - link_text / text
        paragraphs = sum(1 for _ in el.iter("p", "pre", "li", "h1", "h2", "h3"))
        score = text * density * density + 20.0 * paragraphs * density
        if _CHROME_WORDS.search(f"{el.get('class') or ''} {el.get('id') or ''}"):
            score *= 0.2
        if score > best_score:
            best, best_score = el, score
    return best


def plain_text(element: html.HtmlElement) -> str:
    """The text of ``element`` as paragraphs separated by blank lines (one per block: paragraph,
    heading, list item, table row), whitespace collapsed within each; table cells are joined by
    " | ". What summaries and keywords are computed from."""
    paragraphs: list[str] = []
    words: list[str] = []

    def flush() -> None:
        if words:
            text = " ".join(" ".join(words).split())
            if text:
                paragraphs.append(text)
            words.clear()

    for event, el in etree.iterwalk(element, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _TEXT_BLOCKS or tag == "br":
                flush()
            elif tag in ("td", "th") and words:
                words.append(" | ")
            if tag in ("script", "style", "template"):
                continue
            if el.text and tag not in ("script", "style", "template"):
                words.append(el.text)
        else:
            if tag in _TEXT_BLOCKS:
                flush()
            if el.tail and el is not element:
                words.append(el.tail)
    flush()
    return "\n\n".join(paragraphs)
