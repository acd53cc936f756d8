"""The feed parser: every file of tests/feeds/ (formats, encodings, broken XML, xml:base, JSON
Feed, hostile documents) gives the entries a reader expects, every date format of the table
normalises to UTC, and no input makes it raise.

``CORPUS`` is also the truth bench/feed_parsers.py scores parsers against.
"""

from __future__ import annotations

import codecs
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.plugins.rss._feeds import Entry, Feed, parse_date, parse_feed

FEEDS = Path(__file__).resolve().parent / "feeds"
BASE = "http://example.org/feeds/"


@dataclass(frozen=True)
class Case:
    """What a reader expects of one corpus file. Each entry lists only the fields it checks."""

    category: str  # formats, encodings, malformed, links, dates, security
    kind: str
    title: str | None
    link: str | None
    entries: list[dict[str, str | None]]
    charset: str | None = None  # the HTTP charset the file is served with
    malformed: bool = False
    content_type: str = field(default="application/xml")


def _dates(*pairs: str) -> list[dict[str, str | None]]:
    return [
        {"title": f"Date {i}", "link": f"http://dates.example/{i}", "published": utc}
        for i, utc in enumerate(pairs, 1)
    ]


CORPUS: dict[str, Case] = {
    "rss090.rdf": Case("formats", "rss0.91", "Mozilla Dot Org", "http://www.mozilla.example/", [
        {"title": "New Status Updates", "link": "http://www.mozilla.example/status/", "id": None},
        {"title": "Bugzilla Reorganized", "link": "http://www.mozilla.example/bugs/"},
    ]),
    "rss091.xml": Case("formats", "rss0.91", "Café Scripting News",
                       "http://www.scripting.example/", [
        {"title": "Giving the world a pluggable Gnutella",
         "link": "http://www.scripting.example/2026/11/30/gnutella",
         "summary": "WorldOS is a framework on which to build programs that work like Freenet or "
                    "Gnutella…"},
        {"title": "Syndication — the naïve way", "link": "http://example.org/2026/11/29/syndication",
         "summary": "Why RSS matters."},
    ]),
    "rss092.xml": Case("formats", "rss0.92", "Dave Winer: Grateful Dead",
                       "http://www.scripting.example/blog/categories/gratefulDead.html", [
        {"title": None, "link": None,
         "summary": "It's been a few days since I added a song to the Grateful Dead channel."},
        {"title": "Kansas City, 1972", "link": "http://www.scripting.example/2026/11/kc"},
    ]),
    "rss10.rdf": Case("formats", "rss1.0", "Meerkat", "http://meerkat.example/", [
        {"title": "XML: A Disruptive Technology",
         "link": "http://c.moreover.example/click/here.pl?r123",
         "id": "http://c.moreover.example/click/here.pl?r123",
         "published": "2026-11-29T19:14:30Z", "author": "Simon St.Laurent"},
        {"title": "RDF Site Summary 1.0", "link": "http://meerkat.example/news/2",
         "published": "2026-11-28T00:00:00Z",
         "content_html": "<p>RSS 1.0 is <em>modular</em>.</p>"},
    ]),
    "rss20.xml": Case("formats", "rss2.0", "Liftoff News", "https://liftoff.example/", [
        {"title": "Star City", "link": "https://liftoff.example/news/2026/11/star-city",
         "id": "https://liftoff.example/2026/11/03.html#item573",
         "published": "2026-11-03T09:39:21Z", "author": "Ann Editor",
         "summary": "How do Americans get ready to work with Russians aboard the International "
                    "Space Station? They take a crash course in culture, language and protocol "
                    "at Russia's Star City.",
         "content_html": '<p>How do Americans get ready to work with Russians?</p><p><img '
                         'src="/img/star.jpg" alt=""></p>'},
        {"title": "The Engine That Does More", "link": "http://example.org/news/2026/11/engine",
         "id": "liftoff-engine-571", "published": "2026-10-27T13:37:32Z", "author": "Bob Writer"},
        {"title": "Astronauts' Dirty Laundry & Other Tales",
         "link": "https://liftoff.example/2026/10/20.html",
         "id": "https://liftoff.example/2026/10/20.html#item570",
         "published": "2026-10-20T08:56:02Z"},
        {"title": "A guid that is not a link", "link": None,
         "id": "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a",
         "published": "2026-10-19T14:00:00Z"},
    ]),
    "atom03.xml": Case("formats", "atom0.3", "dive into <mark>", "http://diveintomark.example/", [
        {"title": "Atom 0.3 snapshot",
         "link": "http://diveintomark.example/2026/11/29/atom-03-snapshot",
         "id": "tag:diveintomark.example,2026:3.2397", "published": "2026-11-29T12:29:29Z",
         "updated": "2026-11-29T18:30:02Z", "author": "Mark Pilgrim",
         "content_html": "<p>Escaped <b>HTML</b>.</p>"},
        {"title": "Inline XML content", "link": "http://diveintomark.example/2026/11/28/xml",
         "id": "tag:diveintomark.example,2026:3.2396", "published": "2026-11-28T08:00:00Z",
         "content_html": "<p>Inline <em>XHTML</em>.</p>"},
    ]),
    "atom10.xml": Case("formats", "atom1.0", "dive into mark", "http://example.org/", [
        {"title": "Atom draft-07 snapshot & more", "link": "http://example.org/2026/11/29/atom03",
         "id": "tag:example.org,2026:3.2397", "published": "2026-11-29T16:29:29Z",
         "updated": "2026-11-29T20:14:30Z", "author": "Mark Pilgrim",
         "content_html": "<p><i>[Update: The Atom draft is finished.]</i></p>"
                         "<p>Second paragraph.</p>"},
        {"title": "Only an updated date", "link": "http://example.org/2026/11/28/updated-only",
         "id": "tag:example.org,2026:3.2396", "published": "2026-11-27T23:00:00Z",
         "updated": "2026-11-27T23:00:00Z", "author": "Mark Pilgrim",
         "summary": "Summary as plain text <3, not HTML.",
         "content_html": '<p>Escaped <a href="/x">HTML</a> content.</p>'},
        {"title": "An XHTML title", "link": "http://example.org/2026/11/27/xhtml-title",
         "id": "http://example.org/2026/11/27/xhtml-title", "published": "2026-11-27T10:00:00Z",
         "author": "Guest Author", "summary": "One. Two."},
    ]),
    "jsonfeed10.json": Case("formats", "json1.0", "My Example Feed", "https://json.example/", [
        {"id": "2", "title": None, "link": "http://example.org/second-item",
         "published": "2026-11-30T04:14:30Z", "updated": "2026-11-30T04:14:30Z",
         "content_html": "This is a second item. 1 &lt; 2 &amp; 3 &gt; 2.",
         "author": "Brent Simmons"},
        {"id": "https://json.example/initial-post", "title": "The initial post",
         "link": "https://elsewhere.example/greeting", "published": "2026-11-28T09:00:00Z",
         "summary": "A greeting.", "content_html": "<p>Hello, world!</p>", "author": "Guest"},
    ], content_type="application/feed+json"),
    "jsonfeed11.json": Case("formats", "json1.1", "JSON Feed 1.1 — ünïcödé",
                            "https://json11.example/", [
        {"id": "1", "title": "Hello, 1.1", "link": "https://json11.example/2026/11/29/hello",
         "published": "2026-11-29T19:14:30Z", "updated": "2026-11-30T08:00:00Z",
         "summary": "Bold summary", "content_html": "<p>Content</p>", "author": "Second Author"},
        {"id": "2", "title": "Tags and attachments",
         "link": "https://json11.example/2026/11/28/tags", "author": "Manton Reece"},
    ], content_type="application/feed+json"),
    "xmlbase.atom": Case("links", "atom1.0", "Nested xml:base", "http://base.example/blog/", [
        {"title": "Entry base relative to the feed's",
         "link": "http://base.example/blog/2026/11/post-1.html"},
        {"title": "Absolute entry base", "link": "http://other.example/post-2.html"},
        {"title": "Feed base only", "link": "http://base.example/top/post-3.html?b=2&a=1"},
    ]),
    "xmlbase.rss": Case("links", "rss2.0", "xml:base in RSS",
                        "http://rss-base.example/site/news/", [
        {"title": "Item base", "link": "http://rss-base.example/site/news/2026/story.html",
         "id": "rss-base-1"},
        {"title": "Channel base", "link": "http://rss-base.example/site/news/story-2.html"},
    ]),
    "relative.rss": Case("links", "rss2.0", "Relative links, no xml:base", "http://example.org/", [
        {"title": "Root-relative", "link": "http://example.org/articles/one"},
        {"title": "Path-relative", "link": "http://example.org/feeds/two.html"},
        {"title": "Protocol-relative", "link": "http://cdn.example/three"},
        {"title": "Permalink guid only", "link": "http://example.org/articles/four",
         "id": "http://example.org/articles/four?utm_medium=rss"},
        {"title": "A guid that is no URL", "link": None, "id": "4711"},
    ]),
    "enc-utf8-bom-declares-latin1.xml": Case("encodings", "rss2.0", "Café “quoted” – 10 €",
                                             "http://enc.example/", [
        {"title": "Café “quoted” – 10 €", "summary": "naïve"},
    ]),
    "enc-cp1252-declares-utf8.xml": Case("encodings", "rss2.0", "Café “quoted” – 10 €",
                                         "http://enc.example/", [
        {"title": "Café “quoted” – 10 €", "summary": "naïve"},
    ]),
    "enc-latin1-no-declaration.xml": Case("encodings", "rss2.0", "Café au lait",
                                          "http://enc.example/", [
        {"title": "Café au lait", "summary": "Crème brûlée"},
    ]),
    "enc-utf16le-bom.xml": Case("encodings", "rss2.0", "Café “quoted” – 10 €",
                                "http://enc.example/", [
        {"title": "Café “quoted” – 10 €", "summary": "naïve", "link": "http://enc.example/1"},
    ]),
    "enc-utf16be-no-bom.xml": Case("encodings", "rss2.0", "Café “quoted” – 10 €",
                                   "http://enc.example/", [
        {"title": "Café “quoted” – 10 €", "summary": "naïve", "link": "http://enc.example/1"},
    ]),
    "enc-koi8r.xml": Case("encodings", "rss2.0", "Привет, мир", "http://enc.example/", [
        {"title": "Привет, мир", "summary": "Новости"},
    ]),
    "enc-utf8-header-says-latin1.xml": Case("encodings", "rss2.0", "Grüße aus Köln",
                                            "http://enc.example/", [
        {"title": "Grüße aus Köln", "summary": "Ελληνικά"},
    ], charset="iso-8859-1"),
    "enc-cp1251-header-right.xml": Case("encodings", "rss2.0", "Привет, мир",
                                        "http://enc.example/", [
        {"title": "Привет, мир", "summary": "Новости"},
    ], charset="windows-1251"),
    "enc-mixed-utf8-cp1252.xml": Case("encodings", "rss2.0", "Mixed “quotes”",
                                      "http://enc.example/", [
        {"title": "Mixed “quotes”", "summary": "it’s ok – ü"},
    ]),
    "broken-ampersands.xml": Case("malformed", "rss2.0", "Barnes & Noble < Amazon?",
                                  "http://amp.example/?page=home&lang=en", [
        {"title": "AT&T buys T-Mobile", "link": "http://amp.example/article?id=1&ref=rss",
         "summary": "Q&A: is 1 < 2? Yes & no.", "published": "2026-11-29T20:14:30Z"},
        {"title": "Fish & chips & peas & more", "link": "http://amp.example/article?id=2&ref=rss"},
    ], malformed=True),
    "broken-entities.xml": Case("malformed", "rss2.0", "HTML entities — undefined in XML",
                                "http://ent.example/", [
        {"title": "Café & crème brûlée…", "link": "http://ent.example/cafe",
         "summary": "© 2026 “Quoted” ™ &foo; stays"},
        {"title": "Second item", "link": "http://ent.example/second"},
    ], malformed=True),
    "broken-truncated.xml": Case("malformed", "rss2.0", "Truncated feed", "http://trunc.example/", [
        {"title": "Complete item", "link": "http://trunc.example/1",
         "published": "2026-11-29T20:14:30Z"},
        {"title": "Cut in the middle", "link": "http://trunc.example/2"},
    ], malformed=True),
    "broken-junk-before-root.xml": Case("malformed", "rss2.0", "Junk before the root",
                                        "http://junk.example/", [
        {"title": "Still parsed", "link": "http://junk.example/1"},
    ], malformed=True),
    "broken-unclosed-items.xml": Case("malformed", "rss2.0", "Unclosed items",
                                      "http://unclosed.example/", [
        {"title": "First", "link": "http://unclosed.example/1"},
        {"title": "Second", "link": "http://unclosed.example/2"},
        {"title": "Third", "link": "http://unclosed.example/3"},
    ], malformed=True),
    "broken-control-chars.xml": Case("malformed", "rss2.0", "Control characters",
                                     "http://ctl.example/", [
        {"title": "Form feed and friends", "link": "http://ctl.example/1"},
        {"title": "Next", "link": "http://ctl.example/2"},
    ], malformed=True),
    "broken-atom-no-namespace.xml": Case("malformed", "atom1.0", "Atom without its namespace",
                                         "http://nons.example/", [
        {"title": "Entry one", "link": "http://nons.example/1", "id": "nons-1",
         "published": "2026-11-29T20:14:30Z"},
    ]),
    "dates-wild.xml": Case("dates", "rss2.0", "Dates from the wild",
                           "http://dates.example/", _dates(
        "2026-11-29T20:14:30Z",  # Sun, 29 Nov 2026 20:14:30 GMT
        "2026-11-29T19:14:30Z",  # 29 Nov 2026 20:14:30 +0100
        "2026-11-30T01:14:30Z",  # Sun, 29 Nov 26 20:14:30 EST
        "2026-11-30T03:14:00Z",  # Sun, 29 Nov 2026 20:14 PDT
        "2026-09-01T08:00:00Z",  # Tues, 01 Sept 2026 08:00:00 UT
        "2026-11-29T20:14:30Z",  # sun, 29 nov 2026 20:14:30 z
        "2026-11-29T14:44:30Z",  # Sun, 29 Nov 2026 20:14:30 +05:30
        "2026-11-29T20:14:30Z",  # 2026-11-29T20:14:30Z
        "2026-11-29T20:14:30Z",  # 2026-11-29 20:14:30
        "2026-11-29T19:14:30Z",  # 2026-11-29T20:14:30.123456+01:00
        "2026-11-29T00:00:00Z",  # 2026-11-29
        "2026-11-30T04:14:30Z",  # 2026-11-29T20:14:30-0800
        "2026-11-29T20:14:30Z",  # Sun Nov 29 20:14:30 2026
        "2026-11-29T20:14:00Z",  # November 29, 2026 8:14 PM
        "2026-11-26T08:00:00Z",  # Thursday, 26 November 2026 09:00:00 CET
        "2026-12-02T10:00:00Z",  # Wed, 02 Dec 2026 10:00:00 -0000
    )),
    "xxe.xml": Case("security", "rss2.0", "XXE &xxe;", "http://xxe.example/", [
        {"title": "Secret: &xxe;&remote;", "link": "http://xxe.example/1"},
    ]),
    "billion-laughs.xml": Case("security", "rss2.0", "Laughs", "http://lol.example/", [
        {"title": "&lol9;", "link": "http://lol.example/1"},
    ]),
    "not-a-feed.html": Case("security", "unknown", None, None, [], malformed=True,
                            content_type="text/html"),
}  # fmt: skip


