"""A deterministic synthetic documentation site, served by aiohttp on loopback addresses only.

Used in-process by the tests, and as a subprocess by ``make demo`` and the benchmarks::

    python tests/testsite.py --pages 500 --host 127.0.0.1 --port 0

prints one JSON line ``{"urls": [...], "pid": ...}`` once serving, and serves until SIGTERM.

Layout of each host: ``/docs/`` is page 0, ``/docs/p/{i}.html`` pages 1..N-1, ``/docs/private/``
pages that robots.txt disallows, ``/docs/fault/*`` fault endpoints (linked only with
``faults=True``), ``/other/*`` out-of-scope pages that exist but must not be crawled.
Every page is reachable from the index (page i links to 2i+1 and 2i+2, or to i+1 for the
``chain`` shape), plus random extra links written in every form a crawler must handle.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ipaddress
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = ["FAULTS", "LogRecord", "SiteServer", "SiteSpec", "serve_in_subprocess", "summarize"]

#: Fault endpoints under ``{prefix}fault/``, each linked from the index when ``faults=True``.
FAULTS = ("503-then-ok", "429", "redirect-loop", "redirect", "big", "slow", "notfound", "binary")

_LOREM = [
    "shoal",
    "crawls",
    "documentation",
    "sites",
    "politely",
    "and",
    "fast",
    "while",
    "keeping",
    "every",
    "page",
    "exactly",
    "once",
    "the",
    "supervisor",
    "owns",
    "the",
    "frontier",
    "workers",
    "fetch",
    "and",
    "parse",
    "in",
    "parallel",
    "processes",
]


_POOL_SIZE = 256
_CODE_AND_TABLE = (
    '<pre><code class="language-python">import shoal\nshoal.crawl(url)</code></pre>'
    "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
)


@dataclass
class SiteSpec:
    seed: int = 1
    pages: int = 100  # per host: the index (page 0) plus pages 1..pages-1
    links_per_page: tuple[int, int] = (10, 25)
    page_bytes: tuple[int, int] = (8_000, 30_000)
    prefix: str = "/docs/"
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    private_pages: int = 3
    out_of_scope_links: bool = True
    crawl_delay: float | None = None
    sitemap: bool = True
    faults: bool = False
    #: When set, the index links to ``{prefix}away``, which redirects (302) to this URL.
    redirect_away: str | None = None
    shape: str = "tree"  # or "chain"
    robots: str | None = None  # None: the default robots.txt below
    robots_failures: int = 0  # the first N robots.txt requests of each host get a 503
    robots_redirects: int = 0  # /robots.txt redirects N times (/robots-1.txt, ...) to its text
    cache_pages: int = 2048  # rendered pages kept per host (the benchmarks keep them all)

    def page_path(self, i: int) -> str:
        return self.prefix if i == 0 else f"{self.prefix}p/{i}.html"

    def expected_paths(self) -> set[str]:
        """Paths a correct crawler of the prefix fetches, each exactly once (HTML, allowed)."""
        paths = {self.page_path(i) for i in range(self.pages)}
        if self.redirect_away:
            paths.add(f"{self.prefix}away")
        if self.faults:
            paths |= {f"{self.prefix}fault/{name}" for name in FAULTS}
        return paths

    def robots_txt(self) -> str:
        if self.robots is not None:
            return self.robots
        lines = ["User-agent: *", f"Disallow: {self.prefix}private/"]
        if self.crawl_delay is not None:
            lines.append(f"Crawl-delay: {self.crawl_delay:g}")
        if self.sitemap:
            lines.append("Sitemap: /sitemap.xml")
        return "\n".join(lines) + "\n"


@dataclass
class LogRecord:
    host: str
    path: str
    query: str
    method: str
    status: int
    start: float
    end: float


@dataclass
class _HostState:
    in_flight: int = 0
    max_in_flight: int = 0


class _Site:
    """The pages of one host."""

    def __init__(self, spec: SiteSpec, index: int) -> None:
        self.spec = spec
        self.index = index
        # Pages draw their prose from a pool made once per host, so that serving a page costs
        # tens of microseconds: the benchmarks need a server far faster than any crawler.
        rng = random.Random(spec.seed * 7_919 + index)
        self.paragraphs = [
            "<p>" + " ".join(rng.choice(_LOREM) for _ in range(rng.randint(40, 80))) + "</p>"
            for _ in range(_POOL_SIZE)
        ]
        self._cache: collections.OrderedDict[tuple[int, str], bytes] = collections.OrderedDict()

    def children(self, i: int) -> list[int]:
        n = self.spec.pages
        if self.spec.shape == "chain":
            return [i + 1] if i + 1 < n else []
        return [c for c in (2 * i + 1, 2 * i + 2) if c < n]

    def page(self, i: int, base: str) -> bytes:
        key = (i, base)
        body = self._cache.get(key)
        if body is None:
            body = self._cache[key] = self._render(i, base)
            if len(self._cache) > self.spec.cache_pages:
                self._cache.popitem(last=False)
        return body

    def _render(self, i: int, base: str) -> bytes:
        spec = self.spec
        rng = random.Random(spec.seed * 1_000_003 + self.index * 10_007 + i)
        links: list[str] = []
        me = spec.page_path(i)
        for c in self.children(i):
            links.append(_relative(me, spec.page_path(c), rng, base))
        if spec.shape == "tree":
            for _ in range(rng.randint(*spec.links_per_page) - len(links)):
                target = spec.page_path(rng.randrange(spec.pages))
                links.append(_relative(me, target, rng, base))
            if spec.private_pages and i % 7 == 3:
                links.append(f"{spec.prefix}private/{i % spec.private_pages}.html")
            if spec.out_of_scope_links and i % 5 == 1:
                links += [
                    f"/other/{i}.html",
                    f"http://127.0.0.99:9/docs/{i}.html",
                    "mailto:docs@example.org",
                    "javascript:void(0)",
                ]
        if spec.redirect_away and i == 0:
            links.append(f"{spec.prefix}away")
        if spec.faults and i == 0:
            links += [f"{spec.prefix}fault/{name}" for name in FAULTS]
        head = f"<title>Page {i}</title>"
        # One page in a tree site uses <base href>: its relative links only resolve correctly
        # when the base is honoured.
        body_links = links
        if spec.shape == "tree" and i == 1 and spec.pages > 4:
            head += f'<base href="{spec.prefix}p/sub/">'
            body_links = [f"../{c}.html" for c in (3, 4)] + [
                link for link in links if link.startswith(("/", "http"))
            ]
        nav = "".join(
            f'<li><a href="{href}">link {n}</a></li>' for n, href in enumerate(body_links)
        )
        size = rng.randint(*spec.page_bytes)
        pool = self.paragraphs
        parts: list[str] = []
        total = 0
        while total < size:
            text = pool[rng.randrange(len(pool))]
            parts.append(text)
            total += len(text)
            if len(parts) % 6 == 0:
                parts.append(f'<h2 id="s{len(parts)}">Section {len(parts)}</h2>')
            if len(parts) % 9 == 0:
                parts.append(_CODE_AND_TABLE)
        html = (
            f'<!doctype html><html><head><meta charset="utf-8">{head}</head><body>'
            f"<nav><ul>{nav}</ul></nav><main><h1>Page {i}</h1>{''.join(parts)}</main>"
            "<footer>footer</footer></body></html>"
        )
        return html.encode()

    def page_number(self, path: str) -> int | None:
        spec = self.spec
        if path == spec.prefix:
            return 0
        if path.startswith(spec.prefix + "p/") and path.endswith(".html"):
            try:
                i = int(path[len(spec.prefix) + 2 : -5])
            except ValueError:
                return None
            return i if 0 < i < spec.pages else None
        return None


def _relative(me: str, target: str, rng: random.Random, base: str) -> str:
    """Write the link to ``target`` in one of many equivalent forms."""
    form = rng.randrange(7)
    if form == 0 and target.rsplit("/", 1)[0] == me.rsplit("/", 1)[0] and target != me:
        return target.rsplit("/", 1)[1] or "./"
    if form == 1:
        return "HTTP://" + base[len("http://") :].upper() + target
    if form == 2:
        return target + "#section-" + str(rng.randrange(5))
    if form == 3:
        return target + "?utm_source=newsletter&utm_medium=email"
    if form == 4 and "/p/" in me and "/p/" in target:
        return "../p/" + target.rsplit("/", 1)[1]
    if form == 5:
        return base + target
    return target


class LoopbackApps:
    """aiohttp apps on loopback addresses, each answering every method and path with one
    handler, closed together: what the test sites (this one, the feed site, the docs fixtures'
    server) have in common. A subclass starts its apps in ``__aenter__`` with :meth:`_serve`
    and calls :meth:`aclose` if one fails."""

    _runners: list[web.AppRunner]

    async def _serve(
        self,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        host: str,
        port: int = 0,
    ) -> int:
        """Start an app of ``handler`` on ``host:port`` (0: a free port); the port back."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._runners.append(runner)
        await web.TCPSite(runner, host, port).start()
        return int(runner.addresses[0][1])

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.cleanup()


