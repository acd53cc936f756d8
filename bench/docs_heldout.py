"""A held-out docs corpus: real projects' documentation, from their sdists on PyPI, built offline
with themes the fixtures (alabaster, MkDocs Material) do not use, each page with a truth that none
of the converters under test produced. Nobody tuned shoal's extractor against these pages.

::

    pages = build_corpus(default_cache_dir())
    page.file, page.url      # a themed HTML page and the URL it is converted as
    page.units               # the truth's content units, as word strings (see ``words``)
    page.chrome              # what the page shows outside its content, as word strings

The truth, per generator:

* Sphinx: the same sources built with the ``text`` builder, which writes each page's content
  only (no theme, no sidebar). Wrapping is turned off in the generated conf.py, so each
  paragraph, list item, definition, heading and code line is one line of that output, and each
  table cell one cell of a row; those are the units.
* MkDocs: the same sources built with a bare theme whose template is ``{{ page.content }}``:
  the content MkDocs hands to any theme. Its units are the runs of text between block
  elements, as a browser breaks lines, and each code line.

Units are compared as sequences of words (``words``: ``\\w+`` after the real-site tests'
``plain``, case kept), on the truth's side as on every tool's: markup, Markdown escaping,
quoting and permalink signs then play no part. Units of fewer than ``MIN_TOKENS`` words are left
out: "Parameters", "Debug Mode" or a one-word code line are found in almost any output and say
nothing. Where the text builder writes something its own way, the truth is mended, for every
tool alike: "[image: alt]" becomes the alt text and list bullets and numbers go (the tools
number lists their own way). What is left as it is: a short admonition's body shares its
label's line ("Note: text"), so a tool that drops admonition titles loses that unit too; the
toctrees the text builder writes inline are content, as the fixtures' truth has them.

Chrome is derived from each themed page: the text runs outside the theme's content container
(one XPath per theme, ``_MAIN``) that occur neither in the page's truth nor in that container
(nor in its images' alt texts); an output with one of them carried navigation, headers,
footers or buttons along.

The sdists are fetched with ``pip download`` (PyPI only), unpacked and built under the cache
directory, outside the repository, once: a stamp per project records a finished build, and the
directory's name carries a digest of the projects, the generated configuration and the
generators' versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal, cast

import lxml.html
from lxml.etree import _Element

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from docsites.build import locked
from test_docs_real_sites import plain

__all__ = [
    "MIN_TOKENS",
    "PROJECTS",
    "BuildError",
    "HeldOutPage",
    "Project",
    "build_corpus",
    "default_cache_dir",
    "words",
]

MIN_TOKENS = 3
_MIN_CHROME_CHARS = 4
_TIMEOUT = 600.0
_WORD = re.compile(r"\w+")
# An element with nothing in it (shoal's ``<a id="..."></a>`` anchors): a reader sees nothing.
_EMPTY_ELEMENT = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)\b[^<>]*>\s*</\1>")
_EDGE_UNDERSCORES = re.compile(r"(?<!\w)_+|_+(?!\w)")
_LITERAL_BACKSLASH = re.compile(r"\\(?![!-/:-@\[-`{-~])")
# Bump when the build commands change: the cache directory's name depends on it.
_BUILD_VERSION = 2


@dataclass(frozen=True, slots=True)
class Project:
    """One project's docs, built with one theme."""

    name: str  # on PyPI
    version: str
    generator: Literal["sphinx", "mkdocs"]
    theme: str
    # Settings the pages need, verbatim: Python for conf.py, YAML for mkdocs.yml. The project's
    # own configuration is not used: it loads its own theme package and reaches the network
    # (intersphinx, analytics), and here the theme is the point.
    config: str = ""
    # Sdists whose sources autodoc imports (their ``src/``), besides the project's own.
    imports: tuple[str, ...] = ()
    docs: str = "docs"  # the sources' directory inside the sdist

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


def _pallets(name: str, *extensions: str, ghsa: bool = False) -> str:
    """The Pallets projects' settings, from their conf.py, without pallets_sphinx_themes (whose
    ``click:example``/``click:run`` directives run code; those blocks are dropped, from the
    truth and the pages alike) and without intersphinx."""
    links = [
        f'"issue": ("https://github.com/pallets/{name}/issues/%s", "#%s")',
        f'"pr": ("https://github.com/pallets/{name}/pull/%s", "#%s")',
    ]
    if ghsa:
        links.append('"ghsa": ("https://github.com/advisories/GHSA-%s", "GHSA-%s")')
    return "\n".join(
        [
            f"extensions = {['sphinx.ext.autodoc', 'sphinx.ext.extlinks', *extensions]!r}",
            'default_role = "code"',
            'autodoc_member_order = "bysource"',
            'autodoc_typehints = "description"',
            "autodoc_preserve_defaults = True",
            "extlinks = {" + ", ".join(links) + "}",
        ]
    )


