"""The docs plugin's records assembled into what a reader or an LLM takes in.

Formats:

* ``md``: one Markdown file, the pages in the site's own order, after a table of contents;
  links between pages become links to the page's anchor in the file.
* ``dir``: one ``.md`` file per page, mirroring the site's paths under the start URL; links
  between pages become relative ``.md`` paths.
* ``jsonl``: one JSON object per page: ``url``, ``title``, ``markdown``.
* ``llms``: ``llms.txt`` (the site's title, then a list of its pages with links) and
  ``llms-full.txt`` (every page's Markdown, in order), as the llms.txt proposal describes.

Order: the site's navigation order where it has one (the start page's navigation, which for
the generators we know lists the whole site in order), then the pages it does not list by
URL path; never the order in which pages happened to be fetched. One page per canonical URL.
Links to other sites, and to pages not crawled, stay absolute.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import orjson

__all__ = ["FORMATS", "Doc", "assemble", "load_docs"]

FORMATS = ("md", "dir", "jsonl", "llms")
_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
_ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
_SLUG_DROP = re.compile(r"[^\w\- ]+")


@dataclass
class Doc:
    url: str
    title: str
    markdown: str
    nav: list[str] = field(default_factory=list)
    anchor: str = ""
    path: str = ""  # relative .md path in dir output
    #: Other URLs of the same page (the same Markdown: ``/`` and ``/index.html``).
    aliases: list[str] = field(default_factory=list)


def load_docs(records: Iterable[bytes]) -> list[Doc]:
    """The pages of a docs crawl's JSON lines, failed pages left out, one per canonical URL."""
    by_url: dict[str, Doc] = {}
    canonical_of: dict[str, str] = {}
    for line in records:
        if not line.strip():
            continue
        record = orjson.loads(line)
        if record.get("error") or not record.get("markdown"):
            continue
        url = str(record["url"])
        canonical = str(record.get("canonical") or url)
        canonical_of[url] = canonical
        doc = Doc(
            url=canonical,
            title=str(record.get("title") or url),
            markdown=str(record["markdown"]),
            nav=[str(u) for u in record.get("nav") or []],
        )
        # The page fetched at its canonical URL wins over copies reached elsewhere.
        if canonical not in by_url or url == canonical:
            by_url[canonical] = doc
    # A page reached by two URLs without a canonical link (a directory and its index.html)
    # is one page: the first URL keeps it, the others become its aliases.
    by_content: dict[str, Doc] = {}
    for doc in by_url.values():
        first = by_content.setdefault(doc.markdown, doc)
        if first is not doc:
            first.aliases.append(doc.url)
    return list(by_content.values())


def _order(docs: list[Doc], start_url: str) -> list[Doc]:
    by_url = _by_url(docs)
    start = by_url.get(start_url)
    navs = [d.nav for d in docs if d.nav]
    nav = start.nav if start is not None and start.nav else max(navs, key=len, default=[])
    ordered: list[Doc] = []
    placed: set[str] = set()
    if start is not None:
        ordered.append(start)
        placed.add(start.url)
    for url in nav:
        doc = by_url.get(url.partition("#")[0])
        if doc is not None and doc.url not in placed:
            ordered.append(doc)
            placed.add(doc.url)
    rest = sorted((d for d in docs if d.url not in placed), key=lambda d: _path_key(d.url))
    return ordered + rest


def _path_key(url: str) -> tuple[str, ...]:
    parts = urlsplit(url)
    return (*parts.path.split("/"), parts.query)


def _slug(title: str, used: set[str]) -> str:
    base = _SLUG_DROP.sub("", title.lower()).strip().replace(" ", "-") or "page"
    slug, n = base, 1
    while slug in used:
        n += 1
        slug = f"{base}-{n}"
    used.add(slug)
    return slug


def _rel_path(url: str, start_url: str) -> str:
    """``dir`` output's file for a page: its path under the start URL's directory, as .md."""
    root = urlsplit(start_url).path.rsplit("/", 1)[0] + "/"
    path = urlsplit(url).path
    rel = path[len(root) :] if path.startswith(root) else path.lstrip("/")
    if not rel or rel.endswith("/"):
        rel += "index"
    for suffix in (".html", ".htm"):
        rel = rel.removesuffix(suffix)
    query = urlsplit(url).query
    if query:
        rel += "-" + re.sub(r"[^\w-]+", "-", query)
    return rel + ".md"


def _by_url(docs: list[Doc]) -> dict[str, Doc]:
    """Every URL of every page, aliases included."""
    return {url: doc for doc in docs for url in (doc.url, *doc.aliases)}


def _targeted(docs: list[Doc]) -> dict[str, set[str]]:
    """page URL -> the fragments some link of the output points to."""
    pages = _by_url(docs)
    found: dict[str, set[str]] = {}
    for doc in docs:
        for m in _LINK.finditer(doc.markdown):
            url, _, fragment = m.group(2).partition("#")
            page = pages.get(url or doc.url)
            if fragment and page is not None:
                found.setdefault(page.url, set()).add(fragment)
    return found


