"""Sitemaps as the docs plugin reads them: plain or gzipped, and within the protocol's bounds
whatever a server sends (plugins/docs/_sitemap.py, on real lxml and zlib)."""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap

from shoal.plugins.docs._sitemap import MAX_URLS, is_gzipped_sitemap, read_sitemap

_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def _urlset(*locs: str, extra: str = "") -> bytes:
    urls = "".join(f"<url><loc> {loc} </loc><lastmod>2026-01-01</lastmod></url>" for loc in locs)
    return f'<?xml version="1.0"?><urlset {_NS}>{urls}{extra}</urlset>'.encode()


def test_a_urlset_gives_its_pages_resolved_and_normalised() -> None:
    sitemap = read_sitemap(_urlset("a.html", "/docs/b.html#part", "HTTP://Other.test/c"),
                           "https://docs.test/docs/")  # fmt: skip
    assert sitemap is not None and not sitemap.index
    assert sitemap.locs == [
        "https://docs.test/docs/a.html",
        "https://docs.test/docs/b.html",
        "http://other.test/c",
    ]


def test_an_index_says_so_and_gives_its_sitemaps() -> None:
    body = f"<sitemapindex {_NS}><sitemap><loc>/maps/1.xml.gz</loc></sitemap></sitemapindex>"
    sitemap = read_sitemap(body.encode(), "https://docs.test/")
    assert sitemap is not None and sitemap.index
    assert sitemap.locs == ["https://docs.test/maps/1.xml.gz"]


def test_gzip_is_told_by_its_bytes_and_every_member_is_read() -> None:
    # `cat a.gz b.gz` is a valid gzip file: a sitemap split in two members.
    whole = _urlset(*(f"p{i}.html" for i in range(300)))
    half = len(whole) // 2
    body = gzip.compress(whole[:half]) + gzip.compress(whole[half:])
    sitemap = read_sitemap(body, "https://docs.test/")
    assert sitemap is not None and len(sitemap.locs) == 300
    assert sitemap.locs[-1] == "https://docs.test/p299.html"


def test_broken_and_cut_short_sitemaps_are_none() -> None:
    whole = gzip.compress(_urlset("a.html", "b.html"))
    assert read_sitemap(whole[: len(whole) // 2], "https://docs.test/") is None
    assert read_sitemap(b"\x1f\x8bnot gzip at all", "https://docs.test/") is None
    assert read_sitemap(b"<urlset><url><loc>", "https://docs.test/") is None
    assert read_sitemap(b"", "https://docs.test/") is None
    # No entity is expanded: a billion-laughs document gives its text without them.
    laughs = b'<!DOCTYPE u [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    sitemap = read_sitemap(laughs + b"<urlset><url><loc>x&b;</loc></url></urlset>", "https://t/")
    assert sitemap is not None and sitemap.locs == ["https://t/x"]


def test_at_most_the_protocols_50000_urls_are_taken() -> None:
    sitemap = read_sitemap(_urlset(*(f"p{i}" for i in range(MAX_URLS + 5))), "https://t/")
    assert sitemap is not None and len(sitemap.locs) == MAX_URLS
    assert sitemap.locs[-1] == f"https://t/p{MAX_URLS - 1}"


def test_a_small_gzip_of_millions_of_elements_is_refused_without_the_memory() -> None:
    """47 KB that inflates to 12 million empty elements (parsed whole, about 1.6 GB)."""
    script = textwrap.dedent(
        """
        import gzip, resource
        from shoal.plugins.docs._sitemap import read_sitemap
        head = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        pack = gzip.zlib.compressobj(9, wbits=31)  # in pieces: no 48 MB string to start with
        body = pack.compress(head) + b"".join(pack.compress(b"<a/>" * 100_000) for _ in range(120))
        body += pack.compress(b"</urlset>") + pack.flush()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = read_sitemap(body, "https://t/")
        grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(len(body), result, grew >> 10)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=120)  # fmt: skip
    size, result, grew_mb = done.stdout.split()
    assert int(size) < 100_000
    assert result == "None"  # more elements than a sitemap could need: refused
    # Freed as read: a few MB. Kept as a tree up to the refusal, it would be about 130 MB.
    assert int(grew_mb) < 40, done.stdout


def test_gzipped_sitemaps_are_named_by_their_path() -> None:
    assert is_gzipped_sitemap("https://t/sitemap.xml.gz")
    assert is_gzipped_sitemap("https://t/maps/SITEMAP.XML.GZ?v=2")
    assert not is_gzipped_sitemap("https://t/docs/release.tar.gz")
    assert not is_gzipped_sitemap("https://t/sitemap.xml")
