"""shoal: a multi-process async crawl-and-process engine.

Crawl a site politely at the speed of the machine, without losing work when something crashes::

    import shoal

    result = shoal.crawl("https://docs.example.org/guide/", output="pages.jsonl")
    print(result.stats.pages, "pages at", result.stats.pages_per_s, "pages/s")

Everything importable from ``shoal`` is the public API; plugin authors import from
``shoal.plugins.api``. Modules whose names start with an underscore are private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .engine._options import CrawlOptions
from .engine._stats import CrawlStats, Progress
from .engine.errors import (
    BadURLError,
    FetchError,
    ForbiddenAddressError,
    IPCError,
    NotConfigured,
    OutputError,
    PluginError,
    RedirectError,
    ResponseTooLargeError,
    RobotsDisallowedError,
    ShoalError,
    StateError,
    UsageError,
    WorkerCrashedError,
)

if TYPE_CHECKING:
    from .engine._api import CrawlResult, acrawl, crawl

__version__ = "0.1.0"

_LAZY = {"CrawlResult", "acrawl", "crawl"}


def __getattr__(name: str) -> Any:
    # The crawl API pulls in aiohttp and the whole engine; parse processes import `shoal`
    # too and need none of it, so it is loaded on first use.
    if name in _LAZY:
        from .engine import _api

        return getattr(_api, name)
    raise AttributeError(f"module 'shoal' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "BadURLError",
    "CrawlOptions",
    "CrawlResult",
    "CrawlStats",
    "FetchError",
    "ForbiddenAddressError",
    "IPCError",
    "NotConfigured",
    "OutputError",
    "PluginError",
    "Progress",
    "RedirectError",
    "ResponseTooLargeError",
    "RobotsDisallowedError",
    "ShoalError",
    "StateError",
    "UsageError",
    "WorkerCrashedError",
    "__version__",
    "acrawl",
    "crawl",
]
