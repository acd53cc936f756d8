"""The RSS plugin's parse step: a feed told from an article by its bytes, and an article's text."""

from __future__ import annotations

import pytest

from shoal.plugins.api import Response
from shoal.plugins.rss._parse import ArticleDoc, FeedDoc, looks_like_feed, parse_rss


@pytest.mark.parametrize(
    ("body", "is_feed"),
    [
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', True),
        (b"\n<br />\n<b>Warning</b>: headers already sent<br />\n<?xml version='1.0'?><rss>", True),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><feed xmlns="x"/>', True),
        ('<?xml version="1.0" encoding="utf-16"?><rdf:RDF/>'.encode("utf-16-be"), True),
        ('\ufeff<feed xmlns="http://www.w3.org/2005/Atom"/>'.encode("utf-16-le"), True),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', True),
        (b'<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" '
         b'href="/feed"></head><body><p>About our <b>feed</b></p></body></html>', False),
        (b"<!-- generated --><html><body>Write <rss> in your page</body></html>", False),
        (b'{"items": []}', False),
    ],
)  # fmt: skip
def test_feeds_are_told_from_pages_by_their_bytes(body: bytes, is_feed: bool) -> None:
    assert looks_like_feed(body) is is_feed


def test_an_article_gives_its_main_text_and_local_analysis() -> None:
    page = (
        b"<html><head><title>Tide mill | Coast News</title></head><body><nav>Home Sport</nav>"
        b"<article><h1>The tide mill turns again</h1><p>Volunteers restored the tide mill on "
        b"the estuary after ten years of work.</p><p>The mill grinds flour twice a day, when "
        b"the tide goes out.</p></article><footer>Copyright Coast News</footer></body></html>"
    )
    url = "http://127.0.0.1/news/mill.html"
    doc = parse_rss(Response(url=url, final_url=url, status=200, headers={}, body=page))
    assert isinstance(doc, ArticleDoc)
    assert doc.title == "The tide mill turns again"
    assert "Volunteers restored the tide mill" in doc.text and "Copyright" not in doc.text
    assert doc.analysis.analyzer == "local" and doc.analysis.language == "en"
    assert "mill" in " ".join(doc.analysis.keywords)


def test_a_feed_mislabelled_as_html_is_still_a_feed() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item>'
        b"<title>One</title><link>/one.html</link></item></channel></rss>"
    )
    url = "http://127.0.0.1/feed"
    response = Response(url, url, 200, {}, body, content_type="text/html")
    doc = parse_rss(response)
    assert isinstance(doc, FeedDoc)
    assert [e.link for e in doc.feed.entries] == ["http://127.0.0.1/one.html"]
