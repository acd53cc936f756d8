"""Crawler traps: links that look like new pages forever.

An infinite calendar (``/cal/2031/07/``, next month, next month...), a path that repeats
(``/a/b/a/b/a/b/``, from a relative link on a page served at every depth), a search form
whose every filter is a new URL, a URL that grows each time it is followed: each is an
endless supply of "new" pages. Two kinds of defence, each with a limit and a flag:

* per link, in the worker, without state: a cap on URL length and on how often one path
  segment may repeat (:func:`trap_reason`);
* per crawl, in the state, counted: a cap on pages per host and on pages per path pattern,
  the path with every run of digits made ``0`` plus ``?`` when it has a query
  (:func:`pattern_key`): ``/cal/2031/07/`` and ``/cal/1999/12/`` are one pattern, as are
  all the queries of ``/search``. A link over a cap is remembered as seen and not fetched.

Session ids in URLs, the other classic trap, are dropped by the URL normalisation itself
(``engine/_urls.py``). Every link not followed is counted by reason in the crawl's summary.
"""

from __future__ import annotations

import collections
import functools
import re

__all__ = ["pattern_key", "trap_reason"]

_DIGITS = re.compile(r"[0-9]+")


def trap_reason(url: str, max_length: int, max_repeats: int) -> str | None:
    """Why a normalised URL is not followed (``"url_too_long"``, ``"path_repeats"``), or None.

    A limit of 0 turns its check off.
    """
    if max_length and len(url) > max_length:
        return "url_too_long"
    if max_repeats and _repeats(url) > max_repeats:
        return "path_repeats"
    return None


def _repeats(url: str) -> int:
    """How often the most frequent non-empty path segment occurs."""
    start = url.find("/", url.find("://") + 3)
    if start < 0:
        return 0
    path = url[start:].partition("?")[0]
    if path.count("/") <= 2:  # fewer than three segments cannot repeat past any sane limit
        return 1
    counts = collections.Counter(segment for segment in path.split("/") if segment)
    return max(counts.values(), default=0)


@functools.lru_cache(maxsize=4096)
def pattern_key(url: str) -> str:
    """``host/path-with-digits-as-0[?]`` of a normalised URL: what a trap varies, collapsed."""
    rest = url[url.find("://") + 3 :]
    slash = rest.find("/")
    host, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    path, has_query, _ = path.partition("?")
    return host + _DIGITS.sub("0", path) + ("?" if has_query else "")
