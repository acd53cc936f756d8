"""The contract between the engine and a plugin: what a plugin author imports.

A plugin does the domain work of a crawl in two halves:

* ``parse(response) -> Struct | None``, a **top-level function** that runs in a worker's process
  pool. It must be pure and picklable: bytes in, a ``msgspec.Struct`` out, no I/O, no globals
  that change. This is where CPU-heavy work (lxml) belongs.
* ``async handle(page, ctx)``, a method that runs on the worker's event loop with the parsed
  result. It must not block (no CPU-heavy work, no blocking I/O); it emits records with
  ``ctx.emit(...)`` and follows links with ``ctx.enqueue(...)``.

Example::

    import msgspec
    from shoal.plugins.api import Context, Page, Plugin, Response

    class Words(msgspec.Struct):
        count: int

    def count_words(response: Response) -> Words:
        return Words(len(response.body.split()))

    class WordCount(Plugin):
        name = "wordcount"
        parse = staticmethod(count_words)

        async def handle(self, page: Page, ctx: Context) -> None:
            if page.parsed is not None:
                ctx.emit({"url": page.url, "words": page.parsed.count})

Register it under the entry-point group ``shoal.plugins`` (``wordcount = mypkg:WordCount``) and
run ``shoal crawl --plugin wordcount URL``; see docs/plugins.md.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import msgspec

from ..engine._charset import decode_html
from ..engine._urls import normalize_url
from ..engine.errors import NotConfigured

__all__ = ["Context", "NotConfigured", "Page", "Plugin", "Response", "Seed", "normalize_url"]


class Response(msgspec.Struct, frozen=True):
    """A fetched response, as ``parse`` receives it in the process pool.

    ``headers`` has lower-case names. ``content_type`` is the media type alone, lower-cased
    (``"text/html"``); ``charset`` is the header's charset parameter, if any.
    """

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    content_type: str = ""
    charset: str | None = None

    def text(self) -> str:
        """The body as text, decoded as browsers do: a byte order mark, else the header's
        charset, else a ``<meta>`` charset, else UTF-8 if it decodes, else windows-1252.
        Parse HTML from this, not from ``body``: lxml given bytes guesses by itself."""
        return decode_html(self.body, self.charset)


class Seed(msgspec.Struct, frozen=True):
    """A start request: a URL and the ``meta`` its :class:`Page` will carry.

    ``etag`` and ``last_modified``, the validators of an earlier fetch the plugin kept, make the
    request conditional (If-None-Match, If-Modified-Since): a 304 reaches ``handle`` as a page
    with ``unchanged`` set.
    """

    url: str
    meta: dict[str, Any] | None = None
    etag: str | None = None
    last_modified: str | None = None


class Page(msgspec.Struct):
    """One finished request, as ``handle`` receives it on the worker's event loop.

    ``error`` is a short kind (``"timeout"``, ``"connect"``, ``"too_large"``, ``"http"`` …) when the
    request failed for good; ``response`` is then possibly ``None``. ``parsed`` is what ``parse``
    returned, or ``None`` when the response was not handed to ``parse``.
    """

    url: str
    depth: int
    response: Response | None
    parsed: Any = None
    error: str | None = None
    error_detail: str | None = None
    elapsed_ms: float = 0.0
    fetched_at: str = ""
    meta: dict[str, Any] | None = None
    #: With ``--refresh``: the page is as it was at the last fetch (a 304, or the same body);
    #: it was not parsed, and ``response`` has no body.
    unchanged: bool = False

    @property
    def status(self) -> int:
        return self.response.status if self.response is not None else 0

    @property
    def final_url(self) -> str:
        return self.response.final_url if self.response is not None else self.url


class Context(abc.ABC):
    """What ``handle`` may do. Provided by the engine; plugins never construct one."""

    options: Mapping[str, Any]

    @abc.abstractmethod
    def emit(self, item: Any) -> None:
        """Write one record to the crawl's output (a dict or a ``msgspec.Struct``).

        Records are committed together with the page that produced them: after a crash, a page
        and its records are either both in the output or both fetched again.
        """

    @abc.abstractmethod
    def enqueue(
        self,
        url: str,
        *,
        base: str | None = None,
        meta: dict[str, Any] | None = None,
        normalized: bool = False,
        scope_exempt: bool = False,
    ) -> bool:
        """Follow ``url`` (resolved against ``base``) one level deeper than the current page.

        Returns ``False`` when the URL is not followed: not http(s), out of scope, or past
        ``--max-depth``. Whether it was seen before is decided later by the supervisor.
        Pass ``normalized=True`` for URLs that ``parse`` already put through
        :func:`normalize_url`, so the event loop does not do that work twice.
        ``scope_exempt=True`` follows it even outside the crawl's scope: for what a page names
        as data rather than as a page of the site (a sitemap, a feed's articles). robots.txt,
        the SSRF rule, ``--ports`` and ``--max-depth`` still apply.
        """

    @abc.abstractmethod
    async def robots_sitemaps(self, url: str) -> list[str]:
        """The absolute ``Sitemap`` URLs that the robots.txt of ``url``'s origin lists (none
        with ``--ignore-robots`` or when it has no robots.txt). Waits for the robots.txt if the
        crawl has not fetched it yet."""

    @abc.abstractmethod
    def in_scope(self, url: str) -> bool:
        """Whether a normalised URL is inside the crawl's scope."""


class Plugin(abc.ABC):
    """Base class of every plugin.

    ``__init__(options)`` receives the plugin options; raise :class:`NotConfigured` to decline
    with a one-line reason. One instance lives in each worker process.
    """

    #: Short name, used on the command line and in logs.
    name: ClassVar[str] = ""
    #: The top-level parse function run in the process pool; ``None`` means "do not parse".
    parse: ClassVar[Callable[..., Any] | None] = None
    #: Media types handed to ``parse``; other responses reach ``handle`` with ``parsed=None``.
    parse_types: ClassVar[frozenset[str]] = frozenset({"text/html", "application/xhtml+xml"})

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: Mapping[str, Any] = dict(options or {})

    def start_requests(self, urls: Sequence[str]) -> Iterable[str | Seed]:
        """The crawl's start requests, from the URLs the user gave. Runs in the supervisor,
        once per run (on ``--resume`` too: seeds already seen are skipped). The default scope
        follows from them. By default: the given URLs, as they are."""
        return urls

    def wants_parse(self, response: Response) -> bool:
        """Whether ``response`` goes to ``parse``: by default a 2xx of one of ``parse_types``."""
        return (
            type(self).parse is not None
            and 200 <= response.status < 300
            and response.content_type in self.parse_types
        )

    @abc.abstractmethod
    async def handle(self, page: Page, ctx: Context) -> None:
        """Act on one finished page: emit records, enqueue links. Must not block the loop."""
