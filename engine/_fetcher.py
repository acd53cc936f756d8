"""One request, done right: robots.txt, a broker permit per hop, redirects checked hop by hop,
bodies capped while streaming, and a retry decision.

The fetcher never sleeps to retry: a retryable failure comes back as ``retry_at`` and the
supervisor queues the request again for then, so a waiting retry holds no worker capacity.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import aiohttp
import msgspec

from ..ipc.messages import Request
from ..plugins.api import Response
from ._robots import RobotsCache
from ._ssrf import forbidden_cause
from ._urls import Scope, host_key, normalize_url, origin_of
from .errors import ResponseTooLargeError, TooSlowError

__all__ = ["Fetched", "Fetcher", "RetryPolicy"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: --min-rate is judged over this many seconds: each ``min_rate * _RATE_WINDOW`` bytes of a
#: body must come within this long of the previous such share (curl's --speed-time, fixed).
RATE_WINDOW = 5.0
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; ``max_attempts`` counts the first try."""

    max_attempts: int = 4
    base: float = 0.5
    cap: float = 30.0
    #: The most of a server's Retry-After we honour; a longer one fails the page instead.
    max_retry_after: float = 600.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return min(self.cap, self.base * 2.0**attempt) * rng.uniform(0.5, 1.5)


@dataclass
class Fetched:
    """The result of fetching one request: a response, an error, or a time to try again."""

    response: Response | None = None
    error: str | None = None
    detail: str | None = None
    retry_at: float | None = None
    retry_after: float | None = None
    elapsed_ms: float = 0.0


PermitFactory = Callable[[str], AbstractAsyncContextManager[None]]


