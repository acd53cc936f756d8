"""What the docs plugin must make of each fixture page: the content to keep and the chrome to drop.

Written from the sources beside this module (``sphinx/``, ``mkdocs/``, ``handwritten/``), not
from the built HTML. Every content element of a source carries a marker word that is unique in
its site (``sx-inst-p02`` is paragraph 2 of the Sphinx install page), so a test can find each
element in the converter's Markdown without caring how it was spelled. (One exception: a link
whose text is another page's title, as in Sphinx's toctree, shares that title's marker.)::

    page = SITES["sphinx"].page("install.html")
    for element in page.elements:
        assert element.marker in markdown          # nothing lost
    for text in page.chrome:
        assert text not in markdown                # no navigation, footer, banners...
    for marker in SITES["sphinx"].foreign_markers(page):
        assert marker not in markdown              # no sidebar listing the other pages

Conventions:

* ``Element.text`` is the element's text as a reader sees it, whitespace collapsed to one space
  (code keeps its lines): no Markdown or HTML, no permalink signs (``¶``, ``§``), no footnote
  reference numbers, no button or label text. Inline elements (emphasis, strong, inline code,
  links) are listed after the block that contains them, and their text is inside its text too.
* Elements are in source order. (Material's content tabs put both labels before both panels in
  the HTML; the order here pairs each label with its panel, as a reader would.)
* ``Element.marker`` is the element's own marker word; for generated text that cannot carry one
  (rustdoc's ``Struct Hawser``, Javadoc's ``Class Tideline``) it is the whole text.
* ``Page.chrome`` are strings that the built page shows outside its content (theme labels, site
  name, navigation entries, footers, banners, buttons) and that no content element contains;
  the Markdown must not contain them (compare case-sensitively).
* ``Page.optional`` are strings the Markdown may or may not keep (pdoc's collapsed "View
  Source" code, rustdoc's generated trait sections).
* ``Page.main`` are XPath expressions of the containers of the page's content, used only to check
  these fixtures; the plugin must find its content without them.
* Link and image targets are relative to the site root (``guide.html#tide-windows``) or
  absolute (``https://www.python.org/``); resolve them against the URL the site is served at.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

__all__ = ["MARKER", "SITES", "Element", "Kind", "Page", "Site"]

#: A marker word: site, page, element kind and number (``sx-guide-td07``, ``mk-inst-h2a``).
MARKER = re.compile(r"\b(?:sx|mk|hw)-[a-z]+-[a-z]+[0-9]+[a-z]?\b")


class Kind(enum.StrEnum):
    HEADING = "heading"  # level: 1-6
    PARAGRAPH = "paragraph"
    LIST_ITEM = "list_item"  # level: depth, 1 for the outermost list; ordered
    TABLE_CELL = "table_cell"  # header: a header cell
    CODE = "code"  # lang: the declared language, None when the source declares none
    ADMONITION = "admonition"  # admonition: its kind (note, warning...); title as shown
    TERM = "term"  # a definition list's term
    DEFINITION = "definition"  # a definition list's (or field list's) description
    IMAGE = "image"  # text: the alt text; target: the image's URL
    BLOCKQUOTE = "blockquote"
    LINK = "link"  # target: the URL it points to
    EMPHASIS = "emphasis"
    STRONG = "strong"
    INLINE_CODE = "inline_code"
    CAPTION = "caption"  # of a table, figure or code block
    FOOTNOTE = "footnote"  # the footnote's text, without its number or back-link
    SIGNATURE = "signature"  # an API object's signature line
    TAB_LABEL = "tab_label"  # the label of one panel of a tab set


@dataclass(frozen=True, slots=True)
class Element:
    kind: Kind
    text: str
    level: int = 0
    ordered: bool = False
    header: bool = False
    lang: str | None = None
    admonition: str | None = None
    title: str | None = None
    target: str | None = None
    marker: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.marker:
            found = MARKER.search(self.text)
            object.__setattr__(self, "marker", found.group() if found else self.text)


@dataclass(frozen=True, slots=True)
class Page:
    path: str  # URL path relative to the site root: "" for the home page, "install/", "x.html"
    file: str  # the built file, relative to the site root
    source: str  # its source, relative to the site's source directory
    elements: tuple[Element, ...]
    chrome: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    main: tuple[str, ...] = ()

    @property
    def markers(self) -> tuple[str, ...]:
        return tuple(e.marker for e in self.elements)

    def text_markers(self) -> set[str]:
        """Every marker word this page's content holds: in its elements' texts and titles, and in
        the targets of its links (``guide/#tide-windows-mk-guide-h2a``)."""
        return {
            marker
            for e in self.elements
            for text in (e.text, e.title or "", e.target or "")
            for marker in MARKER.findall(text)
        }


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    pages: tuple[Page, ...]

    def page(self, path: str) -> Page:
        for page in self.pages:
            if page.path == path:
                return page
        raise KeyError(f"{self.name} has no page {path!r}")

    def foreign_markers(self, page: Page) -> set[str]:
        """Markers of the other pages that this page's content does not contain.

        They appear in this page's HTML only as chrome (a sidebar listing every page's headings,
        "next" and "previous" links), so the page's Markdown must not contain them.
        """
        others = {m for p in self.pages if p is not page for m in p.text_markers()}
        return others - page.text_markers()


# --- constructors, to keep the tables below readable ------------------------------------------


def h(level: int, text: str) -> Element:
    return Element(Kind.HEADING, text, level=level)


def p(text: str) -> Element:
    return Element(Kind.PARAGRAPH, text)


def li(depth: int, text: str, *, ordered: bool = False) -> Element:
    return Element(Kind.LIST_ITEM, text, level=depth, ordered=ordered)


def ol(depth: int, text: str) -> Element:
    return li(depth, text, ordered=True)


def th(text: str) -> Element:
    return Element(Kind.TABLE_CELL, text, header=True)


def td(text: str) -> Element:
    return Element(Kind.TABLE_CELL, text)


def code(lang: str | None, text: str) -> Element:
    return Element(Kind.CODE, text, lang=lang)


def adm(kind: str, text: str, title: str | None = None) -> Element:
    return Element(Kind.ADMONITION, text, admonition=kind, title=title)


def term(text: str) -> Element:
    return Element(Kind.TERM, text)


def dd(text: str) -> Element:
    return Element(Kind.DEFINITION, text)


def img(alt: str, target: str) -> Element:
    return Element(Kind.IMAGE, alt, target=target)


def quote(text: str) -> Element:
    return Element(Kind.BLOCKQUOTE, text)


def link(text: str, target: str) -> Element:
    return Element(Kind.LINK, text, target=target)


def em(text: str) -> Element:
    return Element(Kind.EMPHASIS, text)


def strong(text: str) -> Element:
    return Element(Kind.STRONG, text)


def icode(text: str) -> Element:
    return Element(Kind.INLINE_CODE, text)


def caption(text: str) -> Element:
    return Element(Kind.CAPTION, text)


def footnote(text: str) -> Element:
    return Element(Kind.FOOTNOTE, text)


def sig(text: str, marker: str = "") -> Element:
    return Element(Kind.SIGNATURE, text, marker=marker)


def tab(text: str) -> Element:
    return Element(Kind.TAB_LABEL, text)


# --- Sphinx (alabaster) -----------------------------------------------------------------------

# On every page: the sidebar (site name, blurb, "Navigation" with every page's title, extra
# links, "Related Topics") and the footer.
_SPHINX_CHROME = (
    "Kelpie Handbook",
    "Tooling for tidal kelp farms",
    "Navigation",
    "Issue tracker",
    "Related Topics",
    "Documentation overview",
    "©2025, Kelpie Fixture Authors",
    "Powered by",
    "Alabaster",
    "Page source",
)
_SPHINX_MAIN = ("//div[@role='main']",)
_PREVIOUS = ("Previous:",)
_NEXT = ("Next:",)

SPHINX = Site(
    "sphinx",
    (
        Page(
            "",
            "index.html",
            "index.rst",
            (
                h(1, "Harvest basics sx-home-h1"),
                p(
                    "This manual sx-home-p01 explains how a tidal farm plans its "
                    "harvest sx-home-em01 runs."
                ),
                em("harvest sx-home-em01"),
                p(
                    "Every run sx-home-p02 follows a written plan sx-home-strong01 and starts with "
                    "kelp run sx-home-icode01 on the shore computer."
                ),
                strong("written plan sx-home-strong01"),
                icode("kelp run sx-home-icode01"),
                # The toctree: each page's title, linked, in the content.
                link("Installing the toolkit sx-inst-h1", "install.html"),
                link("Operating guide sx-guide-h1", "guide.html"),
                link("Reference sx-ref-h1", "reference.html"),
                link("Größe und Maße sx-intl-h1", "intl.html"),
                h(2, "Where to begin sx-home-h2a"),
                p(
                    "First-time readers sx-home-p03 should start with "
                    "the installation chapter sx-home-link01."
                ),
                link("the installation chapter sx-home-link01", "install.html"),
            ),
            chrome=_SPHINX_CHROME + _NEXT,
            main=_SPHINX_MAIN,
        ),
        Page(
            "install.html",
            "install.html",
            "install.rst",
            (
                h(1, "Installing the toolkit sx-inst-h1"),
                p("The toolkit sx-inst-p01 runs on any machine with Python 3.11 or newer."),
                h(2, "Requirements sx-inst-h2a"),
                p(
                    "You need sx-inst-p02 some patience sx-inst-em01, a sturdy boat "
                    "sx-inst-strong01 and the kelp-cli sx-inst-icode01 package."
                ),
                em("patience sx-inst-em01"),
                strong("a sturdy boat sx-inst-strong01"),
                icode("kelp-cli sx-inst-icode01"),
                li(1, "Hardware sx-inst-li01"),
                li(2, "a tide gauge sx-inst-li02"),
                li(2, "a salinity probe sx-inst-li03"),
                li(3, "calibrated monthly sx-inst-li04"),
                li(1, "Software sx-inst-li05"),
                p("Then follow these steps sx-inst-p03:"),
                ol(1, "Download the archive sx-inst-li06"),
                ol(1, "Unpack it sx-inst-li07"),
                ol(2, "verify the checksum sx-inst-li08"),
                ol(2, "verify the signature sx-inst-li09"),
                ol(1, "Run the installer sx-inst-li10"),
                h(3, "Shell setup sx-inst-h3a"),
                p("Install the package sx-inst-p04 from a terminal:"),
                code(
                    "bash",
                    "pip install kelp-cli  # sx-inst-code01\n"
                    "kelp check --all > report.txt 2>&1 && echo done",
                ),
                h(3, "Python setup sx-inst-h3b"),
                p("Call the library sx-inst-p05 from your own scripts:"),
                code(
                    "python",
                    "import kelp\n\n\n"
                    "def harvest(rows: list[str]) -> int:\n"
                    '    """Count the rows sx-inst-code02."""\n'
                    '    return sum(1 for row in rows if row < "m" and row != "")',
                ),
                h(2, "Verifying sx-inst-h2b"),
                p("The installer prints sx-inst-p06 a short report:"),
                code(None, "report sx-inst-code03\n<no markup here> & nothing to escape"),
            ),
            chrome=_SPHINX_CHROME + _PREVIOUS + _NEXT,
            main=_SPHINX_MAIN,
        ),
        Page(
            "guide.html",
            "guide.html",
            "guide.rst",
            (
                h(1, "Operating guide sx-guide-h1"),
                p("This chapter sx-guide-p01 covers daily operations on the farm."),
                h(2, "Tide windows sx-guide-h2a"),
                p("Harvest only sx-guide-p02 inside these windows:"),
                caption("Windows per site sx-guide-cap01"),
                th("Site sx-guide-td01"),
                th("Window sx-guide-td02"),
                td("North bay sx-guide-td03"),
                td("05:00–07:00 sx-guide-td04"),
                td("South reef sx-guide-td05"),
                td("17:30–19:00 sx-guide-td06"),
                h(2, "Yields per crop sx-guide-h2b"),
                p("Some cells sx-guide-p03 of this table span two columns or two rows:"),
                th("Crop sx-guide-td07"),
                th("Yield sx-guide-td08"),
                th("Remark sx-guide-td09"),
                td("Sugar kelp, both seasons sx-guide-td10"),  # colspan=2
                td("Dried on racks sx-guide-td11"),  # rowspan=2
                td("Dulse sx-guide-td12"),
                td("12 t sx-guide-td13"),
                h(2, "Words we use sx-guide-h2c"),
                term("Frond sx-guide-dt01"),
                dd("The leaf-like blade sx-guide-dd01 of a kelp."),
                term("Holdfast sx-guide-dt02"),
                dd("The root-like anchor sx-guide-dd02 on the rock."),
                h(2, "Safety sx-guide-h2d"),
                adm("note", "Check the tide table sx-guide-adm01 before each run.", "Note"),
                adm("warning", "Never harvest during a storm sx-guide-adm02.", "Warning"),
                adm("tip", "Label the crates sx-guide-adm03 by row.", "Tip"),
                adm(
                    "admonition",
                    "Rest each row sx-guide-adm04 for one winter.",
                    "Seasonal advice sx-guide-cap02",
                ),
                p("The founder wrote sx-guide-p04 in the first logbook:"),
                quote("Grow slowly and harvest gently sx-guide-bq01."),
                p("Before leaving sx-guide-p05 the harbour, run:"),
                code(None, "kelp preflight sx-guide-code01"),
            ),
            chrome=_SPHINX_CHROME + _PREVIOUS + _NEXT,
            main=_SPHINX_MAIN,
        ),
        Page(
            "reference.html",
            "reference.html",
            "reference.rst",
            (
                h(1, "Reference sx-ref-h1"),
                p("This page sx-ref-p01 collects pictures, links and the programming interface."),
                h(2, "Pictures sx-ref-h2a"),
                img("A green kelp frond sx-ref-alt01", "_images/kelp.png"),
                img("Kelp frond diagram sx-ref-alt02", "_images/kelp.png"),
                caption("The frond as seen from above sx-ref-cap01."),
                h(2, "Cross references sx-ref-h2b"),
                p(
                    "See sx-ref-p02 the tide windows sx-ref-link01 before planning, read the "
                    "installation steps sx-ref-link02 once, and visit the Python website "
                    "sx-ref-link03 for the language itself. Jump back to the pictures "
                    "sx-ref-link04 on this page."
                ),
                link("the tide windows sx-ref-link01", "guide.html#tide-windows"),
                link("the installation steps sx-ref-link02", "install.html"),
                link("Python website sx-ref-link03", "https://www.python.org/"),
                link("the pictures sx-ref-link04", "reference.html#ref-pictures"),
                p("Kelp grows fast sx-ref-p03 in cold water."),
                footnote("Up to half a metre a day sx-ref-fn01."),
                h(2, "Programming interface sx-ref-h2c"),
                sig("kelp.harvest(row, *, depth=2.5, tag='sx-ref-sig01') → int"),
                p("Harvest one row sx-ref-p04 and return the number of crates filled."),
                caption("harvest.py sx-ref-cap02"),
                code(
                    "python",
                    "import kelp\n"
                    'crates = kelp.harvest("north", depth=3.0)  # sx-ref-code01\n'
                    "print(crates)",
                ),
                # A doctest block: Sphinx marks it "doctest highlight-default", no language.
                code(None, '>>> kelp.harvest("south")  # sx-ref-code02\n4'),
            ),
            chrome=_SPHINX_CHROME + _PREVIOUS + _NEXT,
            main=_SPHINX_MAIN,
        ),
        Page(
            "intl.html",
            "intl.html",
            "intl.rst",
            (
                h(1, "Größe und Maße sx-intl-h1"),
                p(
                    "Ünïcödé everywhere sx-intl-p01: naïve café façade, Ελληνικά, русский текст, "
                    "日本語の文章, עברית, 🌊."
                ),
                h(2, "Tabelle sx-intl-h2a"),
                th("Maß sx-intl-td01"),
                th("Wert sx-intl-td02"),
                td("Länge sx-intl-td03"),
                td("3,5 m ± 0,2 sx-intl-td04"),
                h(2, "Übersicht sx-intl-h2b"),
                li(1, "Straße sx-intl-li01"),
                li(1, "Smørrebrød sx-intl-li02"),
                li(1, "Ångström sx-intl-li03"),
            ),
            chrome=_SPHINX_CHROME + _PREVIOUS,
            main=_SPHINX_MAIN,
        ),
    ),
)


# --- MkDocs (Material) ------------------------------------------------------------------------

# On every page: the header (logo title, repository), both sidebars (navigation entries as
# titled in mkdocs.yml's nav, "Table of contents"), the footer and the cookie-consent dialog.
_MKDOCS_CHROME = (
    "Skip to content",
    "Kelpie Manual",
    "Initializing search",
    "example/kelpie",
    "Start here",
    "Getting set up",
    "Daily operations",
    "Lookup tables",
    "Extras",
    "Character sets",
    "Table of contents",
    "Back to top",
    "Copyright © 2025 Kelpie Fixture Authors",
    "Made with",
    "Material for MkDocs",
    "Cookie consent",
    "We use cookies to recognise your repeated visits and preferences.",
    "Accept",
    "Manage settings",
)
_MKDOCS_MAIN = ("//article[contains(@class, 'md-content__inner')]",)
_MK_PREVIOUS = ("Previous",)
_MK_NEXT = ("Next",)

MKDOCS = Site(
    "mkdocs",
    (
        Page(
            "",
            "index.html",
            "docs/index.md",
            (
                h(1, "Tidal tooling mk-home-h1"),
                p(
                    "This manual mk-home-p01 explains how a tidal farm plans its "
                    "harvest mk-home-em01 runs."
                ),
                em("harvest mk-home-em01"),
                p(
                    "Every run mk-home-p02 follows a written plan mk-home-strong01 and starts with "
                    "kelp run mk-home-icode01 on the shore computer."
                ),
                strong("written plan mk-home-strong01"),
                icode("kelp run mk-home-icode01"),
                h(2, "Chapters mk-home-h2a"),
                li(1, "Tools mk-home-li01: installing them mk-home-link01"),
                link("installing them mk-home-link01", "install/"),
                li(1, "Routine mk-home-li02: operating the farm mk-home-link02"),
                link("operating the farm mk-home-link02", "guide/"),
                li(1, "Facts mk-home-li03: looking things up mk-home-link03"),
                link("looking things up mk-home-link03", "reference/"),
                li(1, "Letters mk-home-li04: the Unicode corner mk-home-link04"),
                link("the Unicode corner mk-home-link04", "advanced/unicode/"),
            ),
            chrome=_MKDOCS_CHROME + _MK_NEXT,
            main=_MKDOCS_MAIN,
        ),
        Page(
            "install/",
            "install/index.html",
            "docs/install.md",
            (
                h(1, "Installing the toolkit mk-inst-h1"),
                p("The toolkit mk-inst-p01 runs on any machine with Python 3.11 or newer."),
                h(2, "Requirements mk-inst-h2a"),
                p(
                    "You need mk-inst-p02 some patience mk-inst-em01, a sturdy boat "
                    "mk-inst-strong01 and the kelp-cli mk-inst-icode01 package."
                ),
                em("patience mk-inst-em01"),
                strong("a sturdy boat mk-inst-strong01"),
                icode("kelp-cli mk-inst-icode01"),
                li(1, "Hardware mk-inst-li01"),
                li(2, "a tide gauge mk-inst-li02"),
                li(2, "a salinity probe mk-inst-li03"),
                li(3, "calibrated monthly mk-inst-li04"),
                li(1, "Software mk-inst-li05"),
                p("Then follow these steps mk-inst-p03:"),
                ol(1, "Download the archive mk-inst-li06"),
                ol(1, "Unpack it mk-inst-li07"),
                ol(2, "verify the checksum mk-inst-li08"),
                ol(2, "verify the signature mk-inst-li09"),
                ol(1, "Run the installer mk-inst-li10"),
                h(3, "Shell setup mk-inst-h3a"),
                p("Install the package mk-inst-p04 from a terminal:"),
                code(
                    "bash",
                    "pip install kelp-cli  # mk-inst-code01\n"
                    "kelp check --all > report.txt 2>&1 && echo done",
                ),
                h(3, "Python setup mk-inst-h3b"),
                p("Call the library mk-inst-p05 from your own scripts:"),
                caption("harvest.py mk-inst-cap01"),
                # Line numbers 1-6 sit in a table column of their own; line 4 is highlighted.
                code(
                    "python",
                    "import kelp\n\n\n"
                    "def harvest(rows: list[str]) -> int:\n"
                    '    """Count the rows mk-inst-code02."""\n'
                    '    return sum(1 for row in rows if row < "m" and row != "")',
                ),
                h(2, "Verifying mk-inst-h2b"),  # its id is "verifying" ({ #verifying })
                p("The installer prints mk-inst-p06 a short report:"),
                code(None, "report mk-inst-code03\n<no markup here> & nothing to escape"),
            ),
            chrome=_MKDOCS_CHROME + _MK_PREVIOUS + _MK_NEXT,
            main=_MKDOCS_MAIN,
        ),
        Page(
            "guide/",
            "guide/index.html",
            "docs/guide.md",
            (
                h(1, "Operating guide mk-guide-h1"),
                p("This chapter mk-guide-p01 covers daily operations on the farm."),
                h(2, "Tide windows mk-guide-h2a"),
                p("Harvest only mk-guide-p02 inside these windows:"),
                th("Site mk-guide-td01"),
                th("Window mk-guide-td02"),
                th("Crates mk-guide-td03"),
                td("North bay mk-guide-td04"),
                td("05:00–07:00 mk-guide-td05"),
                td("12 mk-guide-td06"),
                td("South reef mk-guide-td07"),
                td("17:30–19:00 mk-guide-td08"),  # inline code in the cell
                td("7 mk-guide-td09"),
                h(2, "Words we use mk-guide-h2b"),
                term("Frond mk-guide-dt01"),
                dd("The leaf-like blade mk-guide-dd01 of a kelp."),
                term("Holdfast mk-guide-dt02"),
                dd("The root-like anchor mk-guide-dd02 on the rock."),
                h(2, "Safety mk-guide-h2c"),
                adm("note", "Check the tide table mk-guide-adm01 before each run.", "Note"),
                adm("warning", "Never harvest during a storm mk-guide-adm02.", "Warning"),
                adm(
                    "tip",
                    "Rest each row mk-guide-adm03 for one winter.",
                    "Seasonal advice mk-guide-cap01",
                ),
                # Collapsible (pymdownx.details): <details class="info"><summary>.
                adm(
                    "info",
                    "Resting lets the holdfasts mk-guide-adm04 recover.",
                    "Why rest rows mk-guide-cap02",
                ),
                p("The founder wrote mk-guide-p03 in the first logbook:"),
                quote("Grow slowly and harvest gently mk-guide-bq01."),
                h(2, "Two ways mk-guide-h2d"),
                tab("Shell mk-guide-tab01"),
                code("bash", "kelp preflight  # mk-guide-code01"),
                tab("Python mk-guide-tab02"),
                code("python", "kelp.preflight()  # mk-guide-code02"),
            ),
            chrome=_MKDOCS_CHROME + _MK_PREVIOUS + _MK_NEXT,
            main=_MKDOCS_MAIN,
        ),
        Page(
            "reference/",
            "reference/index.html",
            "docs/reference.md",
            (
                h(1, "Reference mk-ref-h1"),
                p("This page mk-ref-p01 collects pictures, links and footnotes."),
                h(2, "Pictures mk-ref-h2a"),
                img("A green kelp frond mk-ref-alt01", "images/kelp.png"),
                img("Kelp frond diagram mk-ref-alt02", "images/kelp.png"),
                caption("The frond as seen from above mk-ref-cap01."),
                h(2, "Cross references mk-ref-h2b"),
                p(
                    "See mk-ref-p02 the tide windows mk-ref-link01 before planning, read the "
                    "installation steps mk-ref-link02 once, and visit the Python website "
                    "mk-ref-link03 for the language itself. Jump back to the pictures "
                    "mk-ref-link04 on this page, or to the report mk-ref-link05."
                ),
                link("the tide windows mk-ref-link01", "guide/#tide-windows-mk-guide-h2a"),
                link("the installation steps mk-ref-link02", "install/"),
                link("Python website mk-ref-link03", "https://www.python.org/"),
                link("the pictures mk-ref-link04", "reference/#pictures-mk-ref-h2a"),
                link("the report mk-ref-link05", "install/#verifying"),
                p("Kelp grows fast mk-ref-p03 in cold water."),
                footnote("Up to half a metre a day mk-ref-fn01."),
            ),
            chrome=_MKDOCS_CHROME + _MK_PREVIOUS + _MK_NEXT,
            main=_MKDOCS_MAIN,
        ),
        Page(
            "advanced/unicode/",
            "advanced/unicode/index.html",
            "docs/advanced/unicode.md",
            (
                h(1, "Größe und Maße mk-intl-h1"),
                p(
                    "Ünïcödé everywhere mk-intl-p01: naïve café façade, Ελληνικά, русский текст, "
                    "日本語の文章, עברית, 🌊."
                ),
                p("Return mk-intl-p02 to the guide mk-intl-link01."),
                link("the guide mk-intl-link01", "guide/#safety-mk-guide-h2c"),
                h(2, "Tabelle mk-intl-h2a"),
                th("Maß mk-intl-td01"),
                th("Wert mk-intl-td02"),
                td("Länge mk-intl-td03"),
                td("3,5 m ± 0,2 mk-intl-td04"),
                h(2, "Übersicht mk-intl-h2b"),
                li(1, "Straße mk-intl-li01"),
                li(1, "Smørrebrød mk-intl-li02"),
                li(1, "Ångström mk-intl-li03"),
            ),
            chrome=_MKDOCS_CHROME + _MK_PREVIOUS,
            main=_MKDOCS_MAIN,
        ),
    ),
)


# --- Hand-written imitations of other generators ----------------------------------------------

HANDWRITTEN = Site(
    "handwritten",
    (
        Page(
            "docusaurus.html",
            "docusaurus.html",
            "docusaurus.html",
            (
                h(1, "Reef settings hw-docu-h1"),
                p(
                    "Reefline reads hw-docu-p01 its settings from reef.config.js hw-docu-icode01 "
                    "at start-up, with sensible defaults hw-docu-em01 for every key "
                    "hw-docu-strong01."
                ),
                icode("reef.config.js hw-docu-icode01"),
                em("sensible defaults hw-docu-em01"),
                strong("every key hw-docu-strong01"),
                h(2, "File layout hw-docu-h2a"),
                p("A minimal file hw-docu-p02 looks like this:"),
                # Prism: one <span class="token-line"> per line, separated by <br>, no newlines.
                code(
                    "js",
                    "export default {\n  depth: 12, // hw-docu-code01\n  alerts: a < b && c,\n};",
                ),
                h(3, "Keys hw-docu-h3a"),
                li(1, "depth hw-docu-li01"),
                li(2, "metres below the surface hw-docu-li02"),
                li(1, "alerts hw-docu-li03"),
                th("Key hw-docu-td01"),
                th("Default hw-docu-td02"),
                td("depth hw-docu-td03"),
                td("12 hw-docu-td04"),
                adm(
                    "warning", "Depths above 40 metres hw-docu-adm01 void the warranty.", "warning"
                ),
                p("Then read hw-docu-p03 the buoy chapter hw-docu-link01 first."),
                link("the buoy chapter hw-docu-link01", "docs/setup/buoys"),
            ),
            chrome=(
                "Skip to main content",
                "Reefline Docs",
                "Tutorials",
                "Field notes blog",
                "Version 2.4.x",
                "Unreleased 3.0",
                "Search the reef",
                "Reefline at a glance",
                "Setting sail",
                "Anchoring buoys",
                "Configuring the reef",
                "Sonar troubleshooting",
                "Version: 2.4.x",
                "On this page",
                "Copy code",
                "Edit this page",
                "Last updated",
                "Previous",
                "Next",
                "Diving club chat",
                "Built with Docusaurus",
                "We bake cookies to measure reef traffic.",
                "Accept all cookies",
                "Only necessary cookies",
            ),
            main=("//div[contains(@class, 'theme-doc-markdown')]",),
        ),
        Page(
            "readthedocs.html",
            "readthedocs.html",
            "readthedocs.html",
            (
                h(1, "Pump tuning hw-rtd-h1"),
                p(
                    "Each pump hw-rtd-p01 has a nominal rate hw-rtd-em01 and a "
                    "max_rate hw-rtd-icode01 limit."
                ),
                em("nominal rate hw-rtd-em01"),
                icode("max_rate hw-rtd-icode01"),
                h(2, "Flow rates hw-rtd-h2a"),
                ol(1, "Close the intake hw-rtd-li01"),
                ol(1, "Set the rate hw-rtd-li02"),
                code("python", "pump.set_rate(40)  # hw-rtd-code01"),
                adm("note", "Rates are litres per minute hw-rtd-adm01.", "Note"),
                th("Pump hw-rtd-td01"),
                th("Rate hw-rtd-td02"),
                td("P1 hw-rtd-td03"),
                td("40 hw-rtd-td04"),
                p("See hw-rtd-p02 the valve chapter hw-rtd-link01 for seals."),
                link("the valve chapter hw-rtd-link01", "valves.html"),
            ),
            chrome=(
                "Brinewell",
                "Operator handbook",
                "Getting wet",
                "Tuning the pumps",
                "Valves and seals",
                "Edit on GitHub",
                "Previous",
                "Next",
                "© Copyright 2025, Brinewell Maintainers.",
                "Built with",
                "Read the Docs",
                "v: latest",
                "Versions",
                "Downloads",
                "Project Home",
                "Ads by EthicalAds",
            ),
            main=("//div[@itemprop='articleBody']",),
        ),
        Page(
            "rustdoc.html",
            "rustdoc.html",
            "rustdoc.html",
            (
                h(1, "Struct Hawser"),
                code("rust", "pub struct Hawser { /* private fields */ } // hw-rust-code01"),
                p(
                    "A coil of rope hw-rust-p01 with a known length hw-rust-em01, measured in "
                    "u32 hw-rust-icode01 metres."
                ),
                em("known length hw-rust-em01"),
                icode("u32 hw-rust-icode01"),
                h(2, "Usage hw-rust-h2a"),
                code(
                    "rust",
                    "let rope = hawser::Hawser::new(30); // hw-rust-code02\n"
                    "assert!(rope.len() > 0 && rope.len() < 100);",
                ),
                li(1, "Ropes are never empty hw-rust-li01"),
                li(1, "Splicing keeps the length hw-rust-li02"),
                adm("warning", "Never splice a wet rope hw-rust-adm01."),
                h(2, "Implementations hw-rust-h2b"),
                h(3, "impl Hawser"),
                sig("pub fn new(length: u32) -> Self"),
                p("Makes a new rope hw-rust-p02 of the given length."),
                sig("pub fn splice(&mut self, other: Hawser)"),
                p("Joins two ropes hw-rust-p03 end to end."),
            ),
            chrome=(
                "0.7.3",
                "Sections",
                "Examples",
                "Associated Functions",
                "Auto Trait Implementations",
                "In crate hawser",
                "Keyboard help",
                "Theme settings",
                "Copy item path",
                "Source",
                "Expand description",
                "Run",
            ),
            optional=(
                "Trait Implementations",
                "impl Clone for Hawser",
                "fn clone(&self) -> Hawser",
                "Returns a copy of the value.",
                "Read more",
            ),
            main=("//section[@id='main-content']",),
        ),
        Page(
            "pdoc.html",
            "pdoc.html",
            "pdoc.html",
            (
                h(1, "lanternfish.shoals"),
                p("Tools for counting fish hw-pdoc-p01 in a moving shoal hw-pdoc-strong01."),
                strong("moving shoal hw-pdoc-strong01"),
                h(2, "Counting hw-pdoc-h2a"),
                code(None, ">>> Shoal(12).split(2)  # hw-pdoc-code01\n[Shoal(6), Shoal(6)]"),
                li(1, "Counts are estimates hw-pdoc-li01"),
                li(1, "Shoals merge at dusk hw-pdoc-li02"),
                sig("class Shoal:"),
                p("A group of fish hw-pdoc-p02 that swims together."),
                sig("Shoal(size: int)"),
                p("Starts a shoal hw-pdoc-p03 of size hw-pdoc-icode01 fish."),
                icode("size hw-pdoc-icode01"),
                sig("def split(self, parts: int) -> list[Shoal]:"),
                p("Divides the shoal hw-pdoc-p04 into equal parts."),
                adm("warning", "Parts must divide the size hw-pdoc-adm01."),
            ),
            chrome=("Contents", "API Documentation", "built with", "Edit on GitHub", "View Source"),
            # The source behind each "View Source" toggle, hidden until the reader asks.
            optional=("hw-pdoc-hidden01", "hw-pdoc-hidden02"),
            main=("//main",),
        ),
        Page(
            "javadoc.html",
            "javadoc.html",
            "javadoc.html",
            (
                h(1, "Class Tideline"),
                sig("public final class Tideline extends Object"),
                p(
                    "Predicts high water hw-jdoc-p01 for one harbour, using "
                    "TideTable hw-jdoc-icode01 data."
                ),
                icode("TideTable hw-jdoc-icode01"),
                p("Instances are immutable hw-jdoc-p02 and safe to share."),
                code(
                    "java",
                    'Tideline line = new Tideline("Kirkwall"); // hw-jdoc-code01\n line.next();',
                ),
                h(2, "Constructor Summary"),
                # Javadoc's summary "tables" are grids of <div>s, not <table>s.
                td("Creates a tideline hw-jdoc-td01 for the named harbour."),
                h(2, "Method Summary"),
                td("Returns the next high water hw-jdoc-td02."),
                h(2, "Method Details"),
                sig("public Instant next()"),
                p("Returns the next high water hw-jdoc-p03 after now."),
                li(1, "Never in the past hw-jdoc-li01"),
                li(1, "Rounded to the minute hw-jdoc-li02"),
                dd("the instant of high water hw-jdoc-dd01"),
                dd("IllegalStateException - if the table is stale hw-jdoc-dd02"),
            ),
            chrome=(
                "JavaScript is disabled on your browser.",
                "Skip navigation links",
                "Overview",
                "Tree",
                "Deprecated",
                "Help",
                "Harbourmaster API 4.1",
                "Summary:",
                "Detail:",
                "SEARCH",
                "All Methods",
                "Instance Methods",
                "Concrete Methods",
                "Copyright © 2025 Harbourmaster Guild.",
            ),
            main=("//main",),
        ),
        Page(
            "gitbook.html",
            "gitbook.html",
            "gitbook.html",
            (
                h(1, "Lines and knots hw-gb-h1"),
                # GitBook's page description, under the title and outside <main>.
                p("Every berth hw-gb-p01 gets two lines and a spring."),
                p(
                    "Crews tie up hw-gb-p02 with a bowline hw-gb-strong01 and check it with "
                    "knot-check hw-gb-icode01."
                ),
                strong("bowline hw-gb-strong01"),
                icode("knot-check hw-gb-icode01"),
                h(2, "Line sizes hw-gb-h2a"),
                # GitBook keeps no language class, only inline colours.
                code(None, "moor --line bow # hw-gb-code01\nmoor --line stern && echo tied"),
                adm("info", "Spring lines stop surging hw-gb-adm01 at low tide."),
                li(1, "Bow line hw-gb-li01"),
                li(2, "twelve millimetres hw-gb-li02"),
                li(1, "Stern line hw-gb-li03"),
                th("Vessel hw-gb-td01"),
                th("Line hw-gb-td02"),
                td("Trawler hw-gb-td03"),
                td("16 mm hw-gb-td04"),
                p("Continue with hw-gb-p03 the fender guide hw-gb-link01."),
                link("the fender guide hw-gb-link01", "quayside/berthing/fenders"),
            ),
            chrome=(
                "Quayside Guides",
                "Ask or search harbour notes",
                "Book a berth",
                "Welcome aboard",
                "Berthing",
                "Mooring lines",
                "Fender checklist",
                "Powered by GitBook",
                "Copy",
                "Previous",
                "Next",
                "Last updated",
                "2 months ago",
                "Was this helpful?",
                "On this page",
                "This site uses cookies",
                "privacy policy",
                "Accept",
                "Reject",
            ),
            main=("//h1", "//h1/following-sibling::p[1]", "//main"),
        ),
    ),
)

SITES: dict[str, Site] = {site.name: site for site in (SPHINX, MKDOCS, HANDWRITTEN)}
