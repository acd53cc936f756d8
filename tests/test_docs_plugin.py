"""The docs plugin end to end: a small site on loopback, crawled with ``--plugin docs``."""

from __future__ import annotations

import functools
import gzip
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from conftest import Completed, allow, read_jsonl, run_shoal, serve

_CHROME = (
    '<header class="site-header">SITE-HEADER</header>'
    '<nav class="sidebar"><a href="/docs/">Home</a> <a href="/docs/a.html">Page A</a> '
    '<a href="/docs/a-copy.html">A again</a> NAV-TEXT</nav>'
)
_FOOTER = "<footer>FOOTER-TEXT</footer>"
_PAGES = {
    "/docs/": "<h1>Welcome</h1><p>Start at <a href='a.html'>page A</a>.</p>",
    "/docs/a.html": (
        "<h1>Page A</h1><p>Some <em>text</em>.</p>"
        '<div class="highlight-python"><div class="highlight"><pre>print("hi")</pre></div></div>'
    ),
    "/docs/a-copy.html": "<h1>Page A</h1><p>Some <em>text</em>.</p>",
}


async def _page(request: web.Request) -> web.Response:
    body = _PAGES.get(request.path)
    if body is None:
        raise web.HTTPNotFound()
    canonical = (
        '<link rel="canonical" href="/docs/a.html">' if request.path.endswith("copy.html") else ""
    )
    html = (
        f"<html><head><title>{request.path} - Site</title>{canonical}</head><body>{_CHROME}"
        f'<div class="document"><div class="body" role="main">{body}</div></div>{_FOOTER}'
        "</body></html>"
    )
    return web.Response(text=html, content_type="text/html")


@pytest.fixture
async def site() -> AsyncIterator[str]:
    async with serve(_page) as base:
        yield base + "/docs/"


