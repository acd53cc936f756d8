"""The docs plugin against real documentation sites: Sphinx and MkDocs Material, built from the
sources in tests/docsites/ by the real generators, crawled with ``shoal docs`` over loopback;
and the hand-written layouts of six other generators, parsed directly (their links lead
nowhere).

Checked against tests/docsites/truth.py, written from the sources: every content element is in
its page's Markdown (as the text a reader sees), headings keep their level and code its
language; no chrome string of the page and no marker of another page (which only the sidebar
and prev/next links carry) appears; every page is there once; and in the merged file every
link between pages points to an anchor the file has.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import read_jsonl, run_shoal
from docsites import fixtures
from docsites.serve import DocSiteServer
from docsites.truth import SITES, Kind, Page, Site

from shoal.plugins.api import Response
from shoal.plugins.docs._page import parse_doc

docsites = fixtures.docsites
docsite_server = fixtures.docsite_server

_LINK = re.compile(r"(?<!\\)\[((?:[^\]\\]|\\.)*)\]\([^)]*\)")


def plain(markdown: str) -> str:
    """The text a reader of the rendered Markdown sees, whitespace collapsed."""
    text = _LINK.sub(r"\1", markdown)
    text = re.sub(r"`|\*\*|(?<![\w\\])\*|(?<!\\)\*(?!\w)", "", text)
    text = re.sub(r"\\(.)", r"\1", text)
    return " ".join(text.split())


def check_page(site: Site, page: Page, markdown: str) -> list[str]:
    """What is wrong with ``markdown`` as the Markdown of ``page``; empty when nothing."""
    problems = []
    text = plain(markdown)
    for element in page.elements:
        if " ".join(element.marker.split()) not in text:
            problems.append(f"lost {element.kind} {element.marker!r}")
        elif element.kind == Kind.HEADING:
            prefix = "#" * element.level + " "
            lines = [plain(line) for line in markdown.splitlines() if line.startswith(prefix)]
            if not any(element.marker in line for line in lines):
                problems.append(f"heading {element.marker!r} is not at level {element.level}")
        elif element.kind == Kind.CODE and element.lang:
            fence = re.compile(
                rf"^```+{re.escape(element.lang)}\n(?:.*\n)*?.*{element.marker}", re.M
            )
            if not fence.search(markdown):
                problems.append(f"code {element.marker!r} lost its language {element.lang}")
    problems += [f"chrome {c!r}" for c in page.chrome if c in markdown]
    problems += [f"another page's {m!r}" for m in sorted(site.foreign_markers(page)) if m in text]
    return problems


@pytest.mark.parametrize("name", ["sphinx", "mkdocs"])
async def test_real_generator_sites_become_faithful_markdown(
    name: str, docsite_server: DocSiteServer, tmp_path: Path
) -> None:
    site = SITES[name]
    start = docsite_server.url(name)
    pages_out, merged_out = tmp_path / "pages.jsonl", tmp_path / "site.md"
    for fmt, out in (("jsonl", pages_out), ("md", merged_out)):
        done = await run_shoal(
            "docs", start, "-o", str(out), "--format", fmt, "--allow-private", "127.0.0.1"
        )
        assert done.returncode == 0, done.stderr
    records = {str(r["url"]): str(r["markdown"]) for r in read_jsonl(pages_out)}
    problems = {}
    for page in site.pages:
        url = docsite_server.url(name, page.path)
        if url not in records:
            problems[page.path] = ["page missing"]
            continue
        found = check_page(site, page, records[url])
        if found:
            problems[page.path] = found
    assert not problems, problems

    merged = merged_out.read_text()
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', merged))
    for page in site.pages:  # each page once
        first = page.elements[0].marker
        assert plain(merged).count(first) >= 1, first
    internal = [t for t in re.findall(r"\]\((#[^)]*)\)", merged)]
    assert internal and {t[1:] for t in internal} <= anchors, set(internal) - anchors
    # Links to a section of another page land on that section's heading, not the page's top.
    contents = merged.split("## Contents", 1)[1].split("<a id=", 1)[0]
    toc = re.findall(r"^- \[[^\]]*\]\(#([^)]+)\)$", contents, re.M)
    assert len(toc) == len(site.pages), toc  # each page once (/ and /index.html are one)
    pages = set(toc)
    sections = {t[1:] for t in internal} - pages
    truth_fragments = {e.target for p in site.pages for e in p.elements if e.kind == Kind.LINK}
    assert sections or not any("#" in str(t) for t in truth_fragments), truth_fragments


@pytest.mark.parametrize("page", SITES["handwritten"].pages, ids=lambda p: p.path)
def test_other_generators_layouts(page: Page, docsites: dict[str, Path]) -> None:
    body = (docsites["handwritten"] / page.file).read_bytes()
    url = f"http://127.0.0.1:8000/{page.path}"
    response = Response(url=url, final_url=url, status=200, headers={}, body=body)
    markdown = parse_doc(response).markdown
    assert not check_page(SITES["handwritten"], page, markdown)
