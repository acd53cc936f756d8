"""Docs conversion, side by side: shoal's extractor + converter against trafilatura, html2text and
markdownify, on the pages of the fixture sites built by the real generators (tests/docsites/).

For each tool, in one run, on one core: pages per second (median of --runs passes over the
corpus) and, against the truth written from the sources:

* recall: the share of content elements whose text is in the Markdown, as a reader sees it;
* precision: the share of pages with no chrome (theme labels, navigation, footers, banners)
  and no text of another page (which only sidebars and prev/next links carry).

html2text and markdownify convert whole pages (they do not look for the content), so their
precision shows what extraction is for.

    python bench/docs_convert.py            # writes bench/docs_results.md
    python bench/docs_convert.py --runs 3 --out /tmp/x.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from docsites.build import build_sites, default_cache_dir  # noqa: E402
from docsites.truth import SITES, Page, Site  # noqa: E402
from test_docs_real_sites import plain  # noqa: E402

from shoal.plugins.api import Response  # noqa: E402
from shoal.plugins.docs._page import parse_doc  # noqa: E402

Convert = Callable[[bytes, str], str]


def _shoal(body: bytes, url: str) -> str:
    return parse_doc(Response(url=url, final_url=url, status=200, headers={}, body=body)).markdown


def _trafilatura(body: bytes, url: str) -> str:
    import trafilatura

    return trafilatura.extract(body, url=url, output_format="markdown", include_tables=True,
                               include_formatting=True, include_links=True) or ""  # fmt: skip


def _html2text(body: bytes, url: str) -> str:
    import html2text

    converter = html2text.HTML2Text(baseurl=url, bodywidth=0)
    return str(converter.handle(body.decode("utf-8", "replace")))


def _markdownify(body: bytes, url: str) -> str:
    import markdownify

    return str(markdownify.markdownify(body.decode("utf-8", "replace"), heading_style="ATX"))


TOOLS: dict[str, Convert] = {
    "shoal": _shoal,
    "trafilatura": _trafilatura,
    "html2text (whole page)": _html2text,
    "markdownify (whole page)": _markdownify,
}


def _corpus() -> list[tuple[Site, Page, bytes, str]]:
    roots = build_sites(default_cache_dir())
    corpus = []
    for name, site in SITES.items():
        for page in site.pages:
            body = (roots[name] / page.file).read_bytes()
            corpus.append((site, page, body, f"http://127.0.0.1:8000/{page.path}"))
    return corpus


def _score(site: Site, page: Page, markdown: str) -> tuple[int, int, bool]:
    text = plain(markdown)
    found = sum(1 for e in page.elements if " ".join(e.marker.split()) in text)
    clean = not any(c in markdown for c in page.chrome) and not any(
        m in text for m in site.foreign_markers(page)
    )
    return found, len(page.elements), clean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "docs_results.md")
    args = parser.parse_args()
    corpus = _corpus()
    rows = []
    for name, convert in TOOLS.items():
        times = []
        for _ in range(args.runs):
            began = time.process_time()
            outputs = [convert(body, url) for _, _, body, url in corpus]
            times.append(time.process_time() - began)
        found = total = clean = 0
        for (site, page, _, _), markdown in zip(corpus, outputs, strict=True):
            f, t, c = _score(site, page, markdown)
            found, total, clean = found + f, total + t, clean + c
        rate = len(corpus) / statistics.median(times)
        rows.append((name, rate, found / total, clean / len(corpus)))
        print(
            f"{name}: {rate:.0f} pages/s, recall {found}/{total}, clean pages {clean}/{len(corpus)}"
        )
    shoal_rate = rows[0][1]
    lines = [
        "# Docs conversion: shoal against trafilatura, html2text and markdownify",
        "",
        f"{len(corpus)} pages of the fixture sites (Sphinx, MkDocs Material, six hand-written "
        "layouts: tests/docsites/), one core, CPU time, median of "
        f"{args.runs} passes. Produced by `python bench/docs_convert.py`.",
        "",
        "Caveat: shoal's extractor was developed against these fixtures, so its recall here "
        "is the best case; the other tools meet them for the first time. A corpus none of "
        "them has seen is still to come.",
        "",
        "| tool | pages/s | shoal is | recall (elements kept) | pages without chrome |",
        "|---|---|---|---|---|",
    ]
    for name, rate, recall, clean in rows:
        lines.append(
            f"| {name} | {rate:,.0f} | {shoal_rate / rate:.1f}x | {recall:.1%} | {clean:.0%} |"
        )
    args.out.write_text("\n".join(lines) + "\n")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
