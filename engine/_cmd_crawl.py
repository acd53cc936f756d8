"""``shoal crawl URL... [options]``: crawl breadth-first and write one JSON line per page."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ._options import CrawlOptions
from ._stats import CrawlStats, Progress
from .errors import OutputError

__all__ = [
    "add_engine_options",
    "add_parser",
    "check_writable",
    "format_summary",
    "number",
    "options_from_args",
]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)


def _size(text: str) -> int:
    """``10000000``, ``10MB``, ``512k``, ``1GiB`` → bytes (k = 1000, Ki = 1024)."""
    m = _SIZE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 10MB or 512k)")
    number, unit = float(m.group(1)), (m.group(2) or "b").lower()
    base = 1024 if "i" in unit else 1000
    power = {"b": 0, "k": 1, "m": 2, "g": 3}[unit[0]]
    return int(number * base**power)


def number(kind: type[int] | type[float], *, zero_ok: bool = False) -> Any:
    """An argparse type: a number more than 0 (or at least 0 with ``zero_ok``); every
    crawling command's numeric options use it."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (value > 0 or (zero_ok and value == 0)):  # NaN is neither
            raise argparse.ArgumentTypeError(
                f"must be {'0 or more' if zero_ok else 'more than 0'}: {text!r}"
            )
        return value

    return parse


