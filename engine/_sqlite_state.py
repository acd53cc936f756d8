"""The embedded state backend: one SQLite file in WAL mode, resumable after any crash.

Every call runs on one dedicated thread that owns the connection, so the supervisor's event loop
never waits on the disk and SQLite sees a single writer. See :mod:`shoal.engine._state` for the
invariants; the ones specific to this file:

* ``urls`` is the seen set *and* the frontier: a row per normalised URL, keyed by its 8-byte
  fingerprint, with ``state`` 0 queued / 1 leased / 2 done.
* ``outbox`` holds records committed with their page but not yet in the output file; ``meta``
  remembers how many bytes of the output file are known-good (``out_size``). After a crash, the
  lines past ``out_size`` are matched against the head of the outbox (records are written in
  outbox order), so each record reaches the file exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, TypeVar

import msgspec
import orjson

from ..ipc.messages import Outcome, Request
from ._state import Caps, CommitSummary, StateCounts
from ._stats import Tally
from ._traps import pattern_key
from ._urls import host_key, url_fingerprint
from .errors import OutputError, StateError, StorageError

__all__ = ["SQLiteState"]

_SCHEMA_VERSION = 1
_QUEUED, _LEASED, _DONE, _CAPPED = 0, 1, 2, 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS urls (
    fp BLOB PRIMARY KEY,
    id INTEGER NOT NULL,
    url TEXT NOT NULL,
    host TEXT NOT NULL,
    depth INTEGER NOT NULL,
    state INTEGER NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    worker INTEGER,
    meta BLOB,
    etag TEXT,
    last_modified TEXT,
    body_hash BLOB
) WITHOUT ROWID;
-- The frontier: per host, breadth-first (depth), then first-seen order.
CREATE INDEX IF NOT EXISTS urls_frontier ON urls (host, depth, id) WHERE state = 0;
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, item BLOB NOT NULL);
-- URLs admitted per host and per path pattern, for the crawler-trap caps (engine/_traps.py);
-- the key is the fingerprint of "h <host>" or "p <pattern>".
CREATE TABLE IF NOT EXISTS admitted (key BLOB PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
"""

T = TypeVar("T")
_meta_encoder = msgspec.msgpack.Encoder()
_meta_decoder = msgspec.msgpack.Decoder(dict[str, Any])


# Columns added after schema version 1 was first written; nullable, so files of earlier
# shoals gain them in place (and earlier shoals, which name their columns, ignore them).
_ADDED_COLUMNS = {"etag": "TEXT", "last_modified": "TEXT", "body_hash": "BLOB"}


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    have = {row[1] for row in conn.execute("PRAGMA table_info(urls)")}
    for name, kind in _ADDED_COLUMNS.items():
        if name not in have:
            conn.execute(f"ALTER TABLE urls ADD COLUMN {name} {kind}")