async def test_pages_become_markdown_without_chrome(site: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    done = await run_shoal("crawl", site, "--plugin", "docs", "-o", str(out), *allow(site))
    assert done.returncode == 0, done.stderr
    records = {str(r["url"]).removeprefix(site[: -len("/docs/")]): r for r in read_jsonl(out)}
    assert set(records) == set(_PAGES)
    page_a = records["/docs/a.html"]
    assert page_a["title"] == "Page A"
    assert page_a["markdown"] == '# Page A\n\nSome *text*.\n\n```python\nprint("hi")\n```\n'
    for record in records.values():
        for chrome in ("SITE-HEADER", "NAV-TEXT", "FOOTER-TEXT"):
            assert chrome not in str(record["markdown"])
    # The copy names its canonical page, so whoever assembles the output keeps one of them.
    assert records["/docs/a-copy.html"]["canonical"] == site + "a.html"
    assert "canonical" not in records["/docs/"]


async def test_shoal_docs_writes_every_format(site: str, tmp_path: Path) -> None:
    outputs = {
        "md": tmp_path / "site.md",
        "jsonl": tmp_path / "pages.jsonl",
        "dir": tmp_path / "pages",
        "llms": tmp_path / "llms",
    }
    for fmt, out in outputs.items():
        done = await run_shoal("docs", site, "-o", str(out), "--format", fmt, *allow(site))
        assert done.returncode == 0, done.stderr
        assert f"shoal docs: 2 pages -> {out}" in done.stdout.decode()

    merged = outputs["md"].read_text()
    # A table of contents in the site's navigation order; the canonical copy appears once.
    assert merged.startswith(
        "# Welcome\n\n## Contents\n\n- [Welcome](#welcome)\n- [Page A](#page-a)\n"
    )
    assert merged.count("Some *text*.") == 1
    # The link between pages points into the file.
    assert "Start at [page A](#page-a)." in merged
    assert "NAV-TEXT" not in merged and "FOOTER-TEXT" not in merged

    lines = read_jsonl(outputs["jsonl"])
    assert [r["title"] for r in lines] == ["Welcome", "Page A"]

    assert sorted(p.name for p in outputs["dir"].iterdir()) == ["a.md", "index.md"]
    assert "Start at [page A](a.md)." in (outputs["dir"] / "index.md").read_text()

    index = (outputs["llms"] / "llms.txt").read_text()
    assert index.startswith("# Welcome\n") and f"- [Page A]({site}a.html)" in index
    assert (outputs["llms"] / "llms-full.txt").read_text() == merged


async def test_shoal_docs_usage_mistakes_are_one_line(site: str, tmp_path: Path) -> None:
    done = await run_shoal("docs", site, "-o", str(tmp_path / "out.txt"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"shoal: error: say --format for {tmp_path / 'out.txt'} (md, dir, jsonl or llms)"
    ]


async def test_shoal_docs_checks_its_output_before_crawling(site: str, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "site.md"
    done = await run_shoal("docs", site, "-o", str(out), *allow(site))
    assert done.returncode == 2
    assert "does not exist" in done.stderr and done.stderr.count("\n") == 1


async def test_a_second_run_refetches_conditionally_and_rewrites_only_what_changed(
    tmp_path: Path,
) -> None:
    pages = dict(_PAGES)
    conditional: list[tuple[str, int]] = []  # (path, status) of requests with If-None-Match

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path not in pages:
            raise web.HTTPNotFound()
        body = f"<html><head><title>t</title></head><body><main>{pages[request.path]}</main>"
        etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
        if request.headers.get("If-None-Match"):
            status = 304 if request.headers["If-None-Match"] == etag else 200
            conditional.append((request.path, status))
            if status == 304:
                return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=body, content_type="text/html", headers={"ETag": etag})

    async with serve(handle) as base:
        url = base + "/docs/"
        out, state = tmp_path / "out", tmp_path / "docs.sqlite"
        args = ("docs", url, "-o", str(out), "--format", "dir", "--state", str(state), *allow(url))
        first = await run_shoal(*args)
        assert first.returncode == 0, first.stderr
        index_mtime = (out / "index.md").stat().st_mtime_ns
        pages["/docs/a.html"] = "<h1>Page A</h1><p>Some <em>new</em> text.</p>"
        second = await run_shoal(*args)
    assert second.returncode == 0, second.stderr
    assert f"shoal docs: 2 pages, 1 changed -> {out}" in second.stdout.decode()
    assert "unchanged: 1" in second.stderr  # the index: a 304
    # Every page was asked for conditionally; only the changed one came back whole.
    assert sorted(conditional) == [("/docs/", 304), ("/docs/a.html", 200)]
    assert "Some *new* text." in (out / "a.md").read_text()
    assert (out / "index.md").stat().st_mtime_ns == index_mtime  # not rewritten


async def test_pages_only_in_the_sitemap_are_found(tmp_path: Path) -> None:
    async def handle(request: web.Request) -> web.Response:
        base = f"http://{request.host}/docs/"
        if request.path == "/docs/":
            return web.Response(
                text="<main><h1>Home</h1><p>No links.</p></main>", content_type="text/html"
            )
        if request.path == "/docs/sitemap.xml":
            body = (
                '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<url><loc>{base}</loc></url><url><loc>{base}orphan.html</loc></url>"
                "<url><loc>http://elsewhere.test/out-of-scope.html</loc></url></urlset>"
            )
            return web.Response(text=body, content_type="application/xml")
        if request.path == "/docs/orphan.html":
            return web.Response(
                text="<main><h1>Orphan</h1><p>Only the sitemap knows me.</p></main>",
                content_type="text/html",
            )
        raise web.HTTPNotFound()

    async with serve(handle) as base:
        url = base + "/docs/"
        done = await run_shoal("docs", url, "-o", str(tmp_path / "site.md"), *allow(url))
    assert done.returncode == 0, done.stderr
    merged = (tmp_path / "site.md").read_text()
    assert "Only the sitemap knows me." in merged
    assert "shoal docs: 2 pages" in done.stdout.decode()  # the sitemap itself is not a page
    # The crawl's summary names no records file: shoal docs' own one was an intermediate.
    assert "complete:" in done.stderr and "output:" not in done.stderr


_Routes = Callable[[str], dict[str, tuple[str | bytes, str]]]


async def _docs_of(tmp_path: Path, routes: _Routes) -> tuple[Completed, str, list[str]]:
    """`shoal docs` of /docs/ on a site whose paths ``routes(root)`` gives (body, media
    type); its result, the merged Markdown and the paths the site was asked for."""
    requested: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        requested.append(request.path)
        found = routes(f"http://{request.host}").get(request.path)
        if found is None:
            raise web.HTTPNotFound()
        body, kind = found
        return web.Response(body=body.encode() if isinstance(body, str) else body,
                            content_type=kind)  # fmt: skip

    async with serve(handle) as base:
        url = base + "/docs/"
        done = await run_shoal("docs", url, "-o", str(tmp_path / "site.md"), *allow(url))
    assert done.returncode == 0, done.stderr
    return done, (tmp_path / "site.md").read_text(), requested


async def test_sitemaps_that_robots_txt_names_are_followed(tmp_path: Path) -> None:
    """robots.txt names a sitemap index outside the docs' directory; its sitemaps list pages in
    and out of scope. Only the in-scope pages are fetched; a broken sitemap is not a page."""

    def routes(root: str) -> dict[str, tuple[str | bytes, str]]:
        xml = "application/xml"
        return {
            "/robots.txt": (f"User-agent: *\nDisallow: /private/\nSitemap: {root}/maps/index.xml"
                            f"\nSitemap: {root}/maps/broken.xml\n", "text/plain"),
            "/maps/index.xml": ('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/'
                                f'schemas/sitemap/0.9"><sitemap><loc>{root}/maps/docs.xml</loc>'
                                "</sitemap></sitemapindex>", xml),
            "/maps/docs.xml": ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas'
                               f'/sitemap/0.9"><url><loc>{root}/docs/hidden.html</loc></url>'
                               f"<url><loc>{root}/blog/post.html</loc></url></urlset>", xml),
            "/maps/broken.xml": ("<urlset><url><loc>", xml),
            "/docs/": ("<main><h1>Home</h1><p>No links.</p></main>", "text/html"),
            "/docs/hidden.html": ("<main><h1>Hidden</h1><p>Only robots.txt leads here.</p></main>",
                                  "text/html"),
            "/blog/post.html": ("<main><h1>Blog</h1></main>", "text/html"),
        }  # fmt: skip

    done, text, requested = await _docs_of(tmp_path, routes)
    assert "Only robots.txt leads here." in text
    assert "shoal docs: 2 pages" in done.stdout.decode()
    assert {"/maps/index.xml", "/maps/docs.xml", "/maps/broken.xml"} <= set(requested)
    assert "/blog/post.html" not in requested  # listed, but outside the docs' directory


async def test_gzipped_sitemaps_are_read_and_a_sitemap_bomb_is_not(tmp_path: Path) -> None:
    """sitemap.xml.gz as servers send it (a gzip file, no Content-Encoding) lists a page no
    link leads to; one that inflates past the protocol's 50 MB is dropped, and nothing else."""
    urlset = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>{root}/docs/{page}</loc></url></urlset>"
    )

    @functools.cache
    def bomb(root: str) -> bytes:
        # Padding lxml would parse (no text node over its 10 MB limit): 54 MB in all.
        xml = urlset.format(root=root, page="bombed.html").encode()
        pad = b"<pad>" + b" " * (9 << 20) + b"</pad>"
        return gzip.compress(xml[:-9] + pad * 6 + xml[-9:], compresslevel=1)

    def routes(root: str) -> dict[str, tuple[str | bytes, str]]:
        maps = "".join(f"Sitemap: {root}/maps/{m}.xml.gz\n" for m in ("docs", "bomb"))
        return {
            "/robots.txt": (f"User-agent: *\nAllow: /\n{maps}", "text/plain"),
            "/maps/docs.xml.gz": (gzip.compress(urlset.format(root=root, page="zipped.html")
                                                .encode()), "application/x-gzip"),
            "/maps/bomb.xml.gz": (bomb(root), "application/octet-stream"),
            "/docs/": ("<main><h1>Home</h1><p>No links.</p></main>", "text/html"),
            "/docs/zipped.html": ("<main><h1>Zipped</h1><p>Only the .xml.gz leads here.</p></main>",
                                  "text/html"),
            "/docs/bombed.html": ("<main><h1>Bombed</h1></main>", "text/html"),
        }  # fmt: skip

    done, text, requested = await _docs_of(tmp_path, routes)
    assert "Only the .xml.gz leads here." in text and "Bombed" not in text
    assert "shoal docs: 2 pages" in done.stdout.decode()
    # Both were fetched: the bomb was read and refused, not missed.
    assert {"/maps/docs.xml.gz", "/maps/bomb.xml.gz"} <= set(requested)
