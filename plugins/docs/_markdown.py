"""HTML (an lxml tree of a page's main content) to Markdown that keeps every word.

Runs in the parse processes. The rules, by what a reader or an LLM needs from the result:

* Structure is kept: heading levels, paragraphs, nested ordered and unordered lists (with
  their start numbers), definition lists, blockquotes, tables as GFM pipe tables (a cell
  spanning rows or columns is repeated in each position it covers, so every row reads
  whole), images with their alt text, hard line breaks.
* Code is kept exactly: a ``<pre>`` becomes a fenced block whose fence is longer than any
  backtick run inside it, with the language taken from ``language-*``, ``lang-*``,
  ``highlight-*`` or ``data-lang`` on the block or its wrappers; highlighting spans are read
  for their text only and line-number gutters are dropped.
* Admonitions (``note``, ``warning``... as Sphinx, MkDocs Material, Docusaurus and GitHub
  mark them up) become a blockquote that starts with the label in bold.
* Text is escaped where Markdown would read it as syntax, and nowhere else, so the text
  reads the same after a Markdown renderer as before.
* Nothing of the content is dropped except what is chrome inside it: permalink anchors
  (``headerlink``, the ¶ after a heading), scripts, styles, forms and buttons.

Links are made absolute against the page's URL; ``rewrite`` may map them (the docs output
rewrites links between pages of the site to anchors or relative ``.md`` paths).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import urljoin

from lxml import etree, html

__all__ = ["to_markdown"]

_BLOCK = frozenset(
    {"address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt",
     "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
     "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
     "tbody", "td", "tfoot", "th", "thead", "tr", "ul"}
)  # fmt: skip
_SKIP = frozenset(
    {"script", "style", "noscript", "template", "button", "form", "input", "select",
     "textarea", "svg"}
)  # fmt: skip
# Class names that are a code block's language as they stand (rustdoc's <pre class="rust">).
_BARE_LANGS = frozenset(
    {"rust", "python", "bash", "shell", "sh", "console", "javascript", "js", "typescript",
     "ts", "java", "kotlin", "c", "cpp", "go", "ruby", "json", "yaml", "toml", "html", "css",
     "sql", "xml"}
)  # fmt: skip
_SKIP_CLASSES = frozenset(
    {"headerlink", "anchorlink", "anchor-link", "hash-link", "doc-anchor", "linenos", "lineno",
     "linenodiv", "gutter", "copybutton", "sr-only", "visually-hidden", "screen-reader-text",
     # rustdoc's source links and run buttons, pdoc's source toggles and edit button
     "rightside", "sub-heading", "test-arrow", "hideme", "view-source-button", "git-button",
     "pdoc-button"}
)  # fmt: skip
_ADMONITIONS = (
    "note", "tip", "hint", "important", "warning", "caution", "danger", "error", "attention",
    "info", "success", "question", "failure", "bug", "example", "quote", "abstract", "todo",
    "seealso", "see-also", "deprecated", "versionadded", "versionchanged",
)  # fmt: skip
_LANG_CLASS = re.compile(r"^(?:language|lang|highlight|brush|sourceCode)-([\w+#.-]+)$")
_LANG_PLAIN = frozenset(
    {"default", "none", "text", "plain", "plaintext", "nohighlight", "notranslate"}
)
_SPACE = re.compile(r"[ \t\r\n\f\v]+")
# Escaped in text: what starts inline syntax. An underscore only at a word's edge (snake_case
# is not emphasis), "<" only where it could open a tag.
_INLINE_SPECIAL = re.compile(r"[\\`*\[\]]|(?<!\w)_|_(?!\w)|<(?=[A-Za-z/!?])")
# Escaped at the start of a paragraph's line: what starts a block there.
_LINE_START = re.compile(r"^([ \t]*)([#>+-]|\d+[.)])(?=[ \t]|$)", re.MULTILINE)

_MAYBE_SPECIAL = frozenset("\\`*[]_<")
_LIST_START = re.compile(r"- |\d+\. ")

Rewrite = Callable[[str], str]


def to_markdown(root: html.HtmlElement, base_url: str, rewrite: Rewrite | None = None) -> str:
    """The Markdown of ``root`` and everything in it."""
    converter = _Converter(base_url, rewrite)
    blocks = converter.blocks(root)
    text = "\n\n".join(b for b in blocks if b.strip())
    return text.strip() + "\n" if text.strip() else ""


def _classes(el: etree._Element) -> list[str]:
    return (el.get("class") or "").split()


def _tag(el: etree._Element) -> str:
    tag = el.tag
    return tag.lower() if isinstance(tag, str) else ""


def _skipped(el: etree._Element) -> bool:
    if (
        _tag(el) in _SKIP
        or el.get("aria-hidden") == "true"
        # A tab panel is hidden until its tab is chosen, and is content all the same.
        or (el.get("hidden") is not None and el.get("role") != "tabpanel")
    ):
        return True
    return any(c in _SKIP_CLASSES for c in _classes(el))


def escape(text: str) -> str:
    """``text`` with what Markdown would read as inline syntax backslash-escaped."""
    if not _MAYBE_SPECIAL.intersection(text):  # most text: nothing to escape, no regex
        return text
    return _INLINE_SPECIAL.sub(r"\\\g<0>", text)


def _paragraph(text: str) -> str:
    """An inline run as a paragraph: what would start a block at a line's start escaped."""
    return _LINE_START.sub(_escape_line_start, text)


