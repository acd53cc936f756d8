"""``shoal rss FEEDS --db DB [--report MD] [--json FILE]``: feeds in, analysed articles out.

Three steps:

1. **Crawl** with the ``rss`` plugin: each feed conditionally (its ETag/Last-Modified from the
   database), unless the cache says it was fetched within the ``feeds`` TTL; then every new
   entry's article (anywhere on the web, through the same engine: robots.txt, rate limits,
   retries, the SSRF rule), its main text extracted and analysed locally in the process pool.
2. **Store** the records in the database: feeds, entries, articles, the local analyses.
3. **Analyse** with an LLM when asked (``--analyzer openai|anthropic``): each article not yet
   analysed by that analyzer, through the analyses cache, so nothing is paid for twice.

Then the report and ``--json``, from the database (so they show every article of these feeds,
not only this run's).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import orjson

from ._cmd_crawl import add_engine_options, check_writable, number, options_from_args, run_crawl
from .errors import ShoalError, UsageError

if TYPE_CHECKING:
    from ..plugins.rss._analysis import Analysis, Analyzer
    from ..plugins.rss._cache import TwoTierCache
    from ..plugins.rss._llm import LLMAnalyzer
    from ..plugins.rss._store import FeedState, Pending, Store

__all__ = ["add_parser"]

# local, then the LLM providers of plugins/rss/_llm.py (the OpenAI-compatible ones, Anthropic).
_BATCH = 500  # articles stored per transaction

ANALYZERS = ("local", "openai", "anthropic", "mistral", "ollama", "vllm", "llamacpp")


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "rss",
        help="feeds in: new articles fetched, read, analysed, stored and reported",
        description="Read feeds (an OPML file, or a text file of URLs), fetch every new "
        "article, extract its main text, analyse it, store it all in an SQLite database, "
        "and write a Markdown report.",
    )
    p.add_argument(
        "feeds", metavar="FEEDS", help="OPML file, or a text file with one feed URL per line"
    )
    p.add_argument(
        "--db", required=True, metavar="FILE", help="the SQLite database (created if missing)"
    )
    p.add_argument("--report", metavar="FILE", help="write a Markdown report here")
    p.add_argument("--json", metavar="FILE", help="write every article as a JSON object here")
    r = p.add_argument_group("what to read")
    r.add_argument(
        "--limit",
        type=number(int),
        metavar="N",
        help="at most N new articles per feed per run (default: all)",
    )
    r.add_argument(
        "--since",
        metavar="DATE",
        help="only entries published since DATE (ISO 8601 or RFC 822); older ones are "
        "stored, their articles not fetched",
    )
    r.add_argument(
        "--report-items",
        type=number(int),
        default=20,
        metavar="N",
        help="articles per feed in the report (default: 20)",
    )
    r.add_argument("--dry-run", action="store_true", help="say what would be fetched; send nothing")
    a = p.add_argument_group("analysis")
    a.add_argument(
        "--analyzer",
        choices=ANALYZERS,
        default="local",
        help="local (no network, the default), or an LLM over HTTP",
    )
    a.add_argument(
        "--model", metavar="NAME", help="the LLM's model (required for openai and anthropic)"
    )
    a.add_argument(
        "--api-base",
        metavar="URL",
        help="the API's base URL (any OpenAI-compatible server: Ollama, vLLM, llama.cpp, "
        "Mistral ...)",
    )
    a.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="environment variable holding the API key (default: OPENAI_API_KEY or "
        "ANTHROPIC_API_KEY)",
    )
    a.add_argument(
        "--llm-rpm",
        type=number(float),
        metavar="N",
        help="LLM requests per minute (default: no limit)",
    )
    a.add_argument(
        "--llm-tpm",
        type=number(float),
        metavar="N",
        help="LLM tokens per minute (default: no limit)",
    )
    a.add_argument(
        "--llm-concurrency",
        type=number(int),
        default=8,
        metavar="N",
        help="LLM calls at once (default: 8)",
    )
    c = p.add_argument_group("cache")
    c.add_argument(
        "--cache-ttl",
        action="append",
        default=[],
        metavar="NS=DURATION",
        help="time to live of a cache namespace: feeds (1h), pages (7d), analyses (30d); "
        "e.g. feeds=15m",
    )
    c.add_argument(
        "--cache-mb",
        type=number(int),
        default=64,
        metavar="MB",
        help="in-memory cache size (default: 64)",
    )
    # Many hosts, each someone else's server: more requests in flight in all, fewer per host.
    add_engine_options(p, concurrency=128, per_host_concurrency=4)
    p.set_defaults(run=run)


class _Tally(msgspec.Struct):
    feeds: int = 0
    fetched: int = 0
    unchanged: int = 0
    fresh: int = 0
    failed: int = 0
    new_entries: int = 0
    articles: int = 0
    article_errors: int = 0
    analysed: int = 0
    calls: int = 0
    requests: int = 0
    breaker: str = "closed"
    saved: int = 0
    tokens: int = 0
    analysis_errors: int = 0


def run(args: argparse.Namespace) -> int:
    # Imported here: lxml and the plugin are not for every `shoal` command.
    from ..plugins.rss._cache import TwoTierCache, parse_ttl
    from ..plugins.rss._feedlist import read_feed_list
    from ..plugins.rss._feeds import parse_date
    from ..plugins.rss._store import Store, utc_now

    if args.analyzer != "local" and not args.model:
        raise UsageError(f"--analyzer {args.analyzer} needs --model")
    since = None
    if args.since:
        since = parse_date(args.since)
        if since is None:
            raise UsageError(
                f"--since: not a date: {args.since!r} (say 2026-11-01 or 2026-11-01T08:00Z)"
            )
    try:
        ttls = dict(parse_ttl(t) for t in args.cache_ttl)
    except ValueError as exc:
        raise UsageError(f"--cache-ttl: {exc}") from None
    for out in (args.report, args.json):
        if out:
            check_writable(Path(out))
    feeds = read_feed_list(args.feeds)
    # Made now, so that a missing API key is said before the crawl, not after it.
    analyzer = None if args.analyzer == "local" or args.dry_run else _llm_analyzer(args)
    tally = _Tally(feeds=len(feeds))
    with Store(args.db) as store:
        cache = TwoTierCache(store.db, ttls=ttls, l1_max_bytes=args.cache_mb * 1024 * 1024)
        due = [url for url in feeds if cache.get("feeds", url) is None]
        tally.fresh = len(feeds) - len(due)
        states = store.feed_states(due)
        if args.dry_run:
            _print_plan(feeds, due, states, args)
            return 0
        if due:
            code = _crawl(args, store, cache, due, states, since, tally)
            if code != 0:
                return code
        now = utc_now()
        if analyzer is not None:
            asyncio.run(_analyze_with_llm(analyzer, args, store, cache, feeds, tally))
        cache.purge_expired()
        analyzer_name = _analyzer_name(args)
        # Read only for what is written (each is a query over every feed's articles).
        if args.report:
            from ..plugins.rss._report import markdown_report, write_atomically

            items = store.report_items(
                feeds, analyzer_name, since=since, per_feed=args.report_items
            )
            text = markdown_report(items, generated=now, analyzer=analyzer_name)
            write_atomically(Path(args.report), text.encode())
        if args.json:
            from ..plugins.rss._report import json_articles, write_atomically

            every = store.report_items(feeds, analyzer_name, since=since, per_feed=None)
            write_atomically(Path(args.json), json_articles(every))
    if args.stats_json:
        _add_to_stats(Path(args.stats_json), tally, cache, crawled=bool(due))
    if not args.quiet:
        _print_summary(args, tally, cache)
    return 0


def _crawl(
    args: argparse.Namespace,
    store: Store,
    cache: TwoTierCache,
    due: list[str],
    states: dict[str, FeedState],
    since: str | None,
    tally: _Tally,
) -> int:
    args.urls, args.output = due, None
    options = options_from_args(args, plugin="rss")
    options.plugin_options = {
        "feeds": [
            {
                "url": url,
                "etag": states[url].etag if url in states else None,
                "last_modified": states[url].last_modified if url in states else None,
            }
            for url in due
        ],
        "known": sorted(store.read_entry_keys(due) | cache.fresh_keys("pages")),
        "limit": args.limit,
        "since": since,
    }
    with tempfile.TemporaryDirectory(prefix="shoal-rss-") as tmp:
        records = Path(tmp) / "records.jsonl"
        options.output = str(records)
        code = run_crawl(options, quiet=args.quiet, show_output=False)
        if records.exists():  # what an interrupted crawl got is kept too
            _store_records(store, cache, _read_records(records), tally, args.analyzer)
    return code


def _read_records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                yield orjson.loads(line)


def _store_records(
    store: Store,
    cache: TwoTierCache,
    records: Iterator[dict[str, Any]],
    tally: _Tally,
    analyzer: str,
) -> None:
    """Feeds first (their entries are what articles join), then articles with their local
    analyses, in batches."""
    from ..plugins.rss._store import utc_now

    now = utc_now()
    articles = []
    with store.transaction():
        for record in records:
            if record.get("kind") == "feed":
                _store_feed(store, cache, record, tally, now)
            else:
                articles.append(record)
    analyses: list[tuple[int, Analysis]] = []
    for start in range(0, len(articles), _BATCH):
        # A transaction per batch: one commit per article cost a third of a 4,000-article run.
        with store.transaction():
            for record in articles[start : start + _BATCH]:
                _store_article(store, cache, record, analyses, tally, now)
    store.record_analyses(analyses, now)
    if analyzer == "local":  # an LLM's analyses are counted as they come
        tally.analysed += len(analyses)


def _store_feed(
    store: Store, cache: TwoTierCache, record: dict[str, Any], tally: _Tally, now: str
) -> None:
    before = store.entry_count(record["feed"])
    store.record_feed(record, now)
    tally.new_entries += store.entry_count(record["feed"]) - before
    if record.get("error"):
        tally.failed += 1
        return
    tally.unchanged += bool(record.get("unchanged"))
    tally.fetched += not record.get("unchanged")
    cache.put("feeds", record["feed"], b"")


def _store_article(
    store: Store,
    cache: TwoTierCache,
    record: dict[str, Any],
    analyses: list[tuple[int, Analysis]],
    tally: _Tally,
    now: str,
) -> None:
    from ..plugins.rss._analysis import Analysis

    error = record.get("error")
    text = record.get("text") or ""
    article_id = store.record_article(
        record["url"],
        final_url=record.get("final_url"),
        title=record.get("title"),
        text=text,
        text_hash=text_hash(text) if error is None else None,
        fetched_at=record.get("fetched_at") or now,
        status=record.get("status") or 0,
        error=error,
    )
    if error is not None:
        tally.article_errors += 1
        return
    tally.articles += 1
    cache.put("pages", record["url"], b"")
    if record.get("analysis") is not None:
        analyses.append((article_id, msgspec.convert(record["analysis"], Analysis)))


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _analyzer_name(args: argparse.Namespace) -> str:
    return "local" if args.analyzer == "local" else f"{args.analyzer}:{args.model}"


def _llm_analyzer(args: argparse.Namespace) -> LLMAnalyzer:
    from ..plugins.rss._llm import make_llm_analyzer

    return make_llm_analyzer(
        args.analyzer,
        args.model,
        base_url=args.api_base,
        api_key_env=args.api_key_env,
        rpm=args.llm_rpm,
        tpm=args.llm_tpm,
        concurrency=args.llm_concurrency,
    )


async def _analyze_with_llm(
    analyzer: LLMAnalyzer,
    args: argparse.Namespace,
    store: Store,
    cache: TwoTierCache,
    feeds: Sequence[str],
    tally: _Tally,
) -> None:
    pending = store.articles_without(_analyzer_name(args), feeds)
    if not pending:
        return
    async with analyzer:
        await analyze_all(analyzer, store, cache, pending, tally, concurrency=args.llm_concurrency)
        stats = analyzer.stats
    tally.calls, tally.requests, tally.breaker = stats.calls, stats.requests, stats.breaker.state


async def analyze_all(
    analyzer: Analyzer,
    store: Store,
    cache: TwoTierCache,
    pending: Sequence[Pending],
    tally: _Tally,
    *,
    concurrency: int,
) -> None:
    """Analyse each pending article, from the analyses cache when it can; store as they
    come, so an interrupted run keeps what it paid for."""
    from ..plugins.rss._analysis import Analysis, ArticleText
    from ..plugins.rss._store import utc_now

    # Articles with the same text (one story by two URLs) wait for the first one's analysis
    # and take it from the cache, rather than paying for it at the same moment.
    same_text: dict[str, list[Pending]] = {}
    for article in pending:
        same_text.setdefault(text_hash(article.text), []).append(article)
    queue = list(reversed(same_text.items()))
    done: list[tuple[int, Analysis]] = []

    async def one(digest: str, articles: list[Pending]) -> None:
        key = f"{analyzer.cache_id}:{digest}"
        for article in articles:
            cached = cache.get("analyses", key)
            if cached is not None:
                tally.saved += 1
                done.append((article.id, msgspec.json.decode(cached, type=Analysis)))
                continue
            text = ArticleText(url=article.url, title=article.title, text=article.text)
            try:
                analysis = await analyzer.analyze(text)
            except ShoalError as exc:
                tally.analysis_errors += 1
                print(f"shoal: analysis of {article.url} failed: {exc}", file=sys.stderr)
                return  # the same text would fail the same way: the next run tries again
            tally.tokens += analysis.tokens
            cache.put("analyses", key, msgspec.json.encode(analysis))
            done.append((article.id, analysis))

    async def lane() -> None:
        while queue:
            digest, articles = queue.pop()
            await one(digest, articles)
            if len(done) >= 50:
                batch, done[:] = list(done), []
                store.record_analyses(batch, utc_now())
                tally.analysed += len(batch)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(queue))):
                group.create_task(lane())
    finally:
        store.record_analyses(done, utc_now())
        tally.analysed += len(done)


def _print_plan(
    feeds: Sequence[str], due: Sequence[str], states: dict[str, Any], args: argparse.Namespace
) -> None:
    for url in feeds:
        if url not in due:
            print(f"skip  {url}  (fetched within the feeds cache TTL)")
            continue
        state = states.get(url)
        conditions = []
        if state is not None and state.etag:
            conditions.append(f"If-None-Match: {state.etag}")
        if state is not None and state.last_modified:
            conditions.append(f"If-Modified-Since: {state.last_modified}")
        print(f"fetch {url}" + (f"  ({'; '.join(conditions)})" if conditions else ""))
    limit = f"at most {args.limit} per feed" if args.limit else "all of them"
    print(
        f"shoal rss: dry run: {len(due)} of {len(feeds)} feeds would be fetched; their new "
        f"articles ({limit}) would be fetched and analysed with {_analyzer_name(args)}. "
        "Nothing was sent.",
    )


def _add_to_stats(path: Path, tally: _Tally, cache: TwoTierCache, *, crawled: bool) -> None:
    """The crawl's --stats-json, with this command's own figures under "rss" (the daemon's
    /metrics reads them: cache hits, LLM calls and tokens). Without a crawl (every feed
    fresh), only those: a file left by an earlier run is not this run's figures."""
    stats = orjson.loads(path.read_bytes()) if crawled and path.exists() else {}
    hits = {
        ns: cache.stats.l1_hits.get(ns, 0) + cache.stats.l2_hits.get(ns, 0) for ns in cache.ttls
    }
    stats["rss"] = {
        **msgspec.to_builtins(tally),
        "cache_hits": hits,
        "cache_misses": dict(cache.stats.misses),
    }
    path.write_bytes(orjson.dumps(stats, option=orjson.OPT_INDENT_2) + b"\n")


def _print_summary(args: argparse.Namespace, t: _Tally, cache: TwoTierCache) -> None:
    feeds = (
        f"{t.feeds} feeds ({t.fetched} fetched, {t.unchanged} unchanged, "
        f"{t.fresh} fresh in cache, {t.failed} failed)"
    )
    articles = f"{t.new_entries} new entries, {t.articles} articles read"
    if t.article_errors:
        articles += f" ({t.article_errors} failed)"
    outputs = ", ".join(x for x in (args.db, args.report, args.json) if x)
    print(
        f"shoal rss: {feeds}, {articles}, {t.analysed} analysed ({_analyzer_name(args)})"
        f" -> {outputs}"
    )
    rates = ", ".join(
        f"{ns} {cache.stats.hit_rate(ns):.0%}" for ns in ("feeds", "pages", "analyses")
    )
    print(f"  cache hit rates: {rates}")
    if args.analyzer != "local":
        print(
            f"  LLM: {t.calls} calls made ({t.requests} requests with retries), {t.saved} "
            f"saved by the cache, {t.tokens} tokens; circuit breaker {t.breaker}"
            + (f"; {t.analysis_errors} failed" if t.analysis_errors else "")
        )
