"""Main-content extraction: the generator's container, without the chrome around or inside it."""

from __future__ import annotations

import pytest
from lxml import html

from shoal.plugins._extract import main_content, plain_text

CHROME = (
    '<header class="site-header"><a href="/">SiteName Home</a><nav>Guide API Blog</nav></header>'
    '<nav class="sidebar"><ul><li><a href="/a">Sidebar link one</a></li>'
    '<li><a href="/b">Sidebar link two</a></li></ul></nav>'
    '<div class="cookie-banner">We use cookies <button>Accept</button></div>'
    "<footer>Copyright Footer Inc</footer>"
)
CHROME_WORDS = ("SiteName", "Sidebar", "cookies", "Copyright", "Edit this page", "Previous", "v2.1")


def _page(container: str) -> html.HtmlElement:
    return html.document_fromstring(f"<html><body>{CHROME}{container}{CHROME}</body></html>")


def _text(el: html.HtmlElement) -> str:
    return " ".join(" ".join(el.itertext()).split())


INNER = (
    "<h1>The Title</h1><p>Body paragraph one has enough words to be content.</p>"
    "<pre>code()</pre><ul><li>item</li></ul>"
    '<div class="breadcrumbs">Home / Docs</div>'
    '<a class="edit-this-page" href="/e">Edit this page</a>'
    '<div class="version-switcher"><select><option>v2.1</option></select></div>'
    '<nav class="pagination-nav"><a href="/p">Previous</a></nav>'
)


@pytest.mark.parametrize(
    "container",
    [
        f'<div class="document"><div class="body" role="main">{INNER}</div></div>',  # Sphinx
        f'<div class="md-content"><article class="md-content__inner md-typeset">{INNER}'
        "</article></div>",  # Material
        f'<div class="theme-doc-markdown markdown"><header><h1>The Title</h1></header>'
        f"{INNER.replace('<h1>The Title</h1>', '')}</div>",  # Docusaurus
        f'<div class="rst-content"><div itemprop="articleBody">{INNER}</div></div>',  # RTD
        f'<section id="main-content" class="content">{INNER}</section>',  # rustdoc
        f'<main class="pdoc">{INNER}</main>',  # pdoc
        f'<div class="contentContainer">{INNER}</div>',  # Javadoc
        f'<section class="normal markdown-section">{INNER}</section>',  # GitBook
        f"<main>{INNER}</main>",
        f"<div id='wrapper'><div class='prose'>{INNER}</div></div>",  # unknown: densest block
    ],
)
def test_each_layout_gives_its_content_without_chrome(container: str) -> None:
    text = _text(main_content(_page(container)))
    for word in ("The Title", "Body paragraph one", "code()", "item"):
        assert word in text, (word, text)
    for word in (*CHROME_WORDS, "Home / Docs"):
        assert word not in text, (word, text)


def test_admonition_asides_are_content_and_sidebars_are_not() -> None:
    root = _page(
        "<main><h1>T</h1><p>Long enough paragraph of content text.</p>"
        '<aside class="admonition note"><p>Keep this note.</p></aside>'
        '<aside class="toc">On this page</aside></main>'
    )
    text = _text(main_content(root))
    assert "Keep this note." in text and "On this page" not in text


def test_never_empty_when_the_page_has_text() -> None:
    root = html.document_fromstring(
        "<html><body><nav>Only a nav</nav><div class='footer'>and a footer</div></body></html>"
    )
    assert _text(main_content(root))


def test_plain_text_gives_one_paragraph_per_block() -> None:
    root = html.document_fromstring(
        "<html><body><nav>Home About</nav><article><h1>Big  news</h1>"
        "<p>First <b>bold</b>\n para.<br>Line two</p><ul><li>one</li><li>two</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table><script>var x = 1;</script>"
        "</article></body></html>"
    )
    assert plain_text(main_content(root)) == (
        "Big news\n\nFirst bold para.\n\nLine two\n\none\n\ntwo\n\na | b"
    )


def test_ids_derived_from_titles_do_not_make_content_chrome() -> None:
    """Found by bench-docs' held-out corpus: Sphinx derives section and API ids from their
    titles ("HTTP Related", set_cookie), and links headings back with class toc-backref."""
    root = html.document_fromstring(
        '<html><body><div role="main"><section id="http-related"><h2>HTTP Related</h2>'
        "<p>Headers and cookies.</p></section>"
        '<dl><dt id="werkzeug.Response.set_cookie">set_cookie(key)</dt><dd>Sets a cookie.</dd></dl>'
        '<section id="pager-support"><h2><a class="toc-backref" href="#id3">Pager Support</a></h2>'
        '<p>Pages long text.</p></section><div id="sidebar">Quick search</div>'
        '<div class="related">Next topic</div></div></body></html>'
    )
    text = plain_text(main_content(root))
    for kept in ("HTTP Related", "Headers and cookies.", "set_cookie(key)", "Pager Support"):
        assert kept in text
    assert "Quick search" not in text and "Next topic" not in text


def test_headings_and_terms_are_content_whatever_their_class() -> None:
    """A heading or a definition term is the content's own structure, even when a theme gives
    it a class that names chrome elsewhere ("related", "toc")."""
    root = html.document_fromstring(
        '<html><body><div role="main"><h1>Guide</h1><p>Text of the guide.</p>'
        '<h2 class="related">Related projects</h2><p>Others like it.</p>'
        '<dl><dt class="toc">The toc option</dt><dd>Makes a table of contents.</dd></dl>'
        '<div class="related">Next topic</div></div></body></html>'
    )
    text = plain_text(main_content(root))
    for kept in ("Related projects", "Others like it.", "The toc option"):
        assert kept in text
    assert "Next topic" not in text