def _escape_line_start(m: re.Match[str]) -> str:
    mark = m.group(2)  # "1." is escaped as "1\.", "#" as "\#"
    return m.group(1) + (mark[:-1] + "\\" + mark[-1] if mark[0].isdigit() else "\\" + mark)


def _fence(code: str, lang: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{code.rstrip(chr(10))}\n{fence}"


def _indent(text: str, prefix: str, first: str | None = None) -> str:
    lines = text.split("\n")
    out = [(first if first is not None else prefix) + lines[0]]
    out += [(prefix + line) if line else "" for line in lines[1:]]
    return "\n".join(out)


class _Converter:
    def __init__(self, base_url: str, rewrite: Rewrite | None) -> None:
        self.base_url = base_url
        self.rewrite = rewrite

    # --- blocks ---------------------------------------------------------------------------

    def blocks(self, el: etree._Element, skip: etree._Element | None = None) -> list[str]:
        """The Markdown blocks of ``el``'s content (not of ``el`` itself), ``skip`` left out."""
        out: list[str] = []
        inline: list[str] = []

        def flush() -> None:
            text = _clean_inline("".join(inline))
            if text:
                out.append(_paragraph(text))
            inline.clear()

        if el.text:
            inline.append(self._text(el.text))
        for child in el:
            if not isinstance(child.tag, str) or _skipped(child) or child is skip:
                if child.tail:
                    inline.append(self._text(child.tail))
                continue
            if _tag(child) in _BLOCK or self._admonition(child):
                flush()
                out.extend(self.block(child))
            elif _tag(child) == "br":
                inline.append("  \n")
            else:
                inline.append(self.inline(child))
            if child.tail:
                inline.append(self._text(child.tail))
        flush()
        return out

    def block(self, el: etree._Element) -> list[str]:
        tag = _tag(el)
        kind = self._admonition(el)
        if kind:
            return [self._admonition_block(el, kind)]
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            text = _clean_inline(self.inline_content(el)).replace("\n", " ")
            if not text:
                return []
            # The heading's ids, so that links to it keep working in the output; the
            # assembler drops those that no link targets.
            anchors = "".join(f'<a id="{i}"></a>' for i in _heading_ids(el))
            heading = f"{'#' * int(tag[1])} {text}"
            return [anchors, heading] if anchors else [heading]
        if tag == "p":
            text = _clean_inline(self.inline_content(el))
            return [_paragraph(text)] if text else []
        if tag == "pre":
            return [self._code(el)]
        if tag in ("ul", "ol"):
            if _layout_list(el):
                return [b for li in el if _tag(li) == "li" for b in self.blocks(li)]
            return [self._list(el)] if len(el) else []
        if tag == "dl":
            return self._definitions(el)
        if tag == "blockquote":
            inner = "\n\n".join(self.blocks(el))
            return [_indent(inner, "> ").replace("\n\n", "\n>\n")] if inner else []
        if tag == "table" and "highlighttable" in _classes(el):
            # Pygments' line-numbered layout: a gutter cell and a code cell.
            pre = _code_pre(el)
            if pre is not None:
                return [self._code(pre, el)]
        if tag == "table":
            return [self._table(el)]
        if tag == "hr":
            return ["---"]
        if tag == "div" and self._is_code_wrapper(el):
            pre = _code_pre(el)
            if pre is not None:
                title = el.find(".//*[@class='filename']")
                label = _clean_inline(self.inline_content(title)) if title is not None else ""
                return ([_paragraph(label)] if label else []) + [self._code(pre, el)]
        return self.blocks(el)

    def _admonition(self, el: etree._Element) -> str | None:
        classes = _classes(el)
        if _tag(el) == "details" and not any(c in _ADMONITIONS for c in classes):
            return None  # a plain disclosure widget (rustdoc's toggles): its content as it is
        if (
            _tag(el) == "aside"
            or _tag(el) == "details"
            or "admonition" in classes
            or any(
                c.startswith(("theme-admonition", "alert", "callout", "markdown-alert"))
                for c in classes
            )
        ):
            for c in classes:
                name = (
                    c.removeprefix("admonition-")
                    .removeprefix("alert--")
                    .removeprefix("markdown-alert-")
                    .removeprefix("theme-admonition-")
                )
                if name in _ADMONITIONS:
                    return name
            if "admonition" in classes:
                return "note"
        return None

    def _admonition_block(self, el: etree._Element, kind: str) -> str:
        title_el = None
        for child in el:
            if isinstance(child.tag, str) and (
                "admonition-title" in _classes(child)
                or "markdown-alert-title" in _classes(child)
                or _tag(child) == "summary"
                or any(c.startswith("admonitionHeading") for c in _classes(child))
            ):
                title_el = child
                break
        title = _clean_inline(self.inline_content(title_el)) if title_el is not None else ""
        label = title or kind.replace("-", " ").capitalize()
        inner = "\n\n".join(self.blocks(el, skip=title_el))
        text = f"**{label}**" + (f"\n\n{inner}" if inner else "")
        return _indent(text, "> ").replace("\n\n", "\n>\n")

    def _is_code_wrapper(self, el: etree._Element) -> bool:
        classes = _classes(el)
        return any(
            c.startswith(("highlight", "language-", "codehilite", "sourceCode")) for c in classes
        )

    def _code(self, pre: etree._Element, wrapper: etree._Element | None = None) -> str:
        lang = ""
        candidates = [pre, *pre.iterchildren("code")]
        if wrapper is not None:
            candidates.append(wrapper)
        parent = pre.getparent()
        for _ in range(3):
            if parent is None:
                break
            candidates.append(parent)
            parent = parent.getparent()
        for el in candidates:
            lang = _language(el)
            if lang:
                break
        code = "".join(_code_text(pre))
        return _fence(code, lang)

    def _list(self, el: etree._Element) -> str:
        ordered = _tag(el) == "ol"
        try:
            number = int(el.get("start", "1"))
        except ValueError:
            number = 1
        items = []
        for li in el:
            if _tag(li) != "li" or _skipped(li):
                continue
            marker = f"{number}. " if ordered else "- "
            number += 1
            # An item without <p> is tight: its nested lists follow its text directly.
            tight = li.find("p") is None
            blocks = self.blocks(li)
            body = blocks[0] if blocks else ""
            for block in blocks[1:]:
                nested = tight and _LIST_START.match(block) is not None
                body += ("\n" if nested else "\n\n") + block
            tight = tight and "\n\n" not in body
            items.append((_indent(body, " " * len(marker), marker), tight))
        loose = any(not tight for _, tight in items)
        return ("\n\n" if loose else "\n").join(text for text, _ in items)

    def _definitions(self, el: etree._Element) -> list[str]:
        out: list[str] = []
        for child in el:
            tag = _tag(child)
            if tag == "div":  # <dl><div><dt/><dd/></div></dl> is valid HTML
                out.extend(self._definitions(child))
            elif tag == "dt":  # Pandoc's and PHP Markdown Extra's syntax: term, then ":   "
                text = _clean_inline(self.inline_content(child))
                if text:
                    out.append(_paragraph(text))
            elif tag == "dd":
                inner = "\n\n".join(self.blocks(child))
                if inner:
                    out.append(_indent(inner, "    ", ":   "))
        return out

    def _table(self, table: etree._Element) -> str:
        grid: list[list[str]] = []
        header_rows = 0
        spans: dict[tuple[int, int], str] = {}
        rows = [r for r in table.iter("tr") if _closest_table(r) is table]
        for r, row in enumerate(rows):
            cells: list[str] = []
            col = 0
            for cell in row:
                if _tag(cell) not in ("td", "th"):
                    continue
                while (r, col) in spans:
                    cells.append(spans.pop((r, col)))
                    col += 1
                text = " <br> ".join(self.blocks(cell)).replace("\n", " ")
                text = text.replace("|", "\\|") if "\\|" not in text else text
                colspan = _int(cell.get("colspan"), 1)
                rowspan = _int(cell.get("rowspan"), 1)
                for c in range(colspan):
                    cells.append(text)
                    for below in range(1, rowspan):
                        spans[(r + below, col + c)] = text
                col += colspan
            while (r, col) in spans:
                cells.append(spans.pop((r, col)))
                col += 1
            if all(_tag(c) == "th" for c in row if isinstance(c.tag, str)) and r == header_rows:
                header_rows += 1
            grid.append(cells)
        if not grid:
            return ""
        width = max(len(row) for row in grid)
        grid = [row + [""] * (width - len(row)) for row in grid]
        head = grid[0] if header_rows else [""] * width
        body = grid[1:] if header_rows else grid
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * width]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        caption = table.find("caption")
        if caption is not None:
            lines.insert(0, _clean_inline(self.inline_content(caption)) + "\n")
        return "\n".join(lines)

    # --- inline ---------------------------------------------------------------------------

    def inline_content(self, el: etree._Element) -> str:
        parts = [self._text(el.text)] if el.text else []
        for child in el:
            if isinstance(child.tag, str) and not _skipped(child):
                if _tag(child) == "br":
                    parts.append("  \n")
                elif _tag(child) in _BLOCK:
                    parts.append(" " + " ".join(self.blocks(child)) + " ")
                else:
                    parts.append(self.inline(child))
            if child.tail:
                parts.append(self._text(child.tail))
        return "".join(parts)

    def inline(self, el: etree._Element) -> str:
        tag = _tag(el)
        if tag in ("code", "kbd", "samp", "tt"):
            return _inline_code("".join(str(t) for t in el.itertext()))
        if tag == "img":
            src = el.get("src") or ""
            alt = _SPACE.sub(" ", el.get("alt") or "").strip()
            return f"![{escape(alt)}]({self._href(src)})" if src else escape(alt)
        inner = self.inline_content(el)
        if tag in ("em", "i", "cite", "dfn", "var"):
            return _wrap(inner, "*")
        if tag in ("strong", "b"):
            return _wrap(inner, "**")
        if tag in ("del", "s", "strike"):
            return _wrap(inner, "~~")
        if tag == "a":
            href = el.get("href")
            text = inner.strip()
            if not href or href.startswith("javascript:") or not text:
                return inner
            return f"[{text}]({self._href(href)})"
        return inner

    def _href(self, href: str) -> str:
        url = urljoin(self.base_url, href.strip())
        if self.rewrite is not None:
            url = self.rewrite(url)
        return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")

    @staticmethod
    def _text(text: str) -> str:
        # Whitespace collapsed, keeping one space at either end where there was some.
        words = " ".join(text.split())
        if not words:
            return " " if text else ""
        lead = " " if text[0].isspace() else ""
        trail = " " if text[-1].isspace() else ""
        return escape(lead + words + trail)