def add_engine_options(p: argparse.ArgumentParser, **defaults: Any) -> None:
    """The options every crawling command shares (crawl, and the plugins' own commands);
    ``defaults`` are a command's own defaults, by CrawlOptions field name."""
    d = CrawlOptions(urls=[], **defaults)
    g = p.add_argument_group("crawl limits and politeness")
    g.add_argument(
        "--scope",
        metavar="SCOPE",
        help="prefix (default: same host and path prefix as the start URL), host, "
        "domain, or URL prefixes separated by commas",
    )
    g.add_argument(
        "--max-pages",
        type=number(int),
        default=d.max_pages,
        metavar="N",
        help=f"stop after N pages (default {d.max_pages})",
    )
    g.add_argument(
        "--max-depth",
        type=number(int, zero_ok=True),
        default=d.max_depth,
        metavar="N",
        help=f"follow links at most N steps from a start URL (default {d.max_depth})",
    )
    t = p.add_argument_group("crawler traps (0 turns a limit off)")
    t.add_argument(
        "--max-url-length",
        type=number(int, zero_ok=True),
        default=d.max_url_length,
        metavar="N",
        help=f"do not follow links longer than N characters (default {d.max_url_length})",
    )
    t.add_argument(
        "--max-path-repeats",
        type=number(int, zero_ok=True),
        default=d.max_path_repeats,
        metavar="N",
        help="do not follow links in which one path segment occurs more than N times "
        f"(default {d.max_path_repeats})",
    )
    t.add_argument(
        "--max-pages-per-host",
        type=number(int, zero_ok=True),
        default=d.max_pages_per_host,
        metavar="N",
        help="admit at most N URLs per host (default: no limit beyond --max-pages)",
    )
    t.add_argument(
        "--max-pages-per-pattern",
        type=number(int, zero_ok=True),
        default=d.max_pages_per_pattern,
        metavar="N",
        help="admit at most N URLs per host and path pattern, digits counting as one "
        f"(/cal/2031/07/ is /cal/0/0/; default {d.max_pages_per_pattern})",
    )
    g.add_argument(
        "--workers",
        type=number(int),
        default=0,
        metavar="N",
        help="worker processes (default: half the usable CPUs, at least 1)",
    )
    g.add_argument(
        "--parse-processes",
        type=number(int),
        default=0,
        metavar="N",
        help="parse processes per worker (default: the CPUs the workers leave, shared, at least 1)",
    )
    g.add_argument(
        "--concurrency",
        type=number(int),
        default=d.concurrency,
        metavar="N",
        help=f"requests in flight per worker (default {d.concurrency})",
    )
    g.add_argument(
        "--per-host-concurrency",
        type=number(int),
        default=d.per_host_concurrency,
        metavar="N",
        help="requests in flight per host, all workers together "
        f"(default {d.per_host_concurrency})",
    )
    g.add_argument(
        "--rate",
        type=number(float, zero_ok=True),
        default=d.rate,
        metavar="R",
        help="requests per second per host, all workers together (default: no "
        "rate limit beyond --per-host-concurrency and robots.txt Crawl-delay)",
    )
    g.add_argument(
        "--user-agent",
        default=d.user_agent,
        metavar="UA",
        help=f"User-Agent header and robots.txt agent (default {d.user_agent!r})",
    )
    g.add_argument(
        "--timeout",
        type=number(float),
        default=d.timeout,
        metavar="SECONDS",
        help=f"give up on a request after this long (default {d.timeout:g})",
    )
    g.add_argument(
        "--max-bytes",
        type=_size,
        default=d.max_bytes,
        metavar="SIZE",
        help="cut responses off past this size while streaming (default 10MB)",
    )
    g.add_argument(
        "--min-rate",
        type=number(float, zero_ok=True),
        default=d.min_rate,
        metavar="BYTES_PER_S",
        help="give up on a body that arrives slower than this, judged over 5 s "
        f"(default {d.min_rate:g}; 0: no minimum)",
    )
    g.add_argument(
        "--retries",
        type=number(int, zero_ok=True),
        default=d.retries,
        metavar="N",
        help=f"retries after a failed try, with backoff (default {d.retries})",
    )
    g.add_argument(
        "--allow-private",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="allow connecting to this loopback/private host (repeatable); such "
        "addresses are refused by default",
    )
    g.add_argument(
        "--ports",
        default=d.ports,
        metavar="LIST",
        help="ports a crawl may connect to, e.g. 80,443,8000-9000; ranges skip the ports "
        f"browsers refuse, a port named alone is allowed (default {d.ports})",
    )
    g.add_argument(
        "--robots-cache",
        type=number(float),
        default=d.robots_cache,
        metavar="SECONDS",
        help="fetch an origin's robots.txt again after this long (default and most: "
        f"{d.robots_cache:g}, a day, as RFC 9309 says)",
    )
    g.add_argument(
        "--robots-retry",
        type=number(float),
        default=d.robots_retry,
        metavar="SECONDS",
        help="when robots.txt is unavailable (5xx, unreachable) its pages wait; try it again "
        f"after this long, doubling each time up to 10 minutes (default {d.robots_retry:g})",
    )
    g.add_argument("--ignore-robots", action="store_true", help="do not obey robots.txt")
    s = p.add_argument_group("state and output")
    s.add_argument(
        "--state",
        metavar="FILE",
        help="SQLite state file, kept for --resume (default: a temporary file)",
    )
    s.add_argument(
        "--resume", action="store_true", help="continue the crawl in --state; appends to the output"
    )
    s.add_argument(
        "--refresh",
        action="store_true",
        help="crawl every page of --state again, conditionally (If-None-Match, "
        "If-Modified-Since, then the body's hash): unchanged pages are counted, not "
        "parsed again; appends to the output (implies --resume)",
    )
    s.add_argument("--stats-json", metavar="FILE", help="also write the summary as JSON here")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary")
    s.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "crawl",
        help="crawl breadth-first, one JSON line per page",
        description="Crawl breadth-first from the start URLs and write one JSON line per "
        "fetched page (url, final_url, status, depth, title, links, bytes, fetched_at, "
        "elapsed_ms, error).",
    )
    p.add_argument("urls", nargs="+", metavar="URL", help="start URL(s)")
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="JSON Lines output (default: standard output)",
    )
    p.add_argument(
        "--plugin",
        default="links",
        metavar="NAME",
        help="plugin to run: an installed name or module:Class (default links)",
    )
    add_engine_options(p)
    p.set_defaults(run=run)


def options_from_args(args: argparse.Namespace, **extra: Any) -> CrawlOptions:
    return CrawlOptions(
        urls=list(args.urls),
        output=args.output,
        scope=args.scope,
        max_pages=args.max_pages,
        max_depth=args.max_depth,
        max_url_length=args.max_url_length,
        max_path_repeats=args.max_path_repeats,
        max_pages_per_host=args.max_pages_per_host,
        max_pages_per_pattern=args.max_pages_per_pattern,
        workers=args.workers,
        parse_processes=args.parse_processes,
        concurrency=args.concurrency,
        per_host_concurrency=args.per_host_concurrency,
        rate=args.rate,
        state=args.state,
        resume=args.resume or args.refresh,
        refresh=args.refresh,
        user_agent=args.user_agent,
        timeout=args.timeout,
        max_bytes=args.max_bytes,
        min_rate=args.min_rate,
        retries=args.retries,
        allow_private=list(args.allow_private),
        ports=args.ports,
        robots_cache=min(args.robots_cache, 86_400.0),
        robots_retry=args.robots_retry,
        ignore_robots=args.ignore_robots,
        stats_json=args.stats_json,
        **extra,
    )


def run(args: argparse.Namespace) -> int:
    options = options_from_args(args, plugin=args.plugin)
    return run_crawl(options, quiet=args.quiet)