def parse_file(name: str) -> Feed:
    case = CORPUS[name]
    body = (FEEDS / name).read_bytes()
    return parse_feed(body, BASE + name, content_type=case.content_type, charset=case.charset)


# --- the corpus ----------------------------------------------------------------------------------


def test_every_corpus_file_has_its_expectations() -> None:
    files = {p.name for p in FEEDS.iterdir() if p.suffix != ".md"}
    assert files == set(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_file(name: str) -> None:
    case = CORPUS[name]
    feed = parse_file(name)
    assert (feed.kind, feed.title, feed.link) == (case.kind, case.title, case.link)
    assert (feed.error is not None) == case.malformed, feed.error
    assert len(feed.entries) == len(case.entries), [e.title for e in feed.entries]
    for entry, want in zip(feed.entries, case.entries, strict=True):
        got = {name: getattr(entry, name) for name in want}
        assert got == want


def test_links_are_absolute_and_dates_utc_everywhere() -> None:
    for name in CORPUS:
        feed = parse_file(name)
        for entry in feed.entries:
            assert entry.link is None or entry.link.startswith(("http://", "https://"))
            for date in (entry.published, entry.updated):
                assert date is None or (len(date) == 20 and date.endswith("Z")), date


def test_published_falls_back_to_updated_but_not_the_other_way() -> None:
    atom = parse_file("atom10.xml").entries
    assert atom[1].published == atom[1].updated == "2026-11-27T23:00:00Z"
    rss = parse_file("rss20.xml").entries
    assert rss[0].published == "2026-11-03T09:39:21Z" and rss[0].updated is None


def test_malformed_feeds_say_so_and_where() -> None:
    feed = parse_file("broken-truncated.xml")
    assert feed.error is not None and "line 14" in feed.error
    assert feed.entries[1].summary == "The connection dropped wh"


# --- encodings -----------------------------------------------------------------------------------

TEXT = "Grüße “quoted” – Ελληνικά"


def _rss(title: str, declaration: str | None = None) -> str:
    head = f'<?xml version="1.0" encoding="{declaration}"?>' if declaration else ""
    return f"{head}<rss version='2.0'><channel><title>{title}</title></channel></rss>"


@pytest.mark.parametrize(
    ("body", "charset", "title"),
    [
        # A byte order mark wins over a header and a declaration that disagree with it.
        (codecs.BOM_UTF8 + _rss(TEXT, "koi8-r").encode(), "iso-8859-1", TEXT),
        (codecs.BOM_UTF16_BE + _rss(TEXT, "utf-8").encode("utf-16-be"), "utf-8", TEXT),
        (codecs.BOM_UTF32_LE + _rss(TEXT).encode("utf-32-le"), None, TEXT),
        # The header wins over the declaration (RFC 7303) ...
        (_rss("Привет", "windows-1251").encode("koi8-r"), "koi8-r", "Привет"),
        (_rss("Привет", "utf-8").encode("cp1251"), "windows-1251", "Привет"),
        # ... and the declaration applies without a header.
        (_rss("Привет", "windows-1251").encode("cp1251"), None, "Привет"),
        (_rss("Привет", "koi8-r").encode("koi8-r"), "", "Привет"),
        # Valid UTF-8 is UTF-8 whatever the labels say: legacy text is almost never valid UTF-8.
        (_rss(TEXT, "iso-8859-1").encode(), "iso-8859-1", TEXT),
        (_rss(TEXT, "utf-16").encode(), "utf-16", TEXT),
        # No label and not UTF-8: windows-1252, as browsers read unlabelled legacy text.
        (_rss("café – “x”").encode("cp1252"), None, "café – “x”"),
        # A label that names no charset is no label.
        (_rss("café", "base64").encode("cp1252"), "rot13", "café"),
        (_rss("café", "no-such-charset").encode(), "x-unknown", "café"),
        # 7-bit encodings are valid UTF-8 byte for byte: only the label tells.
        (_rss("日本語", "iso-2022-jp").encode("iso-2022-jp"), None, "日本語"),
    ],
)
def test_encodings(body: bytes, charset: str | None, title: str) -> None:
    feed = parse_feed(body, BASE, charset=charset)
    assert feed.title == title and feed.error is None


# --- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        # RFC 822 / 2822, as specified and as written.
        ("Sun, 29 Nov 2026 20:14:30 GMT", "2026-11-29T20:14:30Z"),
        ("Sun, 29 Nov 2026 20:14:30 +0000", "2026-11-29T20:14:30Z"),
        ("29 Nov 2026 20:14:30 +0100", "2026-11-29T19:14:30Z"),
        ("Sun, 29 Nov 26 20:14:30 EST", "2026-11-30T01:14:30Z"),
        ("Sun, 29 Nov 99 20:14:30 GMT", "1999-11-29T20:14:30Z"),
        ("Sun, 29 Nov 2026 20:14 PDT", "2026-11-30T03:14:00Z"),
        ("Sun, 29 Nov 2026 20:14:30 UT", "2026-11-29T20:14:30Z"),
        ("Sun, 29 Nov 2026 20:14:30 UTC", "2026-11-29T20:14:30Z"),
        ("Sun, 29 Nov 2026 20:14:30 Z", "2026-11-29T20:14:30Z"),
        ("Sun, 29 Nov 2026 20:14:30 CST", "2026-11-30T02:14:30Z"),
        ("Sun, 29 Nov 2026 20:14:30 MDT", "2026-11-30T02:14:30Z"),
        ("Sun, 29 Nov 2026 20:14:30 +05:30", "2026-11-29T14:44:30Z"),
        ("Sun, 29 Nov 2026 20:14:30 -0330", "2026-11-29T23:44:30Z"),
        ("Sun, 29 Nov 2026 20:14:30 +01", "2026-11-29T19:14:30Z"),
        ("Sun, 29 Nov 2026 20:14:30 GMT+2", "2026-11-29T18:14:30Z"),
        ("Sun, 29 Nov 2026 20:14:30 -0500 (EST)", "2026-11-30T01:14:30Z"),
        ("Sun, 29 Nov 2026 20:14:30", "2026-11-29T20:14:30Z"),
        ("Sun,29 Nov 2026 20:14:30 GMT", "2026-11-29T20:14:30Z"),
        ("Sun, 1 Nov 2026 8:04:05 GMT", "2026-11-01T08:04:05Z"),
        ("Sun, 29 Nov 2026 20:14:30 XYZ", "2026-11-29T20:14:30Z"),
        # Misspellings and case.
        ("Tues, 01 Sept 2026 08:00:00 GMT", "2026-09-01T08:00:00Z"),
        ("Thurs, 26 Nov 2026 08:00:00 GMT", "2026-11-26T08:00:00Z"),
        ("sun, 29 nov 2026 20:14:30 gmt", "2026-11-29T20:14:30Z"),
        ("SUN, 29 NOV 2026 20:14:30 GMT", "2026-11-29T20:14:30Z"),
        ("Sunday, 29 November 2026 20:14:30 GMT", "2026-11-29T20:14:30Z"),
        ("Sun, 29-Nov-2026 20:14:30 GMT", "2026-11-29T20:14:30Z"),
        # Other orders: asctime, American, with the zone glued to the time.
        ("Sun Nov 29 20:14:30 2026", "2026-11-29T20:14:30Z"),
        ("November 29, 2026 8:14 PM", "2026-11-29T20:14:00Z"),
        ("Nov 29, 2026 12:05 AM", "2026-11-29T00:05:00Z"),
        ("Nov 29, 2026 12:05 pm", "2026-11-29T12:05:00Z"),
        ("29 Nov 2026 20:14:30+0100", "2026-11-29T19:14:30Z"),
        ("29 Nov 2026", "2026-11-29T00:00:00Z"),
        # ISO 8601, RFC 3339, W3CDTF.
        ("2026-11-29T20:14:30Z", "2026-11-29T20:14:30Z"),
        ("2026-11-29T20:14:30+00:00", "2026-11-29T20:14:30Z"),
        ("2026-11-29T20:14:30-08:00", "2026-11-30T04:14:30Z"),
        ("2026-11-29T20:14:30-0800", "2026-11-30T04:14:30Z"),
        ("2026-11-29T20:14:30+05", "2026-11-29T15:14:30Z"),
        ("2026-11-29T20:14:30.123Z", "2026-11-29T20:14:30Z"),
        ("2026-11-29T20:14:30.123456789+01:00", "2026-11-29T19:14:30Z"),
        ("2026-11-29T20:14:30,5Z", "2026-11-29T20:14:30Z"),
        ("2026-11-29T20:14Z", "2026-11-29T20:14:00Z"),
        ("2026-11-29T20:14:30", "2026-11-29T20:14:30Z"),
        ("2026-11-29 20:14:30", "2026-11-29T20:14:30Z"),
        ("2026-11-29 20:14:30 +0100", "2026-11-29T19:14:30Z"),
        ("2026-11-29 20:14:30 PST", "2026-11-30T04:14:30Z"),
        ("2026-11-29t20:14:30z", "2026-11-29T20:14:30Z"),
        ("20261129T201430Z", "2026-11-29T20:14:30Z"),
        ("2026-11-29", "2026-11-29T00:00:00Z"),
        ("2026-11", "2026-11-01T00:00:00Z"),
        ("2026", "2026-01-01T00:00:00Z"),
        ("2026-1-5", "2026-01-05T00:00:00Z"),
        ("  2026-11-29T20:14:30Z\n", "2026-11-29T20:14:30Z"),
        # Edges: a leap second, ISO's 24:00, across a year.
        ("2026-12-31T23:59:60Z", "2026-12-31T23:59:59Z"),
        ("2026-11-29T24:00:00Z", "2026-11-30T00:00:00Z"),
        ("Thu, 31 Dec 2026 23:30:00 -0100", "2027-01-01T00:30:00Z"),
        # Not dates.
        ("", None),
        ("yesterday", None),
        ("2026-13-01", None),
        ("2026-02-30", None),
        ("Sun, 31 Feb 2026 10:00:00 GMT", None),
        ("Sun, 29 Nov 2026 25:00:00 GMT", None),
        ("Sun, 29 Nov 2026 20:14:30 +9999", None),
        ("Nov 2026", None),
        ("12:00", None),
        ("9" * 500, None),
    ],
)
def test_parse_date(value: str, utc: str | None) -> None:
    assert parse_date(value) == utc


