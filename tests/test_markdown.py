"""The docs plugin's HTML-to-Markdown converter, element by element, and "no text is lost"."""

from __future__ import annotations

import re

import pytest
from lxml import html

from shoal.plugins.docs._markdown import to_markdown

BASE = "https://docs.example.test/guide/page.html"


def md(fragment: str) -> str:
    return to_markdown(html.fragment_fromstring(fragment, create_parent="div"), BASE)


def test_headings_keep_their_level_and_lose_permalinks() -> None:
    out = md('<h1>Title<a class="headerlink" href="#t">¶</a></h1><h3 id="x">Deep <em>one</em></h3>')
    # An id is kept as an anchor before the heading (the assembler drops unused ones).
    assert out == '# Title\n\n<a id="x"></a>\n\n### Deep *one*\n'


def test_inline_markup_and_links_made_absolute() -> None:
    out = md(
        "<p>Use <code>pip install</code>, <strong>not</strong> <em>easy</em>; see "
        '<a href="../api/index.html#run">the API</a> and <a href="https://x.test/">x</a>.</p>'
    )
    assert out == (
        "Use `pip install`, **not** *easy*; see "
        "[the API](https://docs.example.test/api/index.html#run) and [x](https://x.test/).\n"
    )


@pytest.mark.parametrize(
    ("fragment", "lang"),
    [
        # Sphinx: the language on the wrapper, highlighting spans, a line-number span.
        (
            '<div class="highlight-python notranslate"><div class="highlight"><pre><span></span>'
            '<span class="linenos">1</span><span class="k">def</span> <span class="nf">f</span>'
            '():\n<span class="linenos">2</span>    <span class="k">return</span> 1\n'
            "</pre></div></div>",
            "python",
        ),
        # MkDocs Material.
        (
            '<div class="language-python highlight"><pre><span></span><code>'
            '<span class="k">def</span> f():\n    return 1\n</code></pre></div>',
            "python",
        ),
        # Pygments' table layout with a gutter.
        (
            '<table class="highlighttable"><tr><td class="linenos"><div class="linenodiv"><pre>'
            '1\n2</pre></div></td><td class="code"><div class="highlight"><pre>def f():\n'
            "    return 1\n</pre></div></td></tr></table>",
            "",
        ),
        ('<pre data-lang="Python"><code>def f():\n    return 1</code></pre>', "python"),
        ('<pre><code class="language-python">def f():\n    return 1</code></pre>', "python"),
    ],
)
def test_code_blocks_keep_code_and_language_only(fragment: str, lang: str) -> None:
    assert md(fragment) == f"```{lang}\ndef f():\n    return 1\n```\n"


def test_a_fence_longer_than_any_backtick_run_inside() -> None:
    assert md("<pre>```\nnested\n```</pre>") == "````\n```\nnested\n```\n````\n"
    assert md("<p>run <code>a `b` c</code></p>") == "run ``a `b` c``\n"


def test_nested_lists_with_start_numbers() -> None:
    out = md(
        "<ol start='3'><li>three<ul><li>dot</li><li>dash<ol><li>deep</li></ol></li></ul></li>"
        "<li>four</li></ol>"
    )
    assert out == "3. three\n   - dot\n   - dash\n     1. deep\n4. four\n"


def test_loose_list_items_with_paragraphs() -> None:
    out = md("<ul><li><p>first para</p><p>second para</p></li><li><p>next</p></li></ul>")
    assert out == "- first para\n\n  second para\n\n- next\n"


def test_definition_list_blockquote_image_and_break() -> None:
    out = md(
        "<dl><dt>term</dt><dd>its meaning</dd></dl><blockquote><p>quoted</p><p>twice</p>"
        '</blockquote><p>a<br>b <img src="img/x.png" alt="a chart"></p>'
    )
    assert out == (
        "term\n\n:   its meaning\n\n> quoted\n>\n> twice\n\n"
        "a  \nb ![a chart](https://docs.example.test/guide/img/x.png)\n"
    )


