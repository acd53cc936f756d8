"""The RSS database (``--db``): feeds, their entries, articles and their analyses, in SQLite.

The schema carries its version in ``PRAGMA user_version``; opening an older database migrates
it in one transaction, step by step (``_MIGRATIONS``), and a newer or foreign one is refused
before anything is written. Every write is an upsert keyed by what identifies the thing (a
feed's URL, an entry's key within its feed, an article's URL, an analysis's article and
analyzer), so re-running the same input changes nothing.

The cache's second tier (``_cache.py``) lives in the same file: one file to back up or move.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import orjson

from ...engine.errors import StateError, StorageError
from ._analysis import Analysis
from ._feeds import Entry

__all__ = ["SCHEMA_VERSION", "FeedState", "ReportItem", "Store"]

_APPLICATION_ID = 0x73686F72  # "shor": tells our file from any other SQLite database

# Version n is reached by running _MIGRATIONS[n - 1]; never edit a released step, add one.
_MIGRATIONS: tuple[str, ...] = (
    # 1: feeds, entries, articles, analyses.
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        title TEXT,
        link TEXT,
        format TEXT,
        etag TEXT,
        last_modified TEXT,
        last_fetched TEXT,
        last_status INTEGER,
        last_error TEXT
    );
    CREATE TABLE entries (
        id INTEGER PRIMARY KEY,
        feed_id INTEGER NOT NULL REFERENCES feeds(id),
        key TEXT NOT NULL,
        link TEXT,
        title TEXT,
        published TEXT,
        summary TEXT,
        author TEXT,
        first_seen TEXT NOT NULL,
        UNIQUE (feed_id, key)
    );
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        final_url TEXT,
        title TEXT,
        text TEXT,
        fetched_at TEXT,
        status INTEGER,
        error TEXT
    );
    CREATE TABLE analyses (
        article_id INTEGER NOT NULL REFERENCES articles(id),
        analyzer TEXT NOT NULL,
        summary TEXT NOT NULL,
        keywords TEXT NOT NULL,
        language TEXT,
        words INTEGER NOT NULL,
        reading_minutes REAL NOT NULL,
        tokens INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        PRIMARY KEY (article_id, analyzer)
    );
    CREATE INDEX entries_link ON entries (link);
    """,
    # 2: the entry's last-updated date, the article's text hash (the analyses' cache key), and
    # the cache's second tier.
    """
    ALTER TABLE entries ADD COLUMN updated TEXT;
    ALTER TABLE articles ADD COLUMN text_hash TEXT;
    CREATE TABLE cache (
        ns TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        stored_at REAL NOT NULL,
        PRIMARY KEY (ns, key)
    ) WITHOUT ROWID;
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


class Pending(msgspec.Struct, frozen=True):
    """A read article waiting for an analyzer's analysis."""

    id: int
    url: str
    title: str | None
    text: str