#: The environment variable naming the descriptor for progress lines (see _progress_pipe).
PROGRESS_FD_VARIABLE = "SHOAL_PROGRESS_FD"


def run_crawl(options: CrawlOptions, *, quiet: bool, show_output: bool = True) -> int:
    """Run a crawl from the command line; the exit status is the return value.
    ``show_output=False``: the records are a command's own intermediate file (``shoal docs``,
    ``shoal rss``), not something to name in the summary."""
    if options.stats_json:
        check_writable(Path(options.stats_json))
    if options.output and options.output != "-":
        check_writable(Path(options.output))
    import uvloop

    # Imported here: the engine is heavy, and every spawned process imports this module.
    from ._supervisor import Supervisor

    supervisor = Supervisor(
        options,
        handle_signals=True,
        show_progress=not quiet and sys.stderr.isatty(),
        progress=_progress_pipe(),
    )
    try:
        stats = uvloop.run(supervisor.run())
    except asyncio.CancelledError:
        # A second signal: the workers were killed and nothing more was committed. Every
        # commit is a transaction, so the state file is consistent as it stands.
        again = f" (continue with --state {options.state} --resume)" if options.state else ""
        sys.stderr.write(f"shoal: stopped at once{again}\n")
        return 128 + (supervisor.signal_number or signal.SIGINT)
    if options.stats_json:
        Path(options.stats_json).write_bytes(
            orjson.dumps(stats, default=_builtins, option=orjson.OPT_INDENT_2) + b"\n"
        )
    if not quiet:
        sys.stderr.write(format_summary(stats, show_output=show_output))
    if stats.stopped_by == "interrupted":
        return 128 + (supervisor.signal_number or 2)
    return 0


def _progress_pipe() -> Callable[[Progress], None] | None:
    """With SHOAL_PROGRESS_FD set (by `shoal daemon`, which runs each crawl as a child), one
    JSON line of figures on that descriptor about twice a second: the daemon's live progress."""
    fd = os.environ.get(PROGRESS_FD_VARIABLE)
    if not fd or not fd.isdigit():
        return None
    try:
        out = os.fdopen(int(fd), "wb", buffering=0)
    except OSError:
        return None

    def write(progress: Progress) -> None:
        try:
            out.write(orjson.dumps(progress, default=_builtins) + b"\n")
        except OSError:
            pass  # the daemon went away: the crawl carries on regardless

    return write


def _builtins(obj: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(obj)


def check_writable(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"output {path} is a directory")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(f"cannot write {path}: permission denied")


def format_summary(stats: CrawlStats, *, show_output: bool = True) -> str:
    def counts(d: dict[str, int]) -> str:
        return "  ".join(f"{k}×{v}" for k, v in d.items()) or "none"

    lines = [
        f"shoal: {stats.stopped_by}: {stats.pages} pages in {stats.elapsed_s:.1f} s, "
        f"{stats.pages_per_s:.1f} pages/s, {_human(stats.bytes)}",
        f"  status: {counts(stats.status_counts)}",
        f"  errors: {counts(stats.errors)}   retries: {stats.retries}   "
        f"robots.txt disallowed: {stats.robots_disallowed}"
        + (f"   unchanged: {stats.unchanged}" if stats.unchanged else ""),
        *(
            [f"  links not followed (crawler-trap limits): {counts(stats.links_skipped)}"]
            if stats.links_skipped
            else []
        ),
        f"  workers: {stats.workers} ({stats.worker_restarts} restarts)   "
        f"loop lag max: workers {stats.loop_lag_max_ms:.1f} ms, "
        f"supervisor {stats.supervisor_loop_lag_max_ms:.1f} ms",
    ]
    totals = stats.totals
    if totals is not None and (totals.pages, totals.retries) != (stats.pages, stats.retries):
        lines.append(
            f"  all runs of this state: {totals.pages} pages, {_human(totals.bytes)}, "
            f"errors: {counts(totals.errors)}, retries: {totals.retries}"
        )
    where = []
    if show_output and stats.output and stats.output != "-":
        where.append(f"output: {stats.output}")
    if stats.state:
        where.append(
            f"state: {stats.state} ({stats.pages_in_state} URLs done, {stats.queued_left} left)"
        )
    if where:
        lines.append("  " + "   ".join(where))
    if stats.stopped_by == "interrupted" and stats.state:
        lines.append(f"  continue with: --state {stats.state} --resume")
    return "\n".join(lines) + "\n"


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1000
    return f"{n} B"