_BLINKER = Project("blinker", "1.9.0", "sphinx", "")  # only imported, by Flask's autodoc

PROJECTS: tuple[Project, ...] = (
    Project(
        "flask",
        "3.1.3",
        "sphinx",
        "sphinx_rtd_theme",
        _pallets("flask", "sphinx_tabs.tabs", ghsa=True),
        imports=("werkzeug", "itsdangerous", "blinker"),
    ),
    Project(
        "werkzeug",
        "3.1.9",
        "sphinx",
        "furo",
        _pallets("werkzeug", ghsa=True) + '\nautoclass_content = "both"',
    ),
    Project(
        "itsdangerous",
        "2.2.0",
        "sphinx",
        "furo",
        _pallets("itsdangerous") + '\nautoclass_content = "both"',
    ),
    Project(
        "click",
        "8.5.1",
        "sphinx",
        "pydata_sphinx_theme",
        _pallets("click", "sphinx_tabs.tabs", "sphinx.ext.doctest", "myst_parser")
        + '\nmyst_enable_extensions = ["attrs_block"]\nmyst_heading_anchors = 3',
    ),
    Project("markupsafe", "3.0.4", "sphinx", "pydata_sphinx_theme", _pallets("markupsafe")),
    Project(
        "attrs",
        "26.1.0",
        "sphinx",
        "sphinx_book_theme",
        "\n".join(
            [
                "extensions = ['myst_parser', 'sphinx.ext.napoleon', 'sphinx.ext.autodoc',",
                "              'sphinx.ext.doctest', 'sphinx.ext.todo']",
                'myst_enable_extensions = ["colon_fence", "smartquotes", "deflist"]',
                'default_role = "any"',
                "add_function_parentheses = True",
            ]
        ),
    ),
    Project("jinja2", "3.1.6", "sphinx", "sphinx_book_theme", _pallets("jinja", ghsa=True)),
    Project(
        "markdown",  # Python-Markdown; its API reference needs mkdocstrings, so it is left out
        "3.11.3",
        "mkdocs",
        "readthedocs",
        "\n".join(
            [
                "exclude_docs: |",
                "  reference/",
                "markdown_extensions:",
                *(
                    f"  - {ext}"
                    for ext in ("abbr", "admonition", "attr_list", "def_list", "footnotes")
                ),
                *(f"  - {ext}" for ext in ("md_in_html", "smarty", "pymdownx.blocks.html")),
                "  - pymdownx.keys",
                '  - toc: {permalink: "§"}',
                "  - pymdownx.highlight",
                "  - pymdownx.superfences",
            ]
        ),
    ),
    Project(
        "starlette",  # its API sections (mkdocstrings' ``:::`` lines) stay plain text
        "1.10.0",
        "mkdocs",
        "mkdocs",
        "\n".join(
            [
                "markdown_extensions:",
                *(f"  - {ext}" for ext in ("attr_list", "admonition", "pymdownx.highlight")),
                *(f"  - {ext}" for ext in ("pymdownx.superfences", "pymdownx.details")),
                "  - pymdownx.tabbed: {alternate_style: true}",
                "  - pymdownx.tasklist: {custom_checkbox: true}",
            ]
        ),
    ),
)

# The element that holds a page's content, per theme: everything outside it is chrome.
_MAIN = {
    "sphinx_rtd_theme": "//div[@itemprop='articleBody']",
    "furo": "//article[@role='main']",
    "pydata_sphinx_theme": "//article[contains(@class, 'bd-article')]",
    "sphinx_book_theme": "//article[contains(@class, 'bd-article')]",
    "readthedocs": "//div[@role='main']",
    "mkdocs": "//div[@role='main']",
}

# Their versions are part of the corpus's identity: a new theme release changes every page.
_GENERATORS = (
    "sphinx",
    "docutils",
    "pygments",
    "myst-parser",
    "sphinx-tabs",
    "sphinx-rtd-theme",
    "furo",
    "pydata-sphinx-theme",
    "sphinx-book-theme",
    "mkdocs",
    "markdown",
    "pymdown-extensions",
)


