"""`shoal rss` end to end: real feeds and articles on loopback (tests/feedsite.py), a real
SQLite database, the real engine; an OpenAI-compatible fake provider for the LLM runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from conftest import allow, run_shoal
from feedsite import FORMATS, FeedSite, FeedSpec

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
CHROME = ("Daily Bugle", "cookies", "Related stories", "Also read", "All rights reserved")


def _feed_list(tmp_path: Path, urls: list[str]) -> Path:
    path = tmp_path / "feeds.txt"
    path.write_text("# my feeds\n\n" + "\n".join(urls) + "\n")
    return path


async def _rss(site: FeedSite, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return await run_shoal("rss", *args, *allow(*site.bases), env=env)


async def test_feeds_of_every_format_become_analysed_articles(tmp_path: Path) -> None:
    spec = FeedSpec(feeds=len(FORMATS), entries=4)
    async with FeedSite(spec, hosts=HOSTS) as site:
        feeds = _feed_list(tmp_path, site.feed_urls)
        db, report, out = tmp_path / "news.sqlite", tmp_path / "report.md", tmp_path / "a.json"
        done = await _rss(site, str(feeds), "--db", str(db), "--report", str(report),
                          "--json", str(out))  # fmt: skip
        counts = site.fetch_counts()
    assert done.returncode == 0, done.stderr
    total = spec.feeds * spec.entries
    assert f"{spec.feeds} feeds ({spec.feeds} fetched" in done.stdout.decode()
    assert f"{total} articles read" in done.stdout.decode()
    # The crawl's summary names no file of its own: its records were an intermediate.
    assert "complete:" in done.stderr and "output:" not in done.stderr
    # Every feed and article fetched once, across every host.
    assert len(counts) == spec.feeds + total and set(counts.values()) == {1}
    articles = orjson.loads(out.read_bytes())
    assert len(articles) == total
    by_url = {a["url"]: a for a in articles}
    for j in range(spec.feeds):
        for k in range(spec.entries):
            a = by_url[site.article_url(j, k)]
            assert a["feed"] == site.feed_url(j)
            assert a["title"] == site.article_title(j, k)
            stamp = site.published(j, k).strftime("%Y-%m-%dT%H:%M")
            if FORMATS[j] != "rss0.91":  # RSS 0.91 items carry no date
                assert a["published"].startswith(stamp) and a["published"].endswith("Z")
            for paragraph in site.article_text(j, k):
                assert paragraph in a["text"]
            assert not any(c in a["text"] for c in CHROME), a["text"]
            # An extractive summary: sentences of the article, the lead among them.
            assert a["summary"] and all(s.strip() in a["text"] for s in a["summary"].split(". "))
            assert site.article_title(j, k).split()[-2] in a["keywords"]  # the topic
            assert a["language"] == "en"
    md = report.read_text()
    for j in range(spec.feeds):
        section = md.split(f"## Feed {j}\n", 1)[1].split("\n## ", 1)[0]
        order = [section.index(site.article_title(j, k)) for k in range(4)]
        if FORMATS[j] != "rss0.91":  # its items carry no date to order by
            assert order == sorted(order, reverse=True)  # newest first


async def test_a_second_run_asks_conditionally_and_reads_only_what_is_new(tmp_path: Path) -> None:
    spec = FeedSpec(feeds=4, entries=3)
    async with FeedSite(spec, hosts=HOSTS) as site:
        feeds = _feed_list(tmp_path, site.feed_urls)
        db = str(tmp_path / "news.sqlite")
        stats = tmp_path / "stats.json"
        first = await _rss(site, str(feeds), "--db", db, "--stats-json", str(stats))
        assert first.returncode == 0, first.stderr
        assert orjson.loads(stats.read_bytes())["pages"] == 4 + 4 * 3
        # Within the feeds' TTL (1 h by default): nothing is asked at all.
        site.reset()
        cached = await _rss(site, str(feeds), "--db", db, "--stats-json", str(stats))
        assert cached.returncode == 0, cached.stderr
        assert site.log == []
        # ... and its figures are its own, not the first run's crawl.
        assert "pages" not in orjson.loads(stats.read_bytes())
        assert "4 fresh in cache" in cached.stdout.decode()
        assert "feeds 100%" in cached.stdout.decode()
        # With the TTL at zero: every feed asked conditionally; one has a new story.
        site.reset()
        k = site.add_entry(2)
        again = await _rss(site, str(feeds), "--db", db, "--cache-ttl", "feeds=0s")
        assert again.returncode == 0, again.stderr
        conditional = sorted(site.conditional)
        fetched = site.fetch_counts()
    assert [status for *_, status in conditional] == [304, 304, 200, 304]
    assert all(inm and inm.startswith('"') for _, inm, _, _ in conditional)
    feed_paths = {url.split("/", 3)[3]: 1 for url in site.feed_urls}
    assert fetched == {f"/{p}": n for p, n in feed_paths.items()} | {f"/articles/2/{k}.html": 1}
    assert (
        "3 unchanged" in again.stdout.decode()
        and "1 new entries, 1 articles read" in again.stdout.decode()
    )
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 4 * 3 + 1
        assert conn.execute("SELECT count(*) FROM analyses").fetchone()[0] == 4 * 3 + 1


async def test_dry_run_sends_nothing(tmp_path: Path) -> None:
    async with FeedSite(FeedSpec(feeds=2, entries=2), hosts=HOSTS[:1]) as site:
        feeds = _feed_list(tmp_path, site.feed_urls)
        db = str(tmp_path / "news.sqlite")
        assert (await _rss(site, str(feeds), "--db", db)).returncode == 0
        site.reset()
        done = await _rss(site, str(feeds), "--db", db, "--dry-run", "--cache-ttl", "feeds=0")
        assert site.log == []
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr
    for url in site.feed_urls:
        assert f"fetch {url}  (If-None-Match: " in out
    assert "Nothing was sent." in out


async def test_limit_and_since_choose_which_articles_are_read(tmp_path: Path) -> None:
    spec = FeedSpec(feeds=2, entries=6)
    async with FeedSite(spec, hosts=HOSTS[:2]) as site:
        feeds = _feed_list(tmp_path, [site.feed_url(0), site.feed_url(1)])
        db = str(tmp_path / "news.sqlite")
        since = site.published(0, 3).strftime("%Y-%m-%dT%H:%MZ")
        done = await _rss(site, str(feeds), "--db", db, "--limit", "2", "--since", since)
        fetched = {p for p in site.fetch_counts() if p.startswith("/articles/")}
    assert done.returncode == 0, done.stderr
    # Feed 0: stories 3, 4, 5 are since; the newest two of them are read. Feed 1 is one
    # minute later each: the same stories.
    assert fetched == {"/articles/0/5.html", "/articles/0/4.html",
                       "/articles/1/5.html", "/articles/1/4.html"}  # fmt: skip
    with sqlite3.connect(db) as conn:  # every entry is stored, read or not
        assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 12


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_the_same_article_by_another_url_is_not_analysed_twice(
    tmp_path: Path, provider: str
) -> None:
    """A mirror feed leads to the same texts by other URLs: the analyses cache answers. The
    provider is a fake that speaks each protocol for real (tests/fake_llm.py)."""
    from fake_llm import FakeLLM

    spec = FeedSpec(feeds=1, entries=3)
    async with FeedSite(spec, hosts=HOSTS[:1]) as site, FakeLLM() as llm:
        feeds = _feed_list(tmp_path, [site.feed_url(0), site.mirror_url(0)])
        db = str(tmp_path / "news.sqlite")
        base, key = (
            (llm.openai_base_url, llm.openai_key)
            if provider == "openai"
            else (llm.anthropic_base_url, llm.anthropic_key)
        )
        done = await _rss(
            site, str(feeds), "--db", db, "--analyzer", provider, "--model", "test-model",
            "--api-base", base, "--json", str(tmp_path / "a.json"),
            env={f"{provider.upper()}_API_KEY": key or ""},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "LLM: 3 calls made (3 requests with retries), 3 saved by the cache" in out, out
    articles = orjson.loads((tmp_path / "a.json").read_bytes())
    assert len(articles) == 6 and all(a["summary"] for a in articles)
    assert len(llm.received) == 3
    assert {a["language"] for a in articles} == {"en"}


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["missing.txt", "--db", "n.sqlite"], "cannot read the feed list missing.txt"),
        ("feeds.txt:http://127.0.0.1/ok.xml\nnot a url\n", ["feeds.txt", "--db", "n.sqlite"],
         "feeds.txt:2: not an absolute http(s) URL"),
        ("feeds.txt:\n# nothing\n", ["feeds.txt", "--db", "n.sqlite"], "no feed URLs in it"),
        ("feeds.txt:http://127.0.0.1/ok.xml\n",
         ["feeds.txt", "--db", "n.sqlite", "--since", "soon"], "--since: not a date"),
        ("feeds.txt:http://127.0.0.1/ok.xml\n",
         ["feeds.txt", "--db", "n.sqlite", "--analyzer", "openai"], "needs --model"),
        ("feeds.txt:http://127.0.0.1/ok.xml\n",
         ["feeds.txt", "--db", "n.sqlite", "--cache-ttl", "pages=soon"], "--cache-ttl"),
        ("feeds.txt:http://127.0.0.1/ok.xml\n",
         ["feeds.txt", "--db", "other.sqlite"], "not an RSS database of shoal"),
        # Said before any crawling: the key is looked for first.
        ("feeds.txt:http://127.0.0.1/ok.xml\n",
         ["feeds.txt", "--db", "n.sqlite", "--analyzer", "anthropic", "--model", "m",
          "--api-key-env", "SHOAL_TEST_NO_SUCH_KEY"], "SHOAL_TEST_NO_SUCH_KEY"),
    ],
)  # fmt: skip
async def test_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, setup: str | None, args: list[str], message: str
) -> None:
    if setup:
        name, _, text = setup.partition(":")
        (tmp_path / name).write_text(text)
    with sqlite3.connect(tmp_path / "other.sqlite") as conn:
        conn.execute("CREATE TABLE mine (x)")
    before = (tmp_path / "other.sqlite").read_bytes()
    done = await run_shoal("rss", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert (tmp_path / "other.sqlite").read_bytes() == before  # never touched


async def test_a_database_of_the_first_schema_is_migrated_and_kept(tmp_path: Path) -> None:
    from shoal.plugins.rss import _store

    db = tmp_path / "news.sqlite"
    with sqlite3.connect(db) as conn:  # what the first release wrote
        conn.executescript(_store._MIGRATIONS[0])
        conn.execute(f"PRAGMA application_id = {_store._APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 1")
    async with FeedSite(FeedSpec(feeds=1, entries=2), hosts=HOSTS[:1]) as site:
        with sqlite3.connect(db) as conn:
            conn.execute(
                "INSERT INTO feeds (url, title) VALUES (?, 'Old title')", (site.feed_url(0),)
            )
        feeds = _feed_list(tmp_path, [site.feed_url(0)])
        done = await _rss(site, str(feeds), "--db", str(db), "--report", str(tmp_path / "r.md"))
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == _store.SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM feeds").fetchone()[0] == 1  # the old row, updated
        assert (
            conn.execute("SELECT count(*) FROM articles WHERE text_hash IS NOT NULL").fetchone()[0]
            == 2
        )
    assert "## Feed 0" in (tmp_path / "r.md").read_text()


async def test_broken_and_odd_feeds_from_the_wild_are_read_end_to_end(tmp_path: Path) -> None:
    """Every file of tests/feeds/ served over HTTP: what the parser recovers is what the
    database holds. --max-depth 0: their articles are on hosts that do not exist."""
    from feedsite import CORPUS

    from shoal.plugins.rss._feeds import parse_feed

    files = sorted(p for p in CORPUS.iterdir() if p.suffix != ".md")
    async with FeedSite(FeedSpec(feeds=0), hosts=HOSTS[:1]) as site:
        urls = [f"{site.bases[0]}/corpus/{p.name}" for p in files]
        feeds = _feed_list(tmp_path, urls)
        db = str(tmp_path / "news.sqlite")
        done = await _rss(site, str(feeds), "--db", db, "--max-depth", "0")
        paths = set(site.fetch_counts())
    assert done.returncode == 0, done.stderr
    assert paths == {f"/corpus/{p.name}" for p in files}  # feeds only, each once
    with sqlite3.connect(db) as conn:
        stored = dict(
            conn.execute(
                "SELECT f.url, count(e.id) FROM feeds f LEFT JOIN entries e ON e.feed_id = f.id "
                "GROUP BY f.url"
            ).fetchall()
        )
    recovered = 0
    for path, url in zip(files, urls, strict=True):
        feed = parse_feed(path.read_bytes(), url)
        assert stored[url] == len({e.key() for e in feed.entries}), path.name
        recovered += stored[url]
    assert recovered > 50