class SiteServer(LoopbackApps):
    """Serves a :class:`SiteSpec` on one or several loopback addresses (one "host" each)."""

    def __init__(
        self,
        spec: SiteSpec,
        host: str = "127.0.0.1",
        port: int = 0,
        hosts: list[str] | None = None,
        control: bool = False,
    ) -> None:
        self.spec = spec
        self.control = control
        self.hosts = hosts or [host]
        for h in self.hosts:
            if not ipaddress.ip_address(h).is_loopback:
                raise ValueError(f"test site binds to loopback addresses only, not {h}")
        self._port = port
        self._runners: list[web.AppRunner] = []
        self._sites: list[_Site] = []
        self.urls: list[str] = []
        self.log: list[LogRecord] = []
        self._hits: collections.Counter[str] = collections.Counter()
        self._states: dict[str, _HostState] = collections.defaultdict(_HostState)
        self._overall = _HostState()
        self._rng = random.Random(spec.seed)

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def base(self) -> str:
        return self.url[: -len(self.spec.prefix)]

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    async def __aenter__(self) -> SiteServer:
        try:
            for index, h in enumerate(self.hosts):
                self._sites.append(_Site(self.spec, index))
                port = await self._serve(self._handler(self._sites[-1]), h, self._port)
                self.urls.append(f"http://{h}:{port}{self.spec.prefix}")
        except BaseException:
            await self.aclose()
            raise
        return self

    # --- what the tests read ------------------------------------------------------------------

    def hits(self, path: str) -> int:
        return self._hits[path]

    def fetch_counts(self) -> collections.Counter[str]:
        """Requests per path (query included when there is one), robots.txt left out."""
        return collections.Counter(
            r.path + (f"?{r.query}" if r.query else "") for r in self.log if r.path != "/robots.txt"
        )

    def in_flight(self) -> int:
        """Requests being served right now (they enter the log when their response ends)."""
        return self._overall.in_flight

    def max_in_flight(self, host: str | None = None) -> int:
        return (self._states[host] if host else self._overall).max_in_flight

    def max_per_window(self, window_s: float = 1.0, host: str | None = None) -> int:
        return _busiest_window(
            sorted(r.start for r in self.log if host is None or r.host == host), window_s
        )

    # --- serving ------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """What a benchmark reads after a run: load, politeness and duplicates as the server saw."""
        return summarize(self.log, self._states, self.max_in_flight())

    def reset(self) -> None:
        self.log.clear()
        self._hits.clear()
        self._states.clear()
        self._overall = _HostState()

    def prerender(self) -> None:
        """Render every page of every host now, so serving costs only aiohttp's own work."""
        self.spec.cache_pages = max(self.spec.cache_pages, self.spec.pages)
        for index, url in enumerate(self.urls):
            site, base = self._sites[index], url[: -len(self.spec.prefix)]
            for i in range(self.spec.pages):
                site.page(i, base)

    def _control(self, command: str) -> web.Response:
        # Benchmark controls, served only with control=True and never logged as crawl traffic.
        if command == "stats":
            return web.json_response(self.summary())
        if command == "log":  # for looking closer at one run: (host, path, start, end) each
            return web.json_response([(r.host, r.path, r.start, r.end) for r in self.log])
        if command == "count":
            return web.json_response({"requests": len(self.log)})
        if command == "reset":
            self.reset()
            return web.json_response({"ok": True})
        return web.Response(status=404, text="no such control")

    def _handler(self, site: _Site) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            if self.control and request.path.startswith("/__site/"):
                return self._control(request.path[len("/__site/") :])
            host = request.host
            state = self._states[host]
            state.in_flight += 1
            self._overall.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            self._overall.max_in_flight = max(self._overall.max_in_flight, self._overall.in_flight)
            start = time.monotonic()
            self._hits[request.path] += 1
            status = 500
            try:
                spec = self.spec
                if spec.latency_ms or spec.jitter_ms:
                    delay = spec.latency_ms + self._rng.uniform(-spec.jitter_ms, spec.jitter_ms)
                    await asyncio.sleep(max(0.0, delay) / 1000)
                response = await self._respond(site, request)
                status = response.status
                return response
            finally:
                state.in_flight -= 1
                self._overall.in_flight -= 1
                self.log.append(
                    LogRecord(
                        host,
                        request.path,
                        request.query_string,
                        request.method,
                        status,
                        start,
                        time.monotonic(),
                    )
                )

        return handle

    async def _respond(self, site: _Site, request: web.Request) -> web.StreamResponse:
        spec = self.spec
        path = request.path
        base = f"http://{request.host}"
        if path == "/robots.txt" and self._hits[path] <= spec.robots_failures * len(self.urls):
            return web.Response(status=503, text="robots.txt is having a bad day")
        if path == "/robots.txt" or path.startswith("/robots-"):
            hop = 0 if path == "/robots.txt" else int(path[len("/robots-") : -len(".txt")])
            if hop < spec.robots_redirects:
                return _redirect(302, f"/robots-{hop + 1}.txt")
            return web.Response(text=spec.robots_txt())
        if path == "/sitemap.xml" and spec.sitemap:
            urls = "".join(
                f"<url><loc>{base}{spec.page_path(i)}</loc></url>" for i in range(spec.pages)
            )
            return web.Response(
                text=f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/'
                f'sitemap/0.9">{urls}</urlset>',
                content_type="application/xml",
            )
        i = site.page_number(path)
        if i is not None:
            return web.Response(body=site.page(i, base), content_type="text/html", charset="utf-8")
        if path.startswith((spec.prefix + "private/", "/other/")):
            return web.Response(body=b"<title>Not for crawlers</title>", content_type="text/html")
        if spec.redirect_away and path == spec.prefix + "away":
            return _redirect(302, spec.redirect_away)
        if spec.faults and path.startswith(spec.prefix + "fault/"):
            return await self._fault(request, path[len(spec.prefix) + 6 :])
        return web.Response(status=404, text="not found")

    async def _fault(self, request: web.Request, name: str) -> web.StreamResponse:
        hits = self._hits[request.path]
        page = web.Response(body=b"<title>Fault page</title><p>ok</p>", content_type="text/html")
        if name == "503-then-ok":
            return page if hits > 2 else web.Response(status=503, text="busy")
        if name == "429":
            return page if hits > 1 else web.Response(status=429, headers={"Retry-After": "1"})
        if name == "redirect-loop":
            return _redirect(302, self.spec.prefix + "fault/redirect-loop-b")
        if name == "redirect-loop-b":
            return _redirect(302, self.spec.prefix + "fault/redirect-loop")
        if name == "redirect":
            return _redirect(301, self.spec.page_path(1))
        if name == "notfound":
            return web.Response(status=404, text="gone")
        if name == "binary":
            return web.Response(body=os.urandom(2048), content_type="application/octet-stream")
        if name in ("big", "slow"):
            response = web.StreamResponse(headers={"Content-Type": "text/html"})
            await response.prepare(request)
            try:
                if name == "big":
                    chunk = b"<p>" + b"x" * 65_530 + b"</p>"
                    for _ in range(20 * 16):
                        await response.write(chunk)
                else:
                    for _ in range(60):
                        await response.write(b"<")
                        await asyncio.sleep(1)
            except (ConnectionError, asyncio.CancelledError):
                pass
            return response
        return web.Response(status=404, text="no such fault")