class BuildError(RuntimeError):
    """A download or a build failed; the message carries its command and output."""


@dataclass(frozen=True, slots=True)
class HeldOutPage:
    project: str  # "flask-3.1.3"
    theme: str  # "sphinx furo", "mkdocs readthedocs"
    file: Path  # the themed page
    url: str
    units: tuple[str, ...]
    chrome: tuple[str, ...]
    truth_words: int


def words(text: str) -> list[str]:
    """The words a reader sees in ``text``: what is compared, for the truth and every tool's
    output alike. ``plain`` (the real-site tests') drops link targets, emphasis marks and
    escapes; punctuation then does not count."""
    text = _EMPTY_ELEMENT.sub(" ", text)
    # A backtick becomes a space, not nothing: the text builder quotes inline code ("x") and
    # the bare HTML's runs set <code> apart, so on the truth's side a code span is a word
    # apart even where the source glued it to the previous word ("with``f``").
    text = text.replace("`", " ")
    # A backslash before anything but ASCII punctuation escapes nothing in Markdown: it is seen
    # as it is ("\\n" in code), and plain would glue the letter after it to the word before.
    text = plain(_LITERAL_BACKSLASH.sub(" ", text))
    # Underscores at a word's edges go too: html2text writes emphasis as _x_, which plain
    # leaves (``__init__`` loses them as well, on every side).
    return _WORD.findall(_EDGE_UNDERSCORES.sub(" ", text))