def test_table_with_header_spans_and_pipes() -> None:
    out = md(
        "<table><thead><tr><th>a</th><th>b</th><th>c</th></tr></thead><tbody>"
        "<tr><td rowspan='2'>tall</td><td colspan='2'>wide | cell</td></tr>"
        "<tr><td>x</td><td>y</td></tr></tbody></table>"
    )
    assert out == (
        "| a | b | c |\n|---|---|---|\n| tall | wide \\| cell | wide \\| cell |\n| tall | x | y |\n"
    )


@pytest.mark.parametrize(
    "fragment",
    [
        # Sphinx and MkDocs (admonition + title paragraph).
        '<div class="admonition warning"><p class="admonition-title">Warning</p><p>Hot.</p></div>',
        # Material's collapsible form.
        '<details class="warning"><summary>Warning</summary><p>Hot.</p></details>',
        # Docusaurus.
        '<div class="theme-admonition theme-admonition-warning alert alert--warning">'
        '<div class="admonitionHeading_Gvgb">Warning</div><div class="admonitionContent_BuS1">'
        "<p>Hot.</p></div></div>",
        # GitHub.
        '<div class="markdown-alert markdown-alert-warning"><p class="markdown-alert-title">'
        "Warning</p><p>Hot.</p></div>",
    ],
)
def test_admonitions_become_labelled_blockquotes(fragment: str) -> None:
    assert md(fragment) == "> **Warning**\n>\n> Hot.\n"


def test_admonition_without_a_title_is_labelled_by_its_kind() -> None:
    assert md('<div class="admonition tip"><p>Try it.</p></div>') == "> **Tip**\n>\n> Try it.\n"


def test_escaping_only_where_markdown_would_misread() -> None:
    out = md(
        "<p>2 * 3, [x], <code>*ok*</code>, snake_case, _under_, &lt;div&gt; and a &lt; b</p>"
        "<p># not a heading</p><p>1. not a list</p><p>- nor this</p>"
    )
    assert out == (
        "2 \\* 3, \\[x\\], `*ok*`, snake_case, \\_under\\_, \\<div> and a < b\n\n"
        "\\# not a heading\n\n1\\. not a list\n\n\\- nor this\n"
    )


def test_scripts_styles_and_buttons_are_not_content() -> None:
    out = md("<p>keep</p><script>var x</script><style>p{}</style><button>Copy</button>")
    assert out == "keep\n"


_MARKUP = re.compile(r"\\(.)|[*`#>|]|\[|\]\([^)]*\)|^\s*(?:-|\d+\.)\s", re.MULTILINE)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def test_no_text_of_the_content_is_lost() -> None:
    page = (
        "<h2>Install</h2><p>Run <code>make</code> then <a href='x'>read more</a>.</p>"
        "<ul><li>one <b>two</b></li><li><p>three</p><ol><li>four</li></ol></li></ul>"
        "<table><tr><td>cell five</td><td><ul><li>six</li></ul></td></tr></table>"
        "<div class='admonition note'><p class='admonition-title'>Note seven</p><p>eight</p></div>"
        "<dl><dt>nine</dt><dd>ten</dd></dl><pre>eleven()</pre><blockquote>twelve</blockquote>"
        "<div>loose thirteen <span>fourteen</span></div><p>a<br>fifteen</p>"
    )
    source = " ".join(html.fragment_fromstring(page, create_parent="div").itertext())
    assert _words(source) == _words(_MARKUP.sub(r"\1", md(page)))


def test_hidden_tab_panels_are_kept_other_hidden_elements_are_not() -> None:
    out = md(
        '<div class="sphinx-tabs"><div role="tabpanel"><p>On Linux, run make.</p></div>'
        '<div role="tabpanel" hidden="true"><p>On Windows, run nmake.</p></div></div>'
        "<p hidden>Secret</p>"
    )
    assert "On Linux, run make." in out and "On Windows, run nmake." in out
    assert "Secret" not in out