def summarize(
    log: list[LogRecord], states: dict[str, _HostState], max_in_flight: int
) -> dict[str, Any]:
    """A served run's figures from its request log and per-host states (feedsite.py's too)."""
    counts = collections.Counter((r.host, r.path, r.query) for r in log if r.path != "/robots.txt")
    starts: dict[str, list[float]] = collections.defaultdict(list)
    for r in log:  # logged as responses end: sorted by start below
        starts[r.host].append(r.start)
    for times in starts.values():
        times.sort()
    hosts = sorted(states)
    return {
        "requests": len(log),
        "max_in_flight": max_in_flight,
        "max_in_flight_per_host": {h: states[h].max_in_flight for h in hosts},
        "max_per_second_per_host": {h: _busiest_window(starts[h], 1.0) for h in hosts},
        "rate_per_host": {h: _rate(starts[h]) for h in hosts},
        # Time-weighted requests in flight from the host's first request to its last
        # response: how well a crawler used a per-host limit.
        "mean_in_flight_per_host": {h: _mean_in_flight(log, h) for h in hosts},
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        # From the first request's arrival to the last response: the crawl as the server
        # saw it, without the crawler's start-up and shut-down.
        "span_s": max(r.end for r in log) - min(r.start for r in log) if log else 0.0,
        # CLOCK_MONOTONIC is one clock for every process of the machine: a harness that
        # notes it when it starts a crawler can tell start-up and shut-down apart.
        "first_start": min((r.start for r in log), default=0.0),
        "last_end": max((r.end for r in log), default=0.0),
    }