class Fetcher:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        permit: PermitFactory,
        robots: RobotsCache | None,
        scope: Scope,
        user_agent: str,
        timeout: float,
        max_bytes: int,
        max_redirects: int,
        retry: RetryPolicy,
        min_rate: float = 0.0,
    ) -> None:
        self._session = session
        self._permit = permit
        self._robots = robots
        self._scope = scope
        self._user_agent = user_agent
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._min_rate = min_rate
        self._max_redirects = max_redirects
        self._retry = retry
        self._rng = random.Random()

    async def fetch(self, request: Request) -> Fetched:
        started = time.perf_counter()
        result = await self._fetch(request)
        result.elapsed_ms = (time.perf_counter() - started) * 1000.0
        return result

    async def _fetch(self, request: Request) -> Fetched:
        url = request.url
        chain = {url}
        while True:
            if self._robots is not None:
                rules = await self._robots.rules_for(origin_of(url))
                if not rules.allowed(url, self._user_agent):
                    if rules.unavailable:
                        # Not "no" but "not now": the page waits until robots.txt is tried
                        # again, and fails only when its retries run out.
                        detail = f"{origin_of(url)}/robots.txt: {rules.reason}"
                        return self._retry_or_fail(
                            request, None, "robots_unavailable", detail, not_before=rules.expires_at
                        )
                    return Fetched(error="robots_disallowed", detail=url)
            try:
                hop = await self._hop(request, url)
            except ResponseTooLargeError as exc:
                cut = exc.response if isinstance(exc.response, Response) else None
                return Fetched(response=cut, error=exc.kind, detail=str(exc))
            except TooSlowError as exc:
                return self._retry_or_fail(request, None, exc.kind, str(exc))
            except TimeoutError:
                return self._retry_or_fail(
                    request, None, "timeout", f"no response in {self._timeout:g} s"
                )
            except aiohttp.ClientError as exc:
                forbidden = forbidden_cause(exc)
                if forbidden is not None:
                    return Fetched(error=forbidden.kind, detail=str(forbidden))
                detail = str(exc) or type(exc).__name__
                # An untrusted certificate, a server that does not speak TLS, a response that
                # is not HTTP: trying again would meet the same, so they are recorded at once.
                if isinstance(exc, aiohttp.ClientSSLError):
                    return Fetched(error="tls", detail=detail)
                if isinstance(exc, aiohttp.ClientResponseError):
                    return Fetched(error="invalid_response", detail=detail)
                kind = "connect" if isinstance(exc, aiohttp.ClientConnectorError) else "connection"
                return self._retry_or_fail(request, None, kind, detail)
            if isinstance(hop, Response):
                if hop.status in _RETRY_STATUSES:
                    return self._retry_or_fail(
                        request, hop, "http", f"HTTP {hop.status}", hop.headers.get("retry-after")
                    )
                return Fetched(response=hop)
            # A redirect: every hop is normalised and checked like a link before it is fetched.
            status, target = hop
            if target is None:
                return Fetched(error="redirect", detail=f"HTTP {status} without a usable Location")
            if target in chain:
                return Fetched(error="redirect", detail=f"redirect loop at {target}")
            if len(chain) > self._max_redirects:
                return Fetched(
                    error="redirect", detail=f"more than {self._max_redirects} redirects"
                )
            if not self._scope.allows(target):
                return Fetched(error="redirect_out_of_scope", detail=target)
            chain.add(target)
            url = target

    async def _hop(self, request: Request, url: str) -> Response | tuple[int, str | None]:
        """One HTTP exchange under a broker permit: a response, or (status, redirect target)."""
        conditional = {}
        if url == request.url:  # validators belong to the URL they came from
            if request.etag:
                conditional["If-None-Match"] = request.etag
            if request.last_modified:
                conditional["If-Modified-Since"] = request.last_modified
        async with (
            self._permit(host_key(url)),
            asyncio.timeout(self._timeout),
            self._session.get(url, allow_redirects=False, headers=conditional) as resp,
        ):
            if resp.status in _REDIRECTS and "Location" in resp.headers:
                return resp.status, normalize_url(resp.headers["Location"], url)
            response = Response(
                url=request.url,
                final_url=url,
                status=resp.status,
                headers={k.lower(): v for k, v in resp.headers.items()},
                body=b"",
                content_type=resp.content_type.lower(),
                charset=resp.charset,
            )
            try:
                body = await self._read_capped(
                    resp.content.iter_chunked(65536), resp.content_length
                )
            except ResponseTooLargeError as exc:
                exc.response = response
                raise
            return msgspec.structs.replace(response, body=body)

    async def _read_capped(self, chunks: AsyncIterator[bytes], declared: int | None) -> bytes:
        limit = self._max_bytes
        if declared is not None and declared > limit:
            raise ResponseTooLargeError(f"Content-Length {declared} is over --max-bytes {limit}")
        parts: list[bytes] = []
        total = 0
        # The total timeout bounds a trickle too, but only after holding a connection and a
        # host's permit for all of it: below --min-rate the body is given up early.
        share = self._min_rate * RATE_WINDOW
        loop = asyncio.get_running_loop()
        owed = 0.0
        try:
            async with asyncio.timeout(RATE_WINDOW if share else None) as window:
                async for chunk in chunks:
                    total += len(chunk)
                    if total > limit:
                        # Stop reading here: leaving the response context closes the connection.
                        raise ResponseTooLargeError(f"body passed --max-bytes {limit}")
                    parts.append(chunk)
                    owed += len(chunk)
                    if share and owed >= share:
                        owed = 0.0
                        window.reschedule(loop.time() + RATE_WINDOW)
        except TimeoutError:
            if share and window.expired():
                raise TooSlowError(
                    f"body slower than --min-rate {self._min_rate:g} bytes/s ({total} bytes read)"
                ) from None
            raise
        return b"".join(parts)

    def _retry_or_fail(
        self,
        request: Request,
        response: Response | None,
        kind: str,
        detail: str,
        retry_after_header: str | None = None,
        *,
        not_before: float = 0.0,
    ) -> Fetched:
        retry_after = _parse_retry_after(retry_after_header)
        attempt = request.attempt + 1
        if attempt >= self._retry.max_attempts or (
            retry_after is not None and retry_after > self._retry.max_retry_after
        ):
            return Fetched(
                response=response, error=kind, detail=f"{detail} (after {attempt} tries)"
            )
        delay = (
            retry_after
            if retry_after is not None
            else self._retry.backoff(request.attempt, self._rng)
        )
        now = time.time()
        return Fetched(
            response=response,
            error=kind,
            detail=detail,
            # A little after not_before (robots.txt's next try), so the rules are fresh.
            retry_at=max(now + delay, not_before + self._rng.uniform(0.1, 0.5)),
            retry_after=retry_after,
        )


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
