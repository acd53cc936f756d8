"""robots.txt in a worker: the rules per origin, shared with the other workers via the supervisor.

The supervisor makes sure each origin's robots.txt is fetched once for the whole crawl: the first
worker that needs it asks (``RobotsWanted``), one worker is told to fetch it (``RobotsAssign``),
and the result is broadcast to every worker (``RobotsRules``). Until then, requests for that
origin wait here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..ipc.messages import RobotsRules as RobotsRulesMessage
from ._robotstxt import RobotsTxt, parse_robots_txt

__all__ = ["ROBOTS_MAX_BYTES", "RobotsCache", "RobotsRules", "robots_policy"]

# RFC 9309: parse at least 500 KiB; we fetch up to this much and ignore the rest.
ROBOTS_MAX_BYTES = 512 * 1024


class RobotsRules:
    """The decision for one origin: allow all, disallow all, or the parsed file."""

    def __init__(self, parser: RobotsTxt | None, *, allow_all: bool, reason: str = "") -> None:
        self._parser = parser
        self._allow_all = allow_all
        #: Why robots.txt gave no rules (unreachable, 5xx), for the page records.
        self.reason = reason
        #: Disallowed because robots.txt could not be fetched (5xx or unreachable), not by rule.
        self.unavailable = parser is None and not allow_all
        #: ``time.time()`` when these rules go stale (set from the supervisor's message).
        self.expires_at = float("inf")

    def allowed(self, url: str, user_agent: str) -> bool:
        """``user_agent`` is our User-Agent header; its product token picks the group."""
        if self._parser is None:
            return self._allow_all
        return self._parser.allowed(url, user_agent)

    @property
    def sitemaps(self) -> list[str]:
        """The file's ``Sitemap`` URLs, as written."""
        return self._parser.sitemaps if self._parser is not None else []

    def crawl_delay(self, user_agent: str) -> float | None:
        if self._parser is None:
            return None
        return self._parser.crawl_delay(user_agent)


def robots_policy(
    status: int, body: bytes, *, refused: bool = False, reason: str = ""
) -> RobotsRules:
    """RFC 9309: 2xx = the file's rules, 4xx = allow all, 5xx or unreachable = disallow all.

    ``refused`` (the SSRF rule refused the host) allows all: every fetch there is refused by the
    same rule, and the page records should say so rather than blame robots.txt.
    """
    if refused:
        return RobotsRules(None, allow_all=True)
    if 200 <= status < 300:
        return RobotsRules(parse_robots_txt(body[:ROBOTS_MAX_BYTES]), allow_all=True)
    if 400 <= status < 500:
        return RobotsRules(None, allow_all=True)
    return RobotsRules(None, allow_all=False, reason=reason or f"HTTP {status}")


class RobotsCache:
    """Rules per origin in one worker; ``rules_for`` waits until the supervisor provides them."""

    def __init__(self, ask: Callable[[str], None]) -> None:
        self._ask = ask
        self._rules: dict[str, RobotsRules] = {}
        self._pending: dict[str, asyncio.Future[RobotsRules]] = {}

    async def rules_for(self, origin: str) -> RobotsRules:
        rules = self._rules.get(origin)
        if rules is not None:
            if rules.expires_at > time.time():
                return rules
            del self._rules[origin]  # stale: the supervisor has it fetched again
        fut = self._pending.get(origin)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._pending[origin] = fut
            self._ask(origin)
        # shield: one waiter being cancelled must not cancel the others' wait.
        return await asyncio.shield(fut)

    def provide(self, msg: RobotsRulesMessage) -> RobotsRules:
        """Take the supervisor's decision for an origin and wake whoever waits for it."""
        origin = msg.origin
        rules = robots_policy(msg.status, msg.body, refused=msg.refused, reason=msg.reason)
        rules.expires_at = msg.expires_at or float("inf")
        self._rules[origin] = rules
        fut = self._pending.pop(origin, None)
        if fut is not None and not fut.done():
            fut.set_result(rules)
        return rules