@contextlib.contextmanager
def serve_in_subprocess(*args: str) -> Iterator[list[str]]:
    """Run this site as a separate process (for the demo and benchmarks); yields its URLs.

    ``args`` are command-line options of this module, e.g. ``"--pages", "500"``.
    """
    site = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert site.stdout is not None
        yield list(json.loads(site.stdout.readline())["urls"])
    finally:
        site.terminate()
        try:
            site.wait(10)
        except subprocess.TimeoutExpired:
            site.kill()
            site.wait()


def _mean_in_flight(log: list[LogRecord], host: str) -> float:
    records = [r for r in log if r.host == host]
    if not records:
        return 0.0
    span = max(r.end for r in records) - min(r.start for r in records)
    return sum(r.end - r.start for r in records) / span if span > 0 else 0.0


def _busiest_window(starts: list[float], window_s: float) -> int:
    """The most of these (sorted) request start times inside any window of ``window_s``."""
    best = 0
    j = 0
    for i, t in enumerate(starts):
        while starts[j] <= t - window_s:
            j += 1
        best = max(best, i - j + 1)
    return best


def _rate(starts: list[float]) -> float:
    """Requests per second between the first and the last of these (sorted) start times."""
    span = starts[-1] - starts[0] if len(starts) > 1 else 0.0
    return (len(starts) - 1) / span if span else 0.0


def _redirect(status: int, location: str) -> web.Response:
    return web.Response(status=status, headers={"Location": location})


async def _main(args: argparse.Namespace) -> None:
    spec = SiteSpec(
        seed=args.seed,
        pages=args.pages,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        faults=args.faults,
    )
    hosts = args.hosts.split(",") if args.hosts else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with SiteServer(
        spec, host=args.host, port=args.port, hosts=hosts, control=args.control
    ) as server:
        if args.prerender:
            server.prerender()
        print(json.dumps({"urls": server.urls, "pid": os.getpid()}), flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the synthetic test site on loopback.")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--hosts", help="comma-separated loopback IPs, one host each")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--faults", action="store_true")
    parser.add_argument(
        "--control", action="store_true", help="serve /__site/{stats,count,reset} for benchmarks"
    )
    parser.add_argument("--prerender", action="store_true", help="render every page before serving")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(_main(args))
    except ImportError:
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
