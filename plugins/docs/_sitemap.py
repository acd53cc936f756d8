"""Sitemaps (sitemaps.org 0.9), plain or gzipped, read as a stream within the protocol's bounds.

A sitemap is data from a server we do not trust: no entities, no network, and bounded. The
protocol allows 50,000 URLs and 50 MB uncompressed per file; a gzipped one could otherwise
inflate to any size, and even 50 MB parsed whole into a tree of tiny elements costs well over a
gigabyte. So the body is inflated piece by piece into a pull parser, and every element is freed
as soon as it has been read, with a bound on how many there may be.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import cast
from urllib.parse import urlsplit

import msgspec
from lxml import etree

from ...engine._urls import normalize_url

__all__ = ["Sitemap", "is_gzipped_sitemap", "read_sitemap"]

#: The protocol's bounds on one sitemap file.
MAX_BYTES = 50 * 1024 * 1024
MAX_URLS = 50_000
#: Elements read at most: 20 per URL (loc, lastmod, images, alternates...). Each costs a
#: couple of microseconds here, so this bounds the time a hostile sitemap can take too.
MAX_ELEMENTS = 20 * MAX_URLS

_GZIP_MAGIC = b"\x1f\x8b"
_PIECE = 1 << 16  # inflated bytes fed to the parser at a time: the elements of one are held


class Sitemap(msgspec.Struct, frozen=True):
    #: A sitemap index lists sitemaps; a urlset lists pages.
    index: bool
    #: Absolute, normalised ``<loc>`` URLs in document order (at most MAX_URLS).
    locs: list[str]


class _Unreadable(Exception):
    """Not a sitemap within the protocol's bounds: broken, cut short, or too big."""


def is_gzipped_sitemap(url: str) -> bool:
    """Whether ``url`` names a gzipped sitemap (``sitemap.xml.gz``), whatever its media type:
    servers call them application/gzip, application/x-gzip or application/octet-stream."""
    return urlsplit(url).path.lower().endswith(".xml.gz")


def read_sitemap(body: bytes, base: str) -> Sitemap | None:
    """The sitemap in ``body`` (gzipped or not, told by its bytes), its URLs resolved against
    ``base``; ``None`` when it is broken, cut short, or past the protocol's bounds."""
    parser = etree.XMLPullParser(
        events=("end",), resolve_entities=False, no_network=True, huge_tree=False
    )
    locs: list[str] = []
    elements = 0
    try:
        for piece in _inflated(body) if body.startswith(_GZIP_MAGIC) else (body,):
            parser.feed(piece)
            for _, event in parser.read_events():
                element = cast(etree._Element, event)  # "end" events: elements only
                elements += 1
                if elements > MAX_ELEMENTS:
                    raise _Unreadable("more elements than 50,000 URLs could need")
                tag = element.tag
                if (tag == "loc" or tag.endswith("}loc")) and len(locs) < MAX_URLS:
                    url = normalize_url((element.text or "").strip(), base)
                    if url is not None:
                        locs.append(url)
                _free(element)
        root = parser.close()
    except (etree.XMLSyntaxError, _Unreadable, zlib.error):
        return None
    return Sitemap(index=etree.QName(root).localname == "sitemapindex", locs=locs)


def _inflated(body: bytes) -> Iterator[bytes]:
    """The gzip members of ``body``, inflated a piece at a time, MAX_BYTES in all."""
    left = MAX_BYTES
    data = body
    while data:
        inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        while not inflate.eof:
            piece = inflate.decompress(data, min(_PIECE, left + 1))
            left -= len(piece)
            if left < 0:
                raise _Unreadable("inflates past the protocol's 50 MB")
            if piece:
                yield piece
            data = inflate.unconsumed_tail
            if not data and not piece and not inflate.eof:
                raise _Unreadable("cut short")
        # A file may hold several gzip members, one after the other.
        data = inflate.unused_data


def _free(element: etree._Element) -> None:
    """Drop what has been read: the element's contents and the siblings before it."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
