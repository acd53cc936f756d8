"""The ``docs`` plugin: a documentation site as clean, faithful Markdown.

One record per page: ``url``, ``final_url``, ``status``, ``depth``, ``title``, ``markdown``
(the main content, without the site's navigation and chrome) and ``canonical`` (the page's
``rel=canonical`` URL, when it names one), plus ``error`` when the page failed. It follows
in-scope links and canonical URLs; whoever assembles the output keeps one page per canonical
URL (a page is never dropped here: canonical links can point in circles).

``shoal docs`` (engine/_cmd_docs.py) crawls with it and assembles the records into one merged
file, a directory of pages, JSON lines or ``llms.txt`` (``_assemble``); ``shoal crawl URL
--plugin docs`` gives the records themselves.
"""

from __future__ import annotations

from typing import Any

from ..api import Context, Page, Plugin, Response
from ._page import DocPage, parse_doc
from ._sitemap import is_gzipped_sitemap

__all__ = ["DocPage", "DocsPlugin", "parse_doc"]

_SITEMAP = {"sitemap": True}


class DocsPlugin(Plugin):
    name = "docs"
    parse = staticmethod(parse_doc)
    # Sitemaps too: they list pages no link may lead to.
    parse_types = frozenset({"text/html", "application/xhtml+xml", "application/xml", "text/xml"})

    def wants_parse(self, response: Response) -> bool:
        return super().wants_parse(response) or (
            200 <= response.status < 300 and is_gzipped_sitemap(response.final_url)
        )

    async def handle(self, page: Page, ctx: Context) -> None:
        if page.unchanged:  # --refresh: the record of the earlier fetch still stands
            ctx.emit({"url": page.url, "status": page.status, "unchanged": True})
            return
        parsed: DocPage | None = page.parsed
        if page.meta is not None and page.meta.get("sitemap"):
            # A sitemap lists pages no link may lead to. It is data, not a page of the
            # documentation: nothing is recorded, whether it was there or not.
            if parsed is not None:
                for link in parsed.links:
                    if ctx.in_scope(link):
                        ctx.enqueue(link, normalized=True)
                for sitemap in parsed.sitemaps:
                    ctx.enqueue(sitemap, normalized=True, meta=_SITEMAP, scope_exempt=True)
            return
        if page.depth == 0:
            # The sitemap in the start URL's directory, where MkDocs, Material, Docusaurus and
            # most generators put it, and those robots.txt names (anywhere: only the pages
            # they list are kept to the scope).
            ctx.enqueue("sitemap.xml", base=page.url, meta=_SITEMAP)
            for sitemap in await ctx.robots_sitemaps(page.url):
                ctx.enqueue(sitemap, normalized=True, meta=_SITEMAP, scope_exempt=True)
        if parsed is not None:
            for link in parsed.links:
                if ctx.in_scope(link):
                    ctx.enqueue(link, normalized=True)
            if parsed.canonical and ctx.in_scope(parsed.canonical):
                ctx.enqueue(parsed.canonical, normalized=True)
        record: dict[str, Any] = {
            "url": page.url,
            "final_url": page.final_url,
            "status": page.status,
            "depth": page.depth,
            "title": parsed.title if parsed is not None else None,
            "markdown": parsed.markdown if parsed is not None else "",
        }
        if parsed is not None and parsed.canonical:
            record["canonical"] = parsed.canonical
        if parsed is not None and page.depth == 0:
            # The start page's navigation gives the site's order (one copy is enough).
            record["nav"] = [u for u in parsed.nav if ctx.in_scope(u)]
        if page.error is not None:
            record["error"] = page.error
            if page.error_detail:
                record["error_detail"] = page.error_detail
        ctx.emit(record)
