"""``shoal docs URL -o OUT [--format md|dir|jsonl|llms]``: a documentation site as Markdown.

It is a crawl with the ``docs`` plugin, limited to the start URL's path prefix (every crawl
option applies), whose per-page records are then assembled into the chosen format. The
records are kept beside ``--state`` when one is given (``STATE.pages.jsonl``), so a resumed
or repeated run assembles every page it has, not only those of its own run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from ._cmd_crawl import add_engine_options, options_from_args, run_crawl
from ._urls import validate_start_url
from .errors import OutputError, UsageError

__all__ = ["add_parser"]

FORMATS = ("md", "dir", "jsonl", "llms")  # as plugins/docs/_assemble.py writes them
_SUFFIX_FORMATS = {".md": "md", ".markdown": "md", ".jsonl": "jsonl", ".json": "jsonl"}


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "docs",
        help="a documentation site as clean Markdown",
        description="Crawl a documentation site within the start URL's path prefix and write "
        "its pages' main content as Markdown: one merged file with a table of contents "
        "(md), one file per page (dir), JSON lines (jsonl), or llms.txt and llms-full.txt "
        "(llms).",
    )
    p.add_argument("urls", nargs=1, metavar="URL", help="the documentation's start URL")
    p.add_argument(
        "-o", "--output", required=True, metavar="PATH", help="the file, or directory, to write"
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="md, dir, jsonl or llms (default: from -o: .md is md, .jsonl is jsonl)",
    )
    add_engine_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    fmt = args.format or _SUFFIX_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UsageError(f"say --format for {out} (md, dir, jsonl or llms)")
    if fmt in ("dir", "llms") and out.exists() and not out.is_dir():
        raise OutputError(f"--format {fmt} writes a directory, and {out} is a file")
    if fmt in ("md", "jsonl") and out.is_dir():
        raise OutputError(f"--format {fmt} writes a file, and {out} is a directory")
    # Checked now, not after a crawl of the whole site.
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {out}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write {out}: permission denied")
    start = validate_start_url(args.urls[0])
    with tempfile.TemporaryDirectory(prefix="shoal-docs-") as tmp:
        pages = Path(args.state + ".pages.jsonl") if args.state else Path(tmp) / "pages.jsonl"
        options = options_from_args(args, plugin="docs")
        options.output = str(pages)
        if args.state and Path(args.state).exists() and not args.resume:
            # A second run against the same state: every page again, conditionally.
            options.refresh = options.resume = True
        before = pages.stat().st_size if options.resume and pages.exists() else 0
        code = run_crawl(options, quiet=args.quiet, show_output=False)
        if code != 0 or not pages.exists():
            return code
        # Imported here: lxml and the converter are not for every `shoal` command.
        from ..plugins.docs._assemble import assemble, load_docs

        with pages.open("rb") as f:
            docs = load_docs(f)
            f.seek(before)
            changed = len(load_docs(f))  # pages of this run with new content
        written = assemble(docs, start, fmt, out)
    if not args.quiet:
        where = out if len(written) != 1 else written[0]
        again = f", {changed} changed" if before else ""
        print(f"shoal docs: {len(docs)} pages{again} -> {where} ({fmt})", flush=True)
    return 0
