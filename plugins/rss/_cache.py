"""A two-tier cache: L1 in memory (least recently used first out, bounded in bytes) over L2 in
SQLite (the RSS database's ``cache`` table), with a time to live per namespace.

Namespaces and what they save:

* ``feeds`` (default 1 h): a feed fetched this recently is not asked for again at all;
* ``pages`` (default 7 d): an article's extracted text, by URL: an entry that another feed
  already led to is not fetched again;
* ``analyses`` (default 30 d): an analysis, by the analyzer's ``cache_id`` and the hash of the
  text: the same article is never paid for twice, whichever feed it came from.

Values are bytes (callers encode with msgspec); an entry past its namespace's TTL is a miss
and is deleted when met. Hits and misses are counted per namespace and tier, for the stats.
"""

from __future__ import annotations

import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

import msgspec

__all__ = ["DEFAULT_TTLS", "CacheStats", "TwoTierCache", "parse_ttl"]

DEFAULT_TTLS: Mapping[str, float] = {
    "feeds": 3600.0,
    "pages": 7 * 86400.0,
    "analyses": 30 * 86400.0,
}
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class CacheStats(msgspec.Struct):
    """Per namespace: L1 hits, L2 hits, misses, and the share of lookups that hit."""

    l1_hits: dict[str, int] = msgspec.field(default_factory=dict)
    l2_hits: dict[str, int] = msgspec.field(default_factory=dict)
    misses: dict[str, int] = msgspec.field(default_factory=dict)
    l1_bytes: int = 0

    def hit_rate(self, ns: str) -> float:
        hits = self.l1_hits.get(ns, 0) + self.l2_hits.get(ns, 0)
        total = hits + self.misses.get(ns, 0)
        return hits / total if total else 0.0


def parse_ttl(text: str) -> tuple[str, float]:
    """``feeds=15m`` -> ("feeds", 900.0); units s, m, h, d; a bare number is seconds."""
    ns, sep, value = text.partition("=")
    value = value.strip().lower()
    if not sep or ns.strip() not in DEFAULT_TTLS or not value:
        names = ", ".join(DEFAULT_TTLS)
        raise ValueError(f"expected NAMESPACE=DURATION with a namespace of {names}: {text!r}")
    unit = _UNITS.get(value[-1])
    number = value[:-1] if unit else value
    try:
        seconds = float(number) * (unit or 1.0)
    except ValueError:
        raise ValueError(f"not a duration: {value!r} (say 90s, 15m, 1h or 7d)") from None
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return ns.strip(), seconds


class TwoTierCache:
    def __init__(
        self,
        db: sqlite3.Connection,
        *,
        ttls: Mapping[str, float] | None = None,
        l1_max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self.ttls = {**DEFAULT_TTLS, **(ttls or {})}
        self._l1: OrderedDict[tuple[str, str], tuple[bytes, float]] = OrderedDict()
        self._l1_max = l1_max_bytes
        self._l1_bytes = 0
        self._clock = clock
        self.stats = CacheStats()

    def get(self, ns: str, key: str) -> bytes | None:
        now = self._clock()
        ttl = self.ttls[ns]
        hit = self._l1.get((ns, key))
        if hit is not None:
            value, stored_at = hit
            if now - stored_at <= ttl:
                self._l1.move_to_end((ns, key))
                _count(self.stats.l1_hits, ns)
                return value
            self._forget(ns, key)
        row = self._db.execute(
            "SELECT value, stored_at FROM cache WHERE ns = ? AND key = ?", (ns, key)
        ).fetchone()
        if row is not None:
            value, stored_at = bytes(row[0]), float(row[1])
            if now - stored_at <= ttl:
                self._remember(ns, key, value, stored_at)
                _count(self.stats.l2_hits, ns)
                return value
            self._db.execute("DELETE FROM cache WHERE ns = ? AND key = ?", (ns, key))
        _count(self.stats.misses, ns)
        return None

    def fresh_keys(self, ns: str) -> set[str]:
        """Every key of ``ns`` still within its TTL (from L2, which holds everything)."""
        since = self._clock() - self.ttls[ns]
        rows = self._db.execute(
            "SELECT key FROM cache WHERE ns = ? AND stored_at >= ?", (ns, since)
        )
        return {key for (key,) in rows}

    def put(self, ns: str, key: str, value: bytes) -> None:
        now = self._clock()
        self._db.execute(
            "INSERT INTO cache (ns, key, value, stored_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value,"
            " stored_at = excluded.stored_at",
            (ns, key, value, now),
        )
        self._remember(ns, key, value, now)

    def purge_expired(self) -> int:
        """Delete what every namespace's TTL has passed; how many entries went."""
        now = self._clock()
        gone = 0
        for ns, ttl in self.ttls.items():
            gone += self._db.execute(
                "DELETE FROM cache WHERE ns = ? AND stored_at < ?", (ns, now - ttl)
            ).rowcount
        return gone

    def _remember(self, ns: str, key: str, value: bytes, stored_at: float) -> None:
        size = len(value) + len(key) + 64  # the tuple and the dict slot, roughly
        if size > self._l1_max:
            return  # bigger than all of L1: L2 only
        self._forget(ns, key)
        self._l1[(ns, key)] = (value, stored_at)
        self._l1_bytes += size
        while self._l1_bytes > self._l1_max:
            (old_ns, old_key), _ = next(iter(self._l1.items()))
            self._forget(old_ns, old_key)
        self.stats.l1_bytes = self._l1_bytes

    def _forget(self, ns: str, key: str) -> None:
        old = self._l1.pop((ns, key), None)
        if old is not None:
            self._l1_bytes -= len(old[0]) + len(key) + 64
        self.stats.l1_bytes = self._l1_bytes


def _count(counts: dict[str, int], ns: str) -> None:
    counts[ns] = counts.get(ns, 0) + 1