def default_cache_dir() -> Path:
    """Under the system's temp dir, one per user and per state of the builds: the projects,
    the generated configuration, the build commands' version and the generators' versions."""
    digest = hashlib.sha256(repr((PROJECTS, _NO_WRAP, _BARE_THEME, _BUILD_VERSION)).encode())
    for dist in _GENERATORS:
        try:
            digest.update(f"{dist}=={metadata.version(dist)};".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{dist} missing;".encode())
    digest.update(str(sys.version_info[:2]).encode())
    return Path(tempfile.gettempdir()) / f"shoal-heldout-{os.getuid()}-{digest.hexdigest()[:16]}"


def build_corpus(cache_dir: Path) -> list[HeldOutPage]:
    """Downloads and builds what is missing under ``cache_dir``; returns every page."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with locked(cache_dir / ".lock"):
        stale = [p for p in PROJECTS if not (cache_dir / f"{p.key}.stamp").is_file()]
        if stale:
            _fetch(cache_dir, _needed_sdists(stale))
            _build(cache_dir, stale)
    return [page for project in PROJECTS for page in _pages(cache_dir, project)]


# --- download ---------------------------------------------------------------------------------


def _needed_sdists(projects: list[Project]) -> list[Project]:
    by_name = {p.name: p for p in (*PROJECTS, _BLINKER)}
    needed = {p.name: p for p in projects}
    for project in projects:
        needed.update({name: by_name[name] for name in project.imports})
    return list(needed.values())


def _fetch(cache_dir: Path, projects: list[Project]) -> None:
    """Each sdist, pinned, from PyPI through pip, unpacked under ``src/``."""
    missing = [p for p in projects if not (cache_dir / "src" / p.key).is_dir()]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in pool.map(lambda p: _fetch_one(cache_dir, p), missing):
            pass


def _fetch_one(cache_dir: Path, project: Project) -> None:
    scratch = Path(tempfile.mkdtemp(prefix=f".fetch-{project.key}-", dir=cache_dir))
    try:
        # --no-binary for this project only: the sdist (a wheel has no docs), while its build
        # backend, which pip installs to read the sdist's metadata, may come as a wheel.
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                project.name,
                "-d",
                str(scratch),
                f"{project.name}=={project.version}",
            ]
        )
        (archive,) = scratch.glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(scratch / "x", filter="data")
        (root,) = (scratch / "x").iterdir()
        (cache_dir / "src").mkdir(exist_ok=True)
        root.rename(cache_dir / "src" / project.key)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --- build ------------------------------------------------------------------------------------

# Turns the text builder's wrapping (at 70 columns) off, so that a line of its output is a whole
# paragraph, list item or code line, and a table cell a whole cell. It changes nothing else:
# admonitions still put a short body on their label's line ("Note: text"), as they do at any
# width.
_NO_WRAP = """
import sphinx.writers.text


def _one_line(self, text):
    return [" ".join(text.split())] if text.strip() else []


sphinx.writers.text.TextWrapper.wrap = _one_line
"""

_BARE_THEME = "{{ page.content }}\n"


def _sphinx_conf(cache_dir: Path, project: Project) -> Path:
    src = cache_dir / "src"
    paths = [str(src / project.key / "src")]
    by_name = {p.name: p for p in (*PROJECTS, _BLINKER)}
    paths += [str(src / by_name[name].key / "src") for name in project.imports]
    conf = cache_dir / "conf" / project.key
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "conf.py").write_text(
        f"# Written by bench/docs_heldout.py for {project.key}.\n"
        "import sys\n\n"
        f"sys.path[:0] = {paths!r}\n"
        f"{_NO_WRAP}\n"
        f"project = {project.name!r}\n"
        f"release = version = {project.version!r}\n"
        f"html_theme = {project.theme!r}\n"
        "exclude_patterns = ['_build']\n"
        f"{project.config}\n"
    )
    return conf


def _mkdocs_configs(cache_dir: Path, project: Project) -> tuple[Path, Path]:
    """The themed config and the bare one (the truth), both over the sdist's docs."""
    conf = cache_dir / "conf" / project.key
    bare = conf / "bare"
    bare.mkdir(parents=True, exist_ok=True)
    (bare / "main.html").write_text(_BARE_THEME)
    docs = json.dumps(str(cache_dir / "src" / project.key / project.docs))  # JSON is YAML
    # No plugins: the search plugin's index is no page, and the projects' own need the network.
    common = f"site_name: {project.name}\ndocs_dir: {docs}\nplugins: []\n{project.config}\n"
    themed = conf / "mkdocs.yml"
    themed.write_text(f"theme:\n  name: {project.theme}\n{common}")
    truth = conf / "mkdocs-bare.yml"
    truth.write_text(f"theme:\n  name: null\n  custom_dir: {json.dumps(str(bare))}\n{common}")
    return themed, truth


def _commands(cache_dir: Path, project: Project) -> list[list[str]]:
    """The builds of the themed site (``html/``) and of its truth (``truth/``)."""
    python = sys.executable
    html, truth = cache_dir / "html" / project.key, cache_dir / "truth" / project.key
    if project.generator == "mkdocs":
        themed, bare = _mkdocs_configs(cache_dir, project)
        build = [python, "-m", "mkdocs", "build", "-q", "-c", "-f"]
        return [[*build, str(themed), "-d", str(html)], [*build, str(bare), "-d", str(truth)]]
    conf = _sphinx_conf(cache_dir, project)
    docs = cache_dir / "src" / project.key / project.docs
    # One doctree cache for both builders: the text build reuses what the HTML build parsed.
    doctrees = cache_dir / "doctrees" / project.key
    sphinx = [python, "-m", "sphinx", "-q", "-c", str(conf), "-d", str(doctrees)]
    return [
        [*sphinx, "-b", "html", str(docs), str(html)],
        [*sphinx, "-b", "text", str(docs), str(truth)],
    ]


def _build(cache_dir: Path, projects: list[Project]) -> None:
    """Builds projects in parallel, one per core; a stamp marks each one finished."""

    def one(project: Project) -> None:
        for out in ("html", "truth", "doctrees"):
            shutil.rmtree(cache_dir / out / project.key, ignore_errors=True)
        for argv in _commands(cache_dir, project):
            _run(argv, cwd=cache_dir / "src" / project.key)
        shutil.rmtree(cache_dir / "doctrees" / project.key, ignore_errors=True)
        (cache_dir / f"{project.key}.stamp").write_text(project.theme)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for _ in pool.map(one, projects):
            pass


def _run(argv: list[str], cwd: Path | None = None) -> None:
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",  # Material's banner, should it be installed
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        output = proc.stdout.decode(errors="replace")
        raise BuildError(f"failed ({proc.returncode}): {' '.join(argv)}\n{output[-4000:]}")


# --- pages and their truth --------------------------------------------------------------------


def _pages(cache_dir: Path, project: Project) -> Iterator[HeldOutPage]:
    html_root = cache_dir / "html" / project.key
    truth_root = cache_dir / "truth" / project.key
    if project.generator == "sphinx":
        # A page per text file: genindex, search and the module index have none, and are not
        # documentation anyway.
        pairs = [
            (html_root / t.relative_to(truth_root).with_suffix(".html"), _text_units(t))
            for t in sorted(truth_root.rglob("*.txt"))
        ]
    else:
        pairs = [
            (html_root / t.relative_to(truth_root), _html_units(_parse(t)))
            for t in sorted(truth_root.rglob("index.html"))
        ]
    for html, units in pairs:
        if not html.is_file():
            continue
        truth = " ".join(units)
        path = html.relative_to(html_root).as_posix()
        yield HeldOutPage(
            project=project.key,
            theme=f"{project.generator} {project.theme}",
            file=html,
            url=f"http://127.0.0.1:8000/{project.key}/{path}",
            units=tuple(u for u in units if u.count(" ") + 1 >= MIN_TOKENS),
            chrome=tuple(_chrome(_parse(html), _MAIN[project.theme], truth)),
            truth_words=len(truth.split()),
        )


# "[image: alt][image]": how the text builder shows an image; the HTML tools show the alt text.
_IMAGE = re.compile(r"\[image(?:: ([^\]]*))?\]")
# A list item's bullet or number: the tools renumber lists their own way.
_BULLET = re.compile(r"^(?:[*+•-]|\(?(?:\d+|#|[a-zA-Z]|[ivxlIVXL]+)[.)])\s+")


def _text_units(path: Path) -> list[str]:
    """A text-builder page's units, as token strings: its lines, table rows split into cells."""
    units = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        pieces = stripped.strip("|").split("|") if stripped.startswith("|") else [stripped]
        for piece in pieces:
            piece = _BULLET.sub("", _IMAGE.sub(lambda m: m.group(1) or "", piece.strip()))
            if found := words(piece):
                units.append(" ".join(found))
    return units


def _parse(path: Path) -> _Element:
    # Decoded here: the bare MkDocs pages declare no charset, and lxml would read them as Latin-1.
    return lxml.html.document_fromstring(path.read_text(encoding="utf-8"))


# Where a line of text ends, as a browser lays it out (inline elements do not end one).
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p",
        "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "ul", "br", "button", "label", "select", "option",
    }
)  # fmt: skip
_SKIP = frozenset(["script", "style", "noscript", "template", "svg", "head", "title"])


