"""The run's outputs for people and for other tools: a Markdown report, per feed, newest first,
and every article as a JSON object (``--json``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path

import msgspec
import orjson

from ._store import ReportItem

__all__ = ["json_articles", "markdown_report", "write_atomically"]


def markdown_report(items: Sequence[ReportItem], *, generated: str, analyzer: str) -> str:
    """Feeds in the order given, each with its articles newest first (as ``items`` come)."""
    lines = [
        "# Feed report",
        "",
        f"Generated {generated} · {len(items)} articles · analyzer: {analyzer}",
        "",
    ]
    for feed, group in groupby(items, key=lambda i: i.feed):
        articles = list(group)
        lines += [f"## {_inline(articles[0].feed_title or feed)}", "", f"<{feed}>", ""]
        for item in articles:
            title = _inline(item.title or item.url)
            lines.append(f"### [{title}](<{item.url}>)")
            lines.append("")
            meta = [item.published[:16].replace("T", " ") + " UTC" if item.published else "undated"]
            if item.words:
                meta.append(f"{item.words} words, {item.reading_minutes:g} min")
            if item.language:
                meta.append(item.language)
            lines += [" · ".join(meta), ""]
            if item.error:
                lines += [f"*Not read: {item.error}.*", ""]
            elif item.summary:
                lines += [_inline(item.summary), ""]
            else:
                lines += ["*Not analysed yet.*", ""]
            if item.keywords:
                lines += ["Keywords: " + ", ".join(_inline(k) for k in item.keywords), ""]
    if not items:
        lines += ["No articles yet.", ""]
    return "\n".join(lines)


def json_articles(items: Sequence[ReportItem]) -> bytes:
    """Every article as one JSON object of an array: feed, url, title, published, text,
    summary, keywords and the rest of the analysis."""
    return orjson.dumps([msgspec.to_builtins(i) for i in items], option=orjson.OPT_INDENT_2)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` whole or not at all: a crash never leaves half a report."""
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _inline(text: str) -> str:
    """Text that stays text in Markdown: one line, no link or emphasis syntax of its own."""
    text = " ".join(text.split())
    for ch in "\\`*_[]<>#|":
        text = text.replace(ch, "\\" + ch)
    return text
