"""The RSS plugin's two-tier cache on a real SQLite file, with a clock the tests move."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal.plugins.rss._cache import TwoTierCache, parse_ttl
from shoal.plugins.rss._store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_with_their_namespace_ttl(tmp_path: Path) -> None:
    clock = Clock()
    with Store(tmp_path / "news.sqlite") as store:
        cache = TwoTierCache(store.db, ttls={"feeds": 60.0}, clock=clock)
        cache.put("feeds", "http://a/feed", b"x")
        cache.put("analyses", "k", b"y")
        clock.now += 59
        assert cache.get("feeds", "http://a/feed") == b"x"
        clock.now += 2  # past the feeds' minute; analyses keep their 30 days
        assert cache.get("feeds", "http://a/feed") is None
        assert cache.get("analyses", "k") == b"y"
        assert cache.fresh_keys("feeds") == set()
        # Gone from the file too, not only from memory.
        assert store.db.execute("SELECT count(*) FROM cache WHERE ns = 'feeds'").fetchone()[0] == 0
        assert cache.stats.misses == {"feeds": 1}


def test_the_second_tier_outlives_the_process_and_counts_its_hits(tmp_path: Path) -> None:
    clock = Clock()
    with Store(tmp_path / "news.sqlite") as store:
        TwoTierCache(store.db, clock=clock).put("pages", "http://a/1", b"text")
    with Store(tmp_path / "news.sqlite") as store:  # a new run: an empty L1
        cache = TwoTierCache(store.db, clock=clock)
        assert cache.get("pages", "http://a/1") == b"text"  # from L2
        assert cache.get("pages", "http://a/1") == b"text"  # now from L1
        assert cache.get("pages", "http://a/2") is None
        assert (cache.stats.l2_hits, cache.stats.l1_hits) == ({"pages": 1}, {"pages": 1})
        assert cache.stats.hit_rate("pages") == pytest.approx(2 / 3)


def test_memory_tier_stays_within_its_bytes_least_recently_used_out(tmp_path: Path) -> None:
    with Store(tmp_path / "news.sqlite") as store:
        cache = TwoTierCache(store.db, l1_max_bytes=3 * (1000 + 64 + 1))
        for key in "abc":
            cache.put("pages", key, bytes(1000))
        cache.get("pages", "a")  # a is now the most recently used
        cache.put("pages", "d", bytes(1000))  # b goes
        assert cache.stats.l1_bytes <= 3 * 1065
        before = dict(cache.stats.l2_hits)
        cache.get("pages", "b")
        assert cache.stats.l2_hits.get("pages", 0) == before.get("pages", 0) + 1  # from disk
        cache.get("pages", "a")
        assert cache.stats.l1_hits["pages"] == 2  # still in memory


@pytest.mark.parametrize(
    ("text", "expected"),
    [("feeds=15m", ("feeds", 900.0)), ("pages=7d", ("pages", 604800.0)),
     ("analyses=90", ("analyses", 90.0)), ("feeds=0s", ("feeds", 0.0))],
)  # fmt: skip
def test_ttl_flags(text: str, expected: tuple[str, float]) -> None:
    assert parse_ttl(text) == expected


@pytest.mark.parametrize("text", ["feeds", "other=1h", "feeds=soon", "feeds=-1m", "pages="])
def test_bad_ttl_flags(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ttl(text)