def _runs(root: _Element, skip: _Element | None = None) -> list[str]:
    """The runs of text in ``root`` between block boundaries, each code line apart, as a
    browser lays them out, as word strings; ``skip`` (a subtree) and non-text elements left
    out."""
    runs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if found := words("".join(current)):
            runs.append(" ".join(found))
        current.clear()

    def walk(el: _Element, in_pre: bool) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if el is skip or tag in _SKIP or not tag:
            if el.tail:
                add(el.tail, in_pre)
            return
        block = tag in _BLOCKS
        pre = in_pre or tag == "pre"
        # Inline code is a word apart, as ``words`` makes a Markdown code span.
        apart = " " if tag == "code" and not in_pre else ""
        if block:
            flush()
        current.append(apart)
        if el.text:
            add(el.text, pre)
        for child in el:
            walk(child, pre)
        current.append(apart)
        if block:
            flush()
        if el.tail:
            add(el.tail, in_pre)

    def add(text: str, in_pre: bool) -> None:
        if not in_pre:
            current.append(text)
            return
        first, *rest = text.split("\n")
        current.append(first)
        for line in rest:
            flush()
            current.append(line)

    walk(root, False)
    flush()
    return runs


def _html_units(root: _Element) -> list[str]:
    return _runs(root)


def _chrome(root: _Element, main_xpath: str, truth: str) -> list[str]:
    """Text runs of the page outside its content that neither the truth nor the content has."""
    found = [el for el in cast(list[object], root.xpath(main_xpath)) if isinstance(el, _Element)]
    if not found:
        raise BuildError(f"no content container {main_xpath} in a page")
    main = found[0]
    # Alt texts are content too (every tool writes them), though no text run has them.
    alts = [" ".join(words(str(alt))) for alt in cast(list[str], main.xpath(".//img/@alt"))]
    content = f" {truth} {' '.join(_runs(main))} {' '.join(alts)} "
    body = root.find("body")
    chrome = []
    for run in _runs(body if body is not None else root, skip=main):
        # Too short to tell: "n" and "p" (keyboard-shortcut keys), "pdf", "API".
        if len(run.replace(" ", "")) < _MIN_CHROME_CHARS:
            continue
        if f" {run} " not in content and run not in chrome:
            chrome.append(run)
    return chrome