def _heading_ids(heading: etree._Element) -> list[str]:
    """Ids a link may use for ``heading``: its own, its section's when it opens one (Sphinx,
    rustdoc), and those of empty elements just before either (Sphinx's :ref: labels)."""
    ids = []
    targets = [heading]
    parent = heading.getparent()
    if (
        parent is not None
        and _tag(parent) in ("section", "div")
        and _first_child(parent) is heading
    ):
        targets.append(parent)
    for target in targets:
        if target.get("id"):
            ids.append(target.get("id") or "")
        previous = target.getprevious()
        while previous is not None and previous.get("id") and not _has_text(previous):
            ids.append(previous.get("id") or "")
            previous = previous.getprevious()
    return [i for i in dict.fromkeys(ids) if re.fullmatch(r"[\w.:-]+", i)]


def _has_text(el: etree._Element) -> bool:
    return any(str(t).strip() for t in el.itertext())


def _first_child(el: etree._Element) -> etree._Element | None:
    for child in el:
        if isinstance(child.tag, str):
            return child
    return None


def _layout_list(el: etree._Element) -> bool:
    """A list used for page layout (Javadoc's summary and detail lists): every item holds a
    section or a heading. Its items are blocks of the page, not list items."""
    items = [li for li in el if _tag(li) == "li"]
    return bool(items) and all(
        li.find(".//section") is not None
        or any(True for _ in li.iter("h1", "h2", "h3", "h4", "h5", "h6"))
        for li in items
    )