# --- fields ------------------------------------------------------------------------------------

_ATOM = '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>e</id>{}</entry></feed>'
_RSS = (
    '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    ' xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"><channel><item>{}'
    "</item></channel></rss>"
)


@pytest.mark.parametrize(
    ("body", "content"),
    [
        # Plain text content is escaped, to be HTML like the others.
        (_ATOM.format('<content type="text">1 &lt; 2 &amp; 3</content>'), "1 &lt; 2 &amp; 3"),
        # Content elsewhere is no content.
        (_ATOM.format('<content type="text/html" src="/elsewhere"/>'), None),
        # XHTML written as HTML: void elements as such, empty ones opened and closed.
        (_ATOM.format('<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
                      '<p>a<br/>b<a name="x"/></p></div></content>'),
         '<p>a<br>b<a name="x"></a></p>'),
        # HTML left unescaped in content:encoded is still its content.
        (_RSS.format("<content:encoded><p>raw <b>html</b></p></content:encoded>"),
         "<p>raw <b>html</b></p>"),
    ],
)  # fmt: skip
def test_content_is_html(body: str, content: str | None) -> None:
    assert parse_feed(body.encode(), BASE).entries[0].content_html == content


def test_feedburner_original_link_wins_over_its_redirect() -> None:
    item = (
        "<title>t</title><link>http://feeds.feedburner.example/~r/x/~3/abc/</link>"
        "<feedburner:origLink>https://blog.example/post</feedburner:origLink>"
    )
    assert parse_feed(_RSS.format(item).encode(), BASE).entries[0].link == (
        "https://blog.example/post"
    )