class SQLiteState:
    """Crawl state in one SQLite file. Open with :meth:`open`, close with :meth:`aclose`."""

    def __init__(self, path: Path, output: Path | None, caps: Caps | None = None) -> None:
        self.path = path
        self._output_path = output
        self._caps = caps or Caps()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shoal-state")
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._out: IO[bytes] | None = None
        self._counts = StateCounts()
        self._totals = Tally()
        self._queued_per_host: dict[str, int] = {}
        self._next_id = 0
        self._host_cursor = 0
        self._closed = False

    # --- lifecycle ----------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        output: Path | None,
        resume: bool,
        config: Mapping[str, Any],
        caps: Caps | None = None,
    ) -> SQLiteState:
        """Open (or create) the state file and the output file, recovering after a crash.

        ``config`` identifies the crawl (plugin, scope); resuming with a different one is a
        :class:`StateError`, as is opening a file that holds a crawl without ``resume``.
        """
        state = cls(path, output, caps)
        try:
            await state._call(state._open_sync, resume, dict(config))
        except BaseException:
            await state.aclose()
            raise
        return state

    async def aclose(self) -> None:
        """Flush nothing new, close the file and the thread; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._close_sync)
        finally:
            self._executor.shutdown(wait=True)

    # --- the StateBackend protocol ---------------------------------------------------------

    async def add(self, requests: Sequence[Request]) -> int:
        return await self._call(self._add_sync, requests)

    async def lease(
        self, worker: int, limit: int, host_room: Mapping[str, int] | None, default_room: int
    ) -> list[Request]:
        return await self._call(self._lease_sync, worker, limit, host_room or {}, default_room)

    async def commit(self, worker: int, outcomes: Sequence[Outcome]) -> CommitSummary:
        return await self._call(self._commit_sync, worker, outcomes)

    async def refresh(self) -> int:
        """Queue every finished page again (``--refresh``), keeping its validators; how many."""
        return await self._call(self._refresh_sync)

    async def hand_back(self, requests: Sequence[Request], *, crashed: bool) -> None:
        await self._call(self._hand_back_sync, requests, crashed)

    async def flush_output(self) -> int:
        return await self._call(self._flush_output_sync)

    def totals_nowait(self) -> Tally:
        return self._totals

    def counts_nowait(self) -> StateCounts:
        """The counts as of the last finished call (kept in memory, no disk access)."""
        c = self._counts
        return StateCounts(queued=c.queued, leased=c.leased, done=c.done)

    async def next_due(self) -> float | None:
        return await self._call(self._next_due_sync)

    # --- plumbing -------------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StateError("state is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as exc:
            raise StorageError(
                f"cannot write state file {self.path}: {exc} (is the disk full?); "
                "the state is consistent: fix the cause and --resume"
            ) from exc

    @property
    def _db(self) -> sqlite3.Connection:
        assert self._conn is not None, "state used before open()"
        return self._conn

    # --- everything below runs on the state thread -----------------------------------------

    def _open_sync(self, resume: bool, config: dict[str, Any]) -> None:
        existed = self.path.exists() and self.path.stat().st_size > 0
        if existed:
            # Read-only first: a file that is not ours, or is damaged, or is from a newer
            # shoal must be refused before anything writes to it (even switching on WAL).
            existed = self._identify()
        if existed and not resume:
            raise StateError(
                f"state file {self.path} already holds a crawl; "
                "add --resume to continue it, or choose another --state"
            )
        try:
            self._lock_fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateError(f"cannot open state file {self.path}: {exc.strerror}") from exc
        try:
            # flock is independent of SQLite's own POSIX locks: it only keeps two crawls apart.
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise StateError(f"state file {self.path} is in use by another crawl") from exc
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
            self._conn = conn
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a commit survives the process being killed (it is in the WAL, in the OS
            # page cache); only power loss may drop the last transactions, never corrupt them.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-16000")
            conn.executescript(_SCHEMA)
            _add_missing_columns(conn)
            self._check_config(config, existed)
            self._recover_leases()
            self._load_counts()
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"state file {self.path} is not a shoal state file or is corrupt ({exc})"
            ) from exc
        self._open_output(resume)

    def _identify(self) -> bool:
        """Raise :class:`StateError` unless the existing file is an intact state file that
        this shoal can read, or an SQLite file with nothing in it: a crawl killed while it
        created its state leaves one (WAL mode is set before the tables). Whether it holds a
        crawl back. Opens it read-only."""
        try:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise StateError(f"cannot read state file {self.path}: {exc}") from exc
        try:
            try:
                tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema")}
            except sqlite3.DatabaseError as exc:
                raise StateError(f"state file {self.path} is not an SQLite file ({exc})") from exc
            if not tables:
                return False
            if not {"meta", "urls", "outbox"} <= tables:
                raise StateError(
                    f"{self.path} is an SQLite file but not a shoal state file; "
                    "choose another --state"
                )
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            try:
                version = orjson.loads(row[0]) if row else None
            except orjson.JSONDecodeError:
                version = None
            if isinstance(version, int) and version > _SCHEMA_VERSION:
                raise StateError(
                    f"state file {self.path} was written by a newer shoal (schema version "
                    f"{version}; this one reads {_SCHEMA_VERSION}): upgrade shoal to use it"
                )
            (check,) = conn.execute("PRAGMA quick_check(1)").fetchone()
            if check != "ok":
                raise StateError(f"state file {self.path} is corrupt ({check})")
            return True
        except sqlite3.DatabaseError as exc:
            raise StateError(f"state file {self.path} is corrupt ({exc})") from exc
        finally:
            conn.close()

    def _check_config(self, config: dict[str, Any], existed: bool) -> None:
        version = self._get_meta_sync("schema_version")
        if version is None:
            if existed and self._db.execute("SELECT count(*) FROM urls").fetchone()[0]:
                raise StateError(f"state file {self.path} has no schema version; is it shoal's?")
            self._set_meta_sync("schema_version", _SCHEMA_VERSION)
            self._set_meta_sync("config", config)
            return
        if version != _SCHEMA_VERSION:
            raise StateError(
                f"state file {self.path} has schema version {version}; "
                f"this shoal reads version {_SCHEMA_VERSION}"
            )
        stored = self._get_meta_sync("config") or {}
        if stored.get("plugin") != config.get("plugin"):
            raise StateError(
                f"state file {self.path} belongs to a '{stored.get('plugin')}' crawl, "
                f"not '{config.get('plugin')}'"
            )

    def _recover_leases(self) -> None:
        # Leases of an earlier run were never committed: those requests go back to the queue.
        with self._tx():
            self._db.execute(
                "UPDATE urls SET state = ?, worker = NULL WHERE state = ?", (_QUEUED, _LEASED)
            )

    def _load_counts(self) -> None:
        db = self._db
        self._queued_per_host = dict(
            db.execute("SELECT host, count(*) FROM urls WHERE state = ? GROUP BY host", (_QUEUED,))
        )
        self._counts = StateCounts(
            queued=sum(self._queued_per_host.values()),
            leased=0,
            done=db.execute("SELECT count(*) FROM urls WHERE state = ?", (_DONE,)).fetchone()[0],
        )
        self._next_id = (db.execute("SELECT max(id) FROM urls").fetchone()[0] or 0) + 1
        self._totals = msgspec.convert(self._get_meta_sync("totals") or {}, Tally)

    def _open_output(self, resume: bool) -> None:
        if self._output_path is None:
            return
        path = self._output_path
        if str(path) == "-":
            # Standard output cannot be reconciled after a crash; --resume refuses it earlier.
            self._out = os.fdopen(os.dup(1), "wb")
            return
        try:
            if resume:
                self._reconcile_output(path)
                self._out = open(path, "ab")  # noqa: SIM115 - owned by this object, see _close_sync
            else:
                self._out = open(path, "wb")  # noqa: SIM115
        except OSError as exc:
            raise OutputError(f"cannot write output file {path}: {exc.strerror}") from exc
        self._set_meta_sync("out_path", str(path.resolve()))
        self._set_meta_sync("out_size", self._out.tell())

    def _reconcile_output(self, path: Path) -> None:
        """Drop from the outbox the records a crashed run wrote but did not confirm."""
        if self._get_meta_sync("out_path") != str(path.resolve()) or not path.exists():
            return
        known = int(self._get_meta_sync("out_size") or 0)
        size = path.stat().st_size
        if size <= known:
            return
        with open(path, "r+b") as f:
            f.seek(known)
            tail = f.read()
            complete = tail.rfind(b"\n") + 1
            if complete < len(tail):
                # A torn last line (killed mid-write): it is ours and incomplete, cut just it.
                f.truncate(known + complete)
        written = tail[:complete].count(b"\n")
        if written:
            with self._tx():
                self._db.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
                    (written,),
                )

    def _close_sync(self) -> None:
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.close()
            self._out = None
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _insert_new(self, requests: Iterable[Request], tally: Tally | None = None) -> int:
        """Queue the requests not seen before; how many were queued. Those over a cap are
        kept as capped and counted in ``tally``."""
        db = self._db
        new = 0
        for req in requests:
            host = host_key(req.url)
            fp = url_fingerprint(req.url)
            cur = db.execute(
                "INSERT OR IGNORE INTO urls "
                "(fp, id, url, host, depth, state, attempt, meta, etag, last_modified) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fp,
                    self._next_id,
                    req.url,
                    host,
                    req.depth,
                    _QUEUED,
                    req.attempt,
                    _meta_encoder.encode(req.meta) if req.meta else None,
                    req.etag,  # a seed's validators, from the plugin (Seed)
                    req.last_modified,
                ),
            )
            if not cur.rowcount:
                continue
            self._next_id += 1
            capped = self._over_cap(host, req.url)
            if capped is not None:
                db.execute("UPDATE urls SET state = ? WHERE fp = ?", (_CAPPED, fp))
                if tally is not None:
                    tally.skip(capped)
                continue
            new += 1
            self._queued_per_host[host] = self._queued_per_host.get(host, 0) + 1
        self._counts.queued += new
        return new

    def _over_cap(self, host: str, url: str) -> str | None:
        """The name of the cap a new URL is over, or None after counting it against each."""
        caps = self._caps
        keys = []
        for cap, key, reason in (
            (caps.per_host, "h " + host, "max_pages_per_host"),
            (caps.per_pattern, "p " + pattern_key(url), "max_pages_per_pattern"),
        ):
            if not cap:
                continue
            fp = url_fingerprint(key)
            row = self._db.execute("SELECT n FROM admitted WHERE key = ?", (fp,)).fetchone()
            if row is not None and row[0] >= cap:
                return reason
            keys.append((fp,))
        if keys:
            self._db.executemany(
                "INSERT INTO admitted (key, n) VALUES (?, 1) "
                "ON CONFLICT (key) DO UPDATE SET n = n + 1",
                keys,
            )
        return None

    def _add_sync(self, requests: Sequence[Request]) -> int:
        with self._tx():
            return self._insert_new(requests)

    def _lease_sync(
        self, worker: int, limit: int, host_room: Mapping[str, int], default_room: int
    ) -> list[Request]:
        db = self._db
        now = time.time()
        hosts = [h for h, n in self._queued_per_host.items() if n > 0]
        if not hosts or limit <= 0:
            return []
        # Start at a rotating host so that, with many hosts, each gets its turn.
        start = self._host_cursor % len(hosts)
        self._host_cursor += 1
        leased: list[tuple[bytes, str, Request]] = []
        for host in hosts[start:] + hosts[:start]:
            room = min(host_room.get(host, default_room), limit - len(leased))
            if room <= 0:
                continue
            rows = db.execute(
                "SELECT fp, url, depth, attempt, meta, etag, last_modified, body_hash FROM urls "
                "WHERE host = ? AND state = 0 AND not_before <= ? ORDER BY depth, id LIMIT ?",
                (host, now, room),
            ).fetchall()
            for fp, url, depth, attempt, meta, etag, modified, body_hash in rows:
                decoded = _meta_decoder.decode(meta) if meta else None
                request = Request(url, depth, attempt, decoded, etag, modified, body_hash)
                leased.append((fp, host, request))
            if len(leased) >= limit:
                break
        if not leased:
            return []
        with self._tx():
            db.executemany(
                "UPDATE urls SET state = ?, worker = ? WHERE fp = ?",
                [(_LEASED, worker, fp) for fp, _, _ in leased],
            )
        for _, host, _ in leased:
            self._queued_per_host[host] -= 1
        self._counts.queued -= len(leased)
        self._counts.leased += len(leased)
        return [req for _, _, req in leased]

    def _commit_sync(self, worker: int, outcomes: Sequence[Outcome]) -> CommitSummary:
        db = self._db
        summary = CommitSummary()
        with self._tx():
            for outcome in outcomes:
                fp = url_fingerprint(outcome.url)
                if outcome.retry_at is not None:
                    cur = db.execute(
                        "UPDATE urls SET state = ?, attempt = attempt + 1, not_before = ?, "
                        "worker = NULL WHERE fp = ? AND state = ? AND worker = ?",
                        (_QUEUED, outcome.retry_at, fp, _LEASED, worker),
                    )
                    if cur.rowcount:
                        host = host_key(outcome.url)
                        self._queued_per_host[host] = self._queued_per_host.get(host, 0) + 1
                        summary.retried += 1
                        summary.tally.add(outcome)
                    continue
                cur = db.execute(
                    "UPDATE urls SET state = ?, worker = NULL, "
                    "etag = coalesce(?, etag), last_modified = coalesce(?, last_modified), "
                    "body_hash = coalesce(?, body_hash) "
                    "WHERE fp = ? AND state = ? AND worker = ?",
                    (
                        _DONE,
                        outcome.etag,
                        outcome.last_modified,
                        outcome.body_hash,
                        fp,
                        _LEASED,
                        worker,
                    ),
                )
                if not cur.rowcount:
                    # Not our lease any more (it was handed back and re-leased): its records
                    # would be duplicates, so they are dropped with it.
                    continue
                summary.done += 1
                summary.tally.add(outcome)
                if outcome.items:
                    db.executemany(
                        "INSERT INTO outbox (item) VALUES (?)", [(i,) for i in outcome.items]
                    )
                    summary.items += len(outcome.items)
                if outcome.links:
                    summary.new_urls += self._insert_new(outcome.links, summary.tally)
            totals = msgspec.structs.replace(self._totals)
            totals.merge(summary.tally)
            self._set_meta_sync("totals", msgspec.to_builtins(totals))
        self._totals = totals
        self._counts.leased -= summary.done + summary.retried
        self._counts.queued += summary.retried
        self._counts.done += summary.done
        return summary

    def _refresh_sync(self) -> int:
        with self._tx():
            cur = self._db.execute(
                "UPDATE urls SET state = ?, attempt = 0, not_before = 0 WHERE state = ?",
                (_QUEUED, _DONE),
            )
        self._load_counts()
        return cur.rowcount

    def _hand_back_sync(self, requests: Sequence[Request], crashed: bool) -> None:
        db = self._db
        returned = 0
        with self._tx():
            for req in requests:
                cur = db.execute(
                    "UPDATE urls SET state = ?, worker = NULL, attempt = attempt + ? "
                    "WHERE fp = ? AND state = ?",
                    (_QUEUED, 1 if crashed else 0, url_fingerprint(req.url), _LEASED),
                )
                if cur.rowcount:
                    returned += 1
                    host = host_key(req.url)
                    self._queued_per_host[host] = self._queued_per_host.get(host, 0) + 1
        self._counts.leased -= returned
        self._counts.queued += returned

    def _flush_output_sync(self) -> int:
        db = self._db
        rows = db.execute("SELECT seq, item FROM outbox ORDER BY seq").fetchall()
        if not rows:
            return 0
        if self._out is not None:
            try:
                self._out.write(b"".join(bytes(item) + b"\n" for _, item in rows))
                self._out.flush()
            except OSError as exc:
                raise StorageError(
                    f"cannot write output file {self._output_path}: {exc.strerror}; "
                    "nothing is lost: fix the cause and --resume"
                ) from exc
        with self._tx():
            db.execute("DELETE FROM outbox WHERE seq <= ?", (rows[-1][0],))
            if self._out is not None and self._out.seekable():
                self._set_meta_sync("out_size", self._out.tell())
        return len(rows)

    def _next_due_sync(self) -> float | None:
        row = self._db.execute(
            "SELECT min(not_before) FROM urls WHERE state = 0 AND not_before > ?", (time.time(),)
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def _get_meta_sync(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def _set_meta_sync(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, orjson.dumps(value)),
        )
