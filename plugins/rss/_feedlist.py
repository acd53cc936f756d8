"""The feeds to read: an OPML file (``outline`` elements with ``xmlUrl``, nested or not) or a
text file of feed URLs (one per line, first word; blank lines and ``#`` comments ignored)."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from ...engine._urls import validate_start_url
from ...engine.errors import BadURLError, UsageError

__all__ = ["read_feed_list"]

_XML = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)


def read_feed_list(path: str | Path) -> list[str]:
    """The feed URLs, normalised, each once, in the file's order. A mistake is a UsageError
    that names the file and line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the feed list {path}: {exc.strerror or exc}") from exc
    urls = _opml(path, data) if data.lstrip().startswith(b"<") else _lines(path, data)
    if not urls:
        raise UsageError(f"{path}: no feed URLs in it")
    return list(dict.fromkeys(urls))


def _opml(path: Path, data: bytes) -> list[str]:
    root = etree.fromstring(data, parser=_XML)
    if root is None or etree.QName(root).localname.lower() != "opml":
        raise UsageError(f"{path}: neither OPML nor a list of URLs")
    urls = []
    for outline in root.iter("{*}outline", "outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url:
            line = outline.sourceline
            urls.append(_valid(path, url, line if isinstance(line, int) else None))
    return urls


def _lines(path: Path, data: bytes) -> list[str]:
    urls = []
    text = data.decode("utf-8", "replace").removeprefix("\ufeff")
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if words and not words[0].startswith("#"):
            # A URL has no spaces: anything after it (a title, a "# comment") is not ours.
            urls.append(_valid(path, words[0], number))
    return urls


def _valid(path: Path, url: str, line: int | None) -> str:
    try:
        return validate_start_url(url)
    except BadURLError as exc:
        where = f"{path}:{line}" if line else str(path)
        raise UsageError(f"{where}: {exc}") from exc
