"""The worker's aiohttp connector, with the SSRF policy of :mod:`._ssrf` in its resolver and
its socket factory (see that module for why both)."""

from __future__ import annotations

import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ._ssrf import AddressPolicy
from .errors import ForbiddenAddressError

__all__ = ["PolicyResolver", "open_connector"]


class PolicyResolver(AbstractResolver):
    """Resolves names like aiohttp's default resolver, then applies the policy to the answers.

    Answers for a hostname that an entry allows pass, and are remembered so that the socket
    factory (which sees only addresses) accepts them. Other non-public answers are dropped;
    if none are left, :class:`ForbiddenAddressError` is raised.
    """

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        """``inner`` does the lookups; aiohttp's ``DefaultResolver`` if not given.

        The default resolver needs a running event loop, so create this inside one.
        """
        self._policy = policy
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The answers for ``host`` that the policy lets aiohttp connect to."""
        answers = await self._inner.resolve(host, port, family)
        named = self._policy._name_allowed(host, port)
        kept: list[ResolveResult] = []
        first_refusal: ForbiddenAddressError | None = None
        for answer in answers:
            # Judged without the learned addresses: another name that happens to resolve to
            # an address an allowed name uses is still refused.
            refusal = self._policy._refusal(answer["host"], answer["port"], host, learned=False)
            if refusal is None:
                if named:
                    self._policy._learn(answer["host"], answer["port"])
                kept.append(answer)
            elif first_refusal is None:
                first_refusal = refusal
        if not kept and first_refusal is not None:
            raise first_refusal
        return kept

    async def close(self) -> None:
        """Close the resolver that does the lookups."""
        await self._inner.close()


def open_connector(
    policy: AddressPolicy, *, limit: int, limit_per_host: int, ttl_dns_cache: int = 300
) -> aiohttp.TCPConnector:
    """A pooled connector that enforces ``policy`` on every connection it opens.

    Call it inside a running event loop (the resolver needs one).
    """
    return aiohttp.TCPConnector(
        limit=limit,
        limit_per_host=limit_per_host,
        ttl_dns_cache=ttl_dns_cache,
        resolver=PolicyResolver(policy),
        socket_factory=policy.socket_factory,
    )
