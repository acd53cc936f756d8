"""shoal: a multi-process async crawl-and-process engine.

Crawl a site politely at the speed of the machine, without losing work when something crashes::

    import shoal

    result = shoal.crawl("https://docs.example.org/guide/", output="pages.jsonl")
    print(result.stats.pages, "pages at", result.stats.pages_per_s, "pages/s")

Everything importable from ``shoal`` is the public API; plugin authors import from
``shoal.plugins.api``. Modules whose names start with an underscore are private.
"""

from __future__ import annotations

from .engine._api import CrawlResult, acrawl, crawl
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

__version__ = "0.1.0"

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