def test_rss_author_is_the_name_of_the_address() -> None:
    item = "<title>t</title><author>joe@example.org (Joe Bloggs)</author>"
    assert parse_feed(_RSS.format(item).encode(), BASE).entries[0].author == "Joe Bloggs"


# --- JSON Feed -----------------------------------------------------------------------------------


def test_json_feed_oddities_never_raise() -> None:
    odd = [
        b'{"version": "https://jsonfeed.org/version/1.1", "items": "none"}',
        b'{"version": "https://jsonfeed.org/version/1", "items": [{"id": true, "url": 5,'
        b' "title": ["x"], "date_published": 17, "authors": "me"}]}',
        b'{"version": 1, "items": []}',
        b"[1, 2, 3]",
        b'{"version": "https://jsonfeed.org/version/1", "items": [',
        b"[" * 100_000,
    ]
    feeds = [parse_feed(body, BASE) for body in odd]
    assert all(feed.entries == [] for feed in feeds)
    assert [feed.kind for feed in feeds[:2]] == ["json1.1", "json1.0"]
    assert feeds[2].error == feeds[3].error == "not a feed: JSON without a JSON Feed version"
    assert feeds[4].error is not None and feeds[4].error.startswith("malformed JSON")
    assert feeds[5].error is not None  # nested beyond any decoder's depth