def _keep_anchors(doc: Doc, targeted: set[str]) -> str:
    """The page's heading anchors that some link uses; the others are only noise."""

    def keep(m: re.Match[str]) -> str:
        return m.group(0) if m.group(1) in targeted else ""

    text = _ANCHOR.sub(keep, doc.markdown)
    return re.sub(r"\n{3,}", "\n\n", re.sub(r"(?m)^\n(?=\n)", "", text)).lstrip("\n")


def _rewrite(markdown: str, target: Callable[[str, str], str | None]) -> str:
    """Links rewritten by ``target(url, fragment)``; where it says None, left as they are."""

    def replace(m: re.Match[str]) -> str:
        url, _, fragment = m.group(2).partition("#")
        new = target(url, fragment)
        return m.group(0) if new is None else f"{m.group(1)}{new}{m.group(3)}"

    return _LINK.sub(replace, markdown)


def _relative(from_path: str, to_path: str) -> str:
    base = PurePosixPath(from_path).parent
    parts_from = [p for p in base.parts if p not in ("", ".")]
    parts_to = list(PurePosixPath(to_path).parts)
    common = 0
    while (
        common < min(len(parts_from), len(parts_to) - 1) and parts_from[common] == parts_to[common]
    ):
        common += 1
    return "/".join([".."] * (len(parts_from) - common) + parts_to[common:])


def assemble(docs: list[Doc], start_url: str, fmt: str, out: Path) -> list[Path]:
    """Write ``docs`` in format ``fmt`` to ``out`` (a file, or a directory for dir and
    llms); the files written."""
    ordered = _order(docs, start_url)
    used: set[str] = set()
    targeted = _targeted(ordered)
    for doc in ordered:
        doc.anchor = _slug(doc.title, used)
        doc.path = _rel_path(doc.url, start_url)
        doc.markdown = _keep_anchors(doc, targeted.get(doc.url, set()))
    site_title = ordered[0].title if ordered else start_url
    if fmt == "md":
        _write_if_changed(out, _merged(ordered, site_title))
        return [out]
    if fmt == "jsonl":
        with out.open("wb") as f:
            for doc in ordered:
                f.write(
                    orjson.dumps({"url": doc.url, "title": doc.title, "markdown": doc.markdown})
                )
                f.write(b"\n")
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "dir":
        written = []
        paths = {url: d.path for url, d in _by_url(ordered).items()}
        for doc in ordered:

            def relative(url: str, fragment: str, doc: Doc = doc) -> str | None:
                if url not in paths:
                    return None
                target = _relative(doc.path, paths[url])
                return f"{target}#{fragment}" if fragment else target

            path = out / doc.path
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_if_changed(path, _rewrite(doc.markdown, relative))
            written.append(path)
        return written
    if fmt == "llms":
        index = out / "llms.txt"
        full = out / "llms-full.txt"
        _write_if_changed(index, _llms_index(ordered, site_title))
        _write_if_changed(full, _merged(ordered, site_title))
        return [index, full]
    raise ValueError(f"unknown format {fmt!r}")


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless the file holds it already: a refresh touches only what changed
    (and a tool watching the files sees only those)."""
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    path.write_bytes(data)


def _merged(ordered: list[Doc], site_title: str) -> str:
    # One file: each page's heading anchors get its anchor as a prefix, so they stay unique.
    pages = _by_url(ordered)
    slugs = {url: d.anchor for url, d in pages.items()}
    kept = {url: set(_ANCHOR.findall(d.markdown)) for url, d in pages.items()}

    def anchor(url: str, fragment: str) -> str | None:
        if url not in slugs:
            return None
        if fragment in kept[url]:
            return f"#{slugs[url]}-{fragment}"
        return f"#{slugs[url]}"

    parts = [f"# {site_title}", "## Contents", "\n".join(_toc(ordered))]
    for doc in ordered:
        prefix = f'<a id="{doc.anchor}-'
        body = doc.markdown.replace('<a id="', prefix)
        parts.append(f'<a id="{doc.anchor}"></a>\n\n{_rewrite(body, anchor).strip()}')
    return "\n\n".join(parts) + "\n"


def _toc(ordered: list[Doc]) -> Iterator[str]:
    for doc in ordered:
        yield f"- [{doc.title}](#{doc.anchor})"


def _llms_index(ordered: list[Doc], site_title: str) -> str:
    lines = [f"# {site_title}", "", "## Pages", ""]
    for doc in ordered:
        first = next((p for p in doc.markdown.split("\n\n") if p and p[0].isalnum()), "")
        summary = first.split(". ")[0][:160].rstrip(".")
        lines.append(f"- [{doc.title}]({doc.url})" + (f": {summary}" if summary else ""))
    return "\n".join(lines) + "\n"
