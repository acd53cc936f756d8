"""URL normalisation and crawl scope: pure functions, run for every link of every page.

Two URLs that name the same page must normalise to the same string, so that the seen set
fetches each page once: scheme and host lower-cased, default ports dropped, dot segments
resolved, percent-encoding made canonical, the fragment and tracking parameters removed.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit, urlunsplit

import msgspec

from .errors import BadURLError

__all__ = [
    "TRACKING_PARAMS",
    "Scope",
    "host_key",
    "normalize_url",
    "origin_of",
    "url_fingerprint",
    "validate_start_url",
]

#: Query parameters that only track the visitor; any ``utm_*`` parameter is dropped as well.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid", "mc_eid",
        "igshid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok",
    }
)  # fmt: skip
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
# Characters left as they are in a path or query; everything else is UTF-8 percent-encoded.
_SAFE = frozenset(_UNRESERVED | set("!$&'()*+,;=:@/?%"))


def _fix_escape(m: re.Match[str]) -> str:
    char = chr(int(m.group(1), 16))
    return char if char in _UNRESERVED else "%" + m.group(1).upper()


def _encode(part: str) -> str:
    if "%" in part:
        part = _PCT.sub(_fix_escape, part)
    if all(c in _SAFE for c in part):
        return part
    out = []
    for c in part:
        if c in _SAFE:
            out.append(c)
        else:
            out.extend(f"%{b:02X}" for b in c.encode("utf-8"))
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    if "." not in path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for seg in segments[1:]:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


def _clean_query(query: str) -> str:
    if not query:
        return ""
    kept = [
        p
        for p in query.split("&")
        if p
        and not (name := p.split("=", 1)[0].lower()).startswith("utm_")
        and name not in TRACKING_PARAMS
    ]
    return _encode("&".join(kept))


def normalize_url(url: str, base: str | None = None) -> str | None:
    """The canonical form of an http(s) URL (resolved against ``base``), or ``None``.

    ``None`` means "not a URL a crawler follows": another scheme, no host, a bad port, or
    userinfo (``user:pass@``) in it.

    >>> normalize_url("HTTP://Example.ORG:80/a/./b/../c?utm_source=x&q=1#top")
    'http://example.org/a/c?q=1'
    """
    url = url.strip()
    if base is not None and not url.startswith(("http://", "https://")):
        try:
            url = urljoin(base, url)
        except ValueError:
            return None
    return _normalize_absolute(url)


# Pages of one site link to the same targets over and over (navigation, footers): each
# distinct absolute URL is normalised once per process. Bounded, so memory stays flat.
@functools.lru_cache(maxsize=32768)
def _normalize_absolute(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or parts.username is not None or "@" in parts.netloc:
            return None
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    host = host.rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _remove_dot_segments(_encode(parts.path)) if parts.path else "/"
    query = _clean_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def url_fingerprint(url: str) -> bytes:
    """8 bytes that identify a normalised URL, the same in every process and run."""
    return hashlib.blake2b(url.encode("utf-8"), digest_size=8).digest()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a normalised URL."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def host_key(url: str) -> str:
    """The key per-host limits use: ``host`` or ``host:port`` of a normalised URL."""
    return url.partition("://")[2].split("/", 1)[0]


def validate_start_url(url: str) -> str:
    """The normalised start URL, or :class:`BadURLError` with a one-line reason."""
    normalised = normalize_url(url)
    if normalised is None:
        raise BadURLError(f"not an absolute http(s) URL: {url!r}")
    return normalised


class Scope(msgspec.Struct, frozen=True):
    """Which URLs a crawl follows. Built once in the supervisor, sent to every worker.

    ``prefixes`` are URL prefixes *without the scheme* (``host[:port]/path``), because a site
    that links between http and https is still the same site; ``domains`` allow a host and
    its subdomains.
    """

    prefixes: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()

    @classmethod
    def from_option(cls, option: str | None, start_urls: Sequence[str]) -> Scope:
        """``prefix`` (default), ``host``, ``domain``, or comma-separated URL prefixes."""
        kind = (option or "prefix").strip()
        if kind == "prefix":
            return cls(prefixes=tuple(sorted({_directory(u) for u in start_urls})))
        if kind == "host":
            return cls(prefixes=tuple(sorted({host_key(u) + "/" for u in start_urls})))
        if kind == "domain":
            hosts = {(urlsplit(u).hostname or "") for u in start_urls}
            return cls(domains=tuple(sorted(h for h in hosts if h)))
        prefixes = []
        for item in kind.split(","):
            normalised = normalize_url(item)
            if normalised is None:
                raise BadURLError(
                    f"--scope {option!r}: use prefix, host, domain or http(s) URL prefixes"
                )
            prefixes.append(_strip_scheme(normalised))
        return cls(prefixes=tuple(sorted(set(prefixes))))

    def to_spec(self) -> list[str]:
        return [*("p:" + p for p in self.prefixes), *("d:" + d for d in self.domains)]

    @classmethod
    def from_spec(cls, spec: Sequence[str]) -> Scope:
        return cls(
            prefixes=tuple(s[2:] for s in spec if s.startswith("p:")),
            domains=tuple(s[2:] for s in spec if s.startswith("d:")),
        )

    def allows(self, url: str) -> bool:
        """Whether a normalised URL is in scope."""
        rest = _strip_scheme(url)
        if any(rest.startswith(p) for p in self.prefixes):
            return True
        if self.domains:
            host = rest.split("/", 1)[0].rsplit(":", 1)[0] if "]" not in rest else ""
            return any(host == d or host.endswith("." + d) for d in self.domains)
        return False


def _strip_scheme(url: str) -> str:
    return url.partition("://")[2]


def _directory(url: str) -> str:
    rest = _strip_scheme(url).split("?", 1)[0]
    return rest[: rest.rfind("/") + 1]