# --- hostile documents ---------------------------------------------------------------------------


def _all_text(feed: Feed) -> str:
    return msgspec.json.encode(feed).decode()


def test_no_external_entity_is_read() -> None:
    feed = parse_file("xxe.xml")
    assert "root:" not in _all_text(feed)
    inline = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
        b"<rss><channel><title>&x;</title><item><title>t</title></item></channel></rss>"
    )
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else ""
    feed = parse_feed(inline, BASE)
    assert feed.title == "&x;" and (not hostname or hostname not in _all_text(feed))


def test_billion_laughs_stays_small_and_quick() -> None:
    start = time.perf_counter()
    feed = parse_file("billion-laughs.xml")
    assert time.perf_counter() - start < 0.5
    assert len(_all_text(feed)) < 1000


def test_a_doctype_after_a_long_prologue_is_not_expanded_either() -> None:
    laughs = (FEEDS / "billion-laughs.xml").read_bytes()
    body = laughs.replace(b"<!DOCTYPE", b"<!--" + b" " * 5000 + b"-->\n<!DOCTYPE", 1)
    start = time.perf_counter()
    feed = parse_feed(body, BASE)
    assert time.perf_counter() - start < 0.5 and len(_all_text(feed)) < 1000


def test_deep_nesting_and_many_entries_are_bounded() -> None:
    deep = b"<rss><channel>" + b"<x>" * 100_000 + b"<item><title>t</title></item>"
    assert isinstance(parse_feed(deep, BASE), Feed)
    many = b"<rss><channel>" + b"<item><title>t</title></item>" * 6000 + b"</channel></rss>"
    assert len(parse_feed(many, BASE).entries) == 5000