class FeedState(msgspec.Struct, frozen=True):
    """What the database knows of a feed before this run: its validators and last fetch."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_fetched: str | None = None


class ReportItem(msgspec.Struct):
    """One article as the report and ``--json`` show it."""

    feed: str
    feed_title: str | None
    url: str
    title: str | None
    published: str | None
    text: str
    summary: str
    keywords: list[str]
    language: str | None
    words: int
    reading_minutes: float
    analyzer: str | None
    error: str | None


class Store:
    """The database, opened (and migrated) by the constructor; use it as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _identify(self.path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{self.path}: {exc}") from exc

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for the cache's second tier in the same file."""
        return self._db

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        with self.transaction():
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            self._db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it is written, or none (a full disk is a StorageError).
        Inside another, it is part of that one (many small writes, one commit)."""
        db = self._db
        if db.in_transaction:
            yield db
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            db.execute("ROLLBACK")
            raise StorageError(f"{self.path}: {exc}") from exc

    # -- reading ------------------------------------------------------------------------------

    def feed_states(self, urls: Iterable[str]) -> dict[str, FeedState]:
        out = {}
        for url in urls:
            row = self._db.execute(
                "SELECT url, etag, last_modified, last_fetched FROM feeds WHERE url = ?", (url,)
            ).fetchone()
            if row is not None:
                out[url] = FeedState(*row)
        return out

    def entry_count(self, feed_url: str) -> int:
        (n,) = self._db.execute(
            "SELECT count(*) FROM entries e JOIN feeds f ON f.id = e.feed_id WHERE f.url = ?",
            (feed_url,),
        ).fetchone()
        return int(n)

    def read_entry_keys(self, feed_urls: Iterable[str]) -> set[str]:
        """Keys of the entries of these feeds whose article was read (fetched, or its text
        taken from the feed): their articles are not fetched again."""
        keys: set[str] = set()
        for url in feed_urls:
            keys.update(
                key
                for (key,) in self._db.execute(
                    "SELECT e.key FROM entries e JOIN feeds f ON f.id = e.feed_id "
                    "JOIN articles a ON a.url = e.link WHERE f.url = ? AND a.error IS NULL",
                    (url,),
                )
            )
        return keys

    def articles_without(self, analyzer: str, feed_urls: Sequence[str]) -> list[Pending]:
        """The read articles of these feeds that ``analyzer`` has not analysed, each once
        (an article two feeds link to is one article)."""
        rows: dict[int, Pending] = {}
        for url in feed_urls:
            for row in self._db.execute(
                "SELECT DISTINCT a.id, a.url, a.title, a.text FROM articles a "
                "JOIN entries e ON e.link = a.url JOIN feeds f ON f.id = e.feed_id "
                "WHERE f.url = ? AND a.error IS NULL AND a.text != '' AND NOT EXISTS "
                "(SELECT 1 FROM analyses n WHERE n.article_id = a.id AND n.analyzer = ?)",
                (url, analyzer),
            ):
                rows.setdefault(row[0], Pending(*row))
        return list(rows.values())

    def report_items(
        self, feed_urls: Sequence[str], analyzer: str, *, since: str | None, per_feed: int | None
    ) -> list[ReportItem]:
        """The articles of these feeds, feed by feed in the given order, newest first, with
        ``analyzer``'s analysis when there is one."""
        items: list[ReportItem] = []
        for url in feed_urls:
            rows = self._db.execute(
                "SELECT f.url, f.title, coalesce(a.final_url, e.link), coalesce(a.title, e.title),"
                " e.published, coalesce(a.text, ''), n.summary, n.keywords, n.language,"
                " coalesce(n.words, 0), coalesce(n.reading_minutes, 0), n.analyzer, a.error "
                "FROM entries e JOIN feeds f ON f.id = e.feed_id "
                "JOIN articles a ON a.url = e.link "
                "LEFT JOIN analyses n ON n.article_id = a.id AND n.analyzer = ? "
                "WHERE f.url = ? AND (? IS NULL OR e.published >= ?) "
                "ORDER BY e.published IS NULL, e.published DESC, e.id DESC LIMIT ?",
                (analyzer, url, since, since, -1 if per_feed is None else per_feed),
            )
            for feed, feed_title, link, title, published, text, *analysis, error in rows:
                summary, keywords, language, words, minutes, analyzer_name = analysis
                items.append(
                    ReportItem(
                        feed=feed, feed_title=feed_title, url=link, title=title,
                        published=published, text=text, summary=summary or "",
                        keywords=orjson.loads(keywords) if keywords else [],
                        language=language, words=words, reading_minutes=minutes,
                        analyzer=analyzer_name, error=error,
                    )
                )  # fmt: skip
        return items

    # -- writing ------------------------------------------------------------------------------

    def record_feed(self, record: dict[str, Any], now: str) -> None:
        """A feed's fetch: its validators and status, and its entries (new ones are added;
        known ones keep their first-seen date)."""
        with self.transaction() as db:
            feed_id = self._feed_id(db, record["feed"])
            fields = {
                "last_fetched": record.get("fetched_at") or now,
                "last_status": record.get("status"),
                "last_error": record.get("error"),
            }
            if not record.get("unchanged") and not record.get("error"):
                fields.update(
                    etag=record.get("etag"),
                    last_modified=record.get("last_modified"),
                    title=record.get("title"),
                    link=record.get("link"),
                    format=record.get("format"),
                )
            assignments = ", ".join(f"{k} = ?" for k in fields)
            db.execute(f"UPDATE feeds SET {assignments} WHERE id = ?", (*fields.values(), feed_id))
            entries = record.get("entries") or []
            db.executemany(
                "INSERT INTO entries (feed_id, key, link, title, published, updated, summary,"
                " author, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (feed_id, key) DO UPDATE SET link = excluded.link,"
                " title = excluded.title, published = excluded.published,"
                " updated = excluded.updated, summary = excluded.summary,"
                " author = excluded.author",
                [_entry_row(feed_id, e, now) for e in entries],
            )

    def record_article(
        self, url: str, *, final_url: str | None, title: str | None, text: str,
        text_hash: str | None, fetched_at: str, status: int, error: str | None,
    ) -> int:  # fmt: skip
        """An article's fetch (or its text taken from the feed); its id. A failed fetch never
        replaces a good one."""
        with self.transaction() as db:
            if error is None:
                db.execute(
                    "INSERT INTO articles (url, final_url, title, text, text_hash, fetched_at,"
                    " status, error) VALUES (?, ?, ?, ?, ?, ?, ?, NULL) "
                    "ON CONFLICT (url) DO UPDATE SET final_url = excluded.final_url,"
                    " title = excluded.title, text = excluded.text,"
                    " text_hash = excluded.text_hash, fetched_at = excluded.fetched_at,"
                    " status = excluded.status, error = NULL",
                    (url, final_url, title, text, text_hash, fetched_at, status),
                )
            else:  # the newer failure replaces an older one, never a good fetch
                db.execute(
                    "INSERT INTO articles (url, final_url, fetched_at, status, error) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET"
                    " final_url = excluded.final_url, fetched_at = excluded.fetched_at,"
                    " status = excluded.status, error = excluded.error "
                    "WHERE articles.error IS NOT NULL",
                    (url, final_url, fetched_at, status, error),
                )
            (article_id,) = db.execute("SELECT id FROM articles WHERE url = ?", (url,)).fetchone()
        return int(article_id)

    def record_analyses(self, rows: Iterable[tuple[int, Analysis]], now: str) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO analyses (article_id, analyzer, summary, keywords, language, words,"
                " reading_minutes, tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (article_id, analyzer) DO UPDATE SET summary = excluded.summary,"
                " keywords = excluded.keywords, language = excluded.language,"
                " words = excluded.words, reading_minutes = excluded.reading_minutes,"
                " tokens = excluded.tokens, created_at = excluded.created_at",
                [
                    (
                        article_id,
                        a.analyzer,
                        a.summary,
                        orjson.dumps(a.keywords).decode(),
                        a.language,
                        a.words,
                        a.reading_minutes,
                        a.tokens,
                        now,
                    )
                    for article_id, a in rows
                ],
            )

    def _feed_id(self, db: sqlite3.Connection, url: str) -> int:
        db.execute("INSERT INTO feeds (url) VALUES (?) ON CONFLICT (url) DO NOTHING", (url,))
        (feed_id,) = db.execute("SELECT id FROM feeds WHERE url = ?", (url,)).fetchone()
        return int(feed_id)


def _entry_row(feed_id: int, entry: Any, now: str) -> tuple[Any, ...]:
    e = entry if isinstance(entry, Entry) else msgspec.convert(entry, Entry)
    return (feed_id, e.key(), e.link, e.title, e.published, e.updated, e.summary, e.author, now)


def _identify(path: Path) -> None:
    """Refuse, before writing anything, a file that is not an RSS database of ours (another
    SQLite database, a shoal crawl state, anything else) or one from a newer shoal."""
    if not path.exists() or path.stat().st_size == 0:
        if not path.parent.is_dir():
            raise StateError(f"{path}: directory {path.parent} does not exist")
        return
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise StateError(f"{path}: not an RSS database ({exc})") from exc
    if tables and (app_id != _APPLICATION_ID or "feeds" not in tables):
        raise StateError(f"{path}: not an RSS database of shoal (another SQLite file?)")
    if version > SCHEMA_VERSION:
        raise StateError(
            f"{path}: written by a newer shoal (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade shoal to use it"
        )


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
