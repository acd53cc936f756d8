"""The built-in ``links`` plugin: what ``shoal crawl`` runs.

It follows every in-scope link and writes one record per fetched page: ``url``, ``final_url``,
``status``, ``depth``, ``title``, ``links`` (in-scope links found), ``bytes``, ``fetched_at``,
``elapsed_ms`` and ``error`` when the page failed.
"""

from __future__ import annotations

from typing import Any

from ..api import Context, Page, Plugin
from ._parse import PageLinks, parse_links

__all__ = ["LinksPlugin", "PageLinks", "parse_links"]


class LinksPlugin(Plugin):
    name = "links"
    parse = staticmethod(parse_links)

    async def handle(self, page: Page, ctx: Context) -> None:
        parsed: PageLinks | None = page.parsed
        in_scope = 0
        if parsed is not None:
            for link in parsed.links:  # normalised in parse, off the event loop
                if ctx.in_scope(link):
                    in_scope += 1
                    ctx.enqueue(link, normalized=True)
        record: dict[str, Any] = {
            "url": page.url,
            "final_url": page.final_url,
            "status": page.status,
            "depth": page.depth,
            "title": parsed.title if parsed is not None else None,
            "links": in_scope,
            "bytes": len(page.response.body) if page.response is not None else 0,
            "fetched_at": page.fetched_at,
            "elapsed_ms": round(page.elapsed_ms, 1),
        }
        if page.unchanged:  # --refresh: as at the last fetch, so not parsed again
            record["unchanged"] = True
        if page.error is not None:
            record["error"] = page.error
            if page.error_detail:
                record["error_detail"] = page.error_detail
        ctx.emit(record)