def test_not_a_feed() -> None:
    feed = parse_file("not-a-feed.html")
    assert feed.kind == "unknown" and feed.entries == []
    assert feed.error == "not a feed: the root element is <html>"
    assert parse_feed(b"", BASE).error == "empty document"
    assert parse_feed(b"   \n", BASE).entries == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(body: bytes) -> None:
    assert isinstance(parse_feed(body, BASE), Feed)


_MARKUP = st.sampled_from(
    ["<rss>", "<channel>", "<item>", "</item>", "<title>", "</title>", "<link>", "/x", "&",
     "&nbsp;", "<![CDATA[", "]]>", "<feed xmlns='http://www.w3.org/2005/Atom'>", "<entry>",
     "<link href='../a'/>", "xml:base='b/'", "<pubDate>", "Sun, 29 Nov 2026", "<", ">", "é",
     '{"version": "https://jsonfeed.org/version/1", "items": [', "<!DOCTYPE x [", "\x00"]
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_MARKUP, st.text(max_size=10)), max_size=60))
def test_random_markup_never_raises(parts: list[str]) -> None:
    body = "".join(parts).encode("utf-8", "surrogatepass")
    feed = parse_feed(body, BASE)
    for entry in feed.entries:
        assert entry.link is None or entry.link.startswith(("http://", "https://"))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_random_dates_never_raise(value: str) -> None:
    result = parse_date(value)
    assert result is None or (len(result) == 20 and result.endswith("Z"))


# --- the structs ---------------------------------------------------------------------------------


def _entry(**fields: Any) -> Entry:
    empty = dict.fromkeys(Entry.__struct_fields__)
    return Entry(**{**empty, **fields})


def test_entry_key_is_the_id_then_the_link_then_a_hash() -> None:
    assert _entry(id="tag:x", link="http://x/1").key() == "tag:x"
    assert _entry(link="http://x/1").key() == "http://x/1"
    one = _entry(title="T", published="2026-11-29T20:14:30Z")
    assert (
        one.key().startswith("hash:")
        and one.key()
        == _entry(title="T", published="2026-11-29T20:14:30Z", summary="changed").key()
    )
    assert one.key() != _entry(title="T", published="2026-11-30T20:14:30Z").key()
    assert _entry(summary="a").key() != _entry(summary="b").key()


def test_a_feed_crosses_processes() -> None:
    feed = parse_file("rss20.xml")
    assert pickle.loads(pickle.dumps(feed)) == feed
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(feed), type=Feed) == feed