def _code_pre(el: etree._Element) -> etree._Element | None:
    """The <pre> holding the code in a highlighter's wrapper, not the line-number gutter's."""
    for pre in el.iter("pre"):
        gutter = any(
            c in ("linenos", "linenodiv", "gutter")
            for node in (pre, *pre.iterancestors())
            for c in _classes(node)
        )
        if not gutter:
            return pre
    return None


def _language(el: etree._Element) -> str:
    data = el.get("data-lang") or el.get("data-language")
    if data:
        return data.strip().lower()
    for c in _classes(el):
        m = _LANG_CLASS.match(c)
        if m and m.group(1).lower() not in _LANG_PLAIN:
            return m.group(1).lower()
    if _tag(el) in ("pre", "code"):
        for c in _classes(el):
            if c.lower() in _BARE_LANGS:
                return c.lower()
    return ""


def _code_text(el: etree._Element) -> Iterable[str]:
    """The text of a code block without line-number gutters."""
    if el.text:
        yield el.text
    for child in el:
        if isinstance(child.tag, str) and not any(c in _SKIP_CLASSES for c in _classes(child)):
            if _tag(child) == "br":
                yield "\n"
            else:
                yield from _code_text(child)
        if child.tail:
            yield child.tail


def _inline_code(code: str) -> str:
    code = _SPACE.sub(" ", code)
    if not code.strip():
        return ""
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if code.startswith("`") or code.endswith("`") else ""
    return f"{ticks}{pad}{code}{pad}{ticks}"


def _wrap(inner: str, mark: str) -> str:
    stripped = inner.strip()
    if not stripped:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}{mark}{stripped}{mark}{trail}"


def _clean_inline(text: str) -> str:
    if "  \n" not in text:
        return " ".join(text.split())
    lines = (" ".join(line.split()) for line in text.split("  \n"))
    return "  \n".join(line for line in lines if line)


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, min(int(value or default), 1000))
    except ValueError:
        return default


def _closest_table(el: etree._Element) -> etree._Element | None:
    parent = el.getparent()
    while parent is not None and _tag(parent) != "table":
        parent = parent.getparent()
    return parent
