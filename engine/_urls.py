"""URL normalisation and crawl scope: pure functions, run for every link of every page.

Two URLs that name the same page must normalise to the same string, so that the seen set
fetches each page once: scheme and host lower-cased, default ports dropped, dot segments
resolved, percent-encoding made canonical, the fragment and tracking parameters removed.

Parsing follows what a browser does with an ``href`` on an http(s) page (the WHATWG URL
standard), not Python's ``urlsplit``, where the two disagree in ways a crawler meets: a
backslash is a slash, numeric hosts such as ``127.1`` or ``0x7f.0.0.1`` are IPv4 addresses,
``http://[::1]x/`` is invalid, and non-ASCII hosts are IDNA-encoded with UTS #46 (as
aiohttp's yarl does, so the host we key on is the host we connect to). One departure: an
empty host (``http:///x``) is refused rather than repaired by skipping slashes.

The output is always a valid RFC 3986 URI (ASCII, well-formed escapes), so yarl takes it
as it is: the URL that is fingerprinted is byte for byte the URL that is requested.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from collections.abc import Sequence
from urllib.parse import quote, unquote

import idna  # a dependency of yarl, hence of aiohttp; the encoder browsers and yarl use
import msgspec

from .errors import BadURLError

__all__ = [
    "SESSION_PARAMS",
    "TRACKING_PARAMS",
    "Scope",
    "host_key",
    "normalize_host",
    "normalize_url",
    "origin_of",
    "url_fingerprint",
    "validate_start_url",
]

#: Query parameter names that only identify a visit (ad clicks, newsletters, analytics), not
#: the page. They are dropped, compared case-insensitively, as is any name starting ``utm_``.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid", "mc_eid",
        "igshid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok",
    }
)  # fmt: skip

#: Query parameters that carry a server-side session id. A site that puts one in its links
#: gives every visitor (and every crawl) a fresh copy of itself: an endless trap. Dropped like
#: tracking parameters, as is a ``;jsessionid=...`` path parameter.
SESSION_PARAMS: frozenset[str] = frozenset(
    {"jsessionid", "phpsessid", "aspsessionid", "sessionid", "session_id", "sessid", "cfid",
     "cftoken"}
)  # fmt: skip

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789ABCDEFabcdef")
_OCTAL = frozenset("01234567")
# Left as they are in a path or query (unreserved, sub-delims, ":@/?", and "%" because
# escapes are made canonical first); anything else is UTF-8 percent-encoded. A string, for
# ``str.rstrip`` (an "are all characters in this set" test that runs in C) and ``quote``.
_SAFE = "".join(sorted(_UNRESERVED)) + "!$&'()*+,;=:@/?%"
_QUOTE_SAFE = "!$&'()*+,;=:@/?%"  # quote() never encodes the unreserved characters anyway
# Escapes that are decoded. Beyond the unreserved characters (RFC 3986 section 6.2.2.2) these
# are the ones yarl decodes when aiohttp builds the request, so "/a%3Ab" and "/a:b" are one
# request on the wire and must be one URL here. Kept: "%2F" and "%2B" in a path, and in a
# query the characters that give it structure ("&", "=", "+", ";").
_PATH_DECODED = _UNRESERVED | frozenset("!$&'()*,;=:@")
_QUERY_DECODED = _UNRESERVED | frozenset("!$'()*,:@/?")
# What a host may consist of once it is in ASCII form (the underscore is not valid in a DNS
# host name, but real sites use it and resolvers accept it).
_HOST_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-._"
# Browsers strip C0 controls and spaces around a URL and drop tabs and newlines inside it.
_STRIP = "".join(map(chr, range(0x21)))
_DROP_TAB_NL = str.maketrans("", "", "\t\n\r")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789+-.")


def normalize_url(url: str, base: str | None = None) -> str | None:
    """The canonical form of an http(s) URL, resolved against ``base`` if it is relative.

    ``None`` means "not a URL a crawler follows": another scheme (``mailto:``,
    ``javascript:``, ``ftp:``), a relative reference without a usable base, userinfo
    (``user:pass@``), an empty or malformed host, or a bad port.

    >>> normalize_url("HTTP://Example.ORG:80/a/./b/../c?utm_source=x&q=1#top")
    'http://example.org/a/c?q=1'
    >>> normalize_url("../d?x=1", "https://example.org/a/b/c")
    'https://example.org/a/d?x=1'
    """
    url = url.strip(_STRIP)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.translate(_DROP_TAB_NL)
    if "\\" in url:
        url = _backslashes_to_slashes(url)
    scheme, rest = _split_scheme(url)
    if scheme is None:
        return _resolve(url, base)
    if scheme not in _DEFAULT_PORTS:
        return None
    if rest.startswith("//"):
        return _normalize_absolute(f"{scheme}:{rest}")
    parts = None if base is None else _base_parts(base)
    if parts is not None and parts[1] == scheme:
        # "http:page.html" on an http page is a relative reference (RFC 3986 section 5.2.2
        # "non-strict", and browsers); on an https page, or alone, it has no host.
        return _resolve(rest, base)
    return None


def url_fingerprint(url: str) -> bytes:
    """8 bytes that identify a normalised URL, the same in every process and every run."""
    return hashlib.blake2b(url.encode("utf-8"), digest_size=8).digest()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a normalised URL (the default port is already omitted)."""
    end = url.find("/", url.find("://") + 3)
    return url if end < 0 else url[:end]


def host_key(url: str) -> str:
    """The key per-host limits use: ``host``, or ``host:port`` for a non-default port.

    It is the authority of a normalised URL, so http and https on their default ports
    share one key: they are the same server for politeness.
    """
    start = url.find("://") + 3
    end = url.find("/", start)
    return url[start:] if end < 0 else url[start:end]


def validate_start_url(url: str) -> str:
    """The normalised start URL, or :class:`BadURLError` with a one-line reason."""
    normalised = normalize_url(url)
    if normalised is None:
        raise BadURLError(f"not an absolute http(s) URL: {url!r}")
    return normalised


def normalize_host(host: str) -> str | None:
    """The canonical form of the host part of an http(s) URL, or ``None`` if it is not valid.

    Lower-case ASCII, IDNA-encoded if needed, without a trailing dot; IPv4 addresses in
    dotted-quad form, IPv6 addresses compressed and in brackets.

    >>> normalize_host("Bücher.Example."), normalize_host("0x7f.1"), normalize_host("[0::1]")
    ('xn--bcher-kva.example', '127.0.0.1', '[::1]')
    """
    if host.startswith("["):
        return _ipv6_host(host[1:-1]) if host.endswith("]") else None
    return _host(host)


class Scope(msgspec.Struct, frozen=True):
    """Which URLs a crawl follows. Built once in the supervisor, sent to every worker.

    ``prefixes`` are URL prefixes *without the scheme* (``host[:port]/path``), because a site
    that links between http and https is still the same site. ``domains`` hold a host with a
    leading dot (``.example.org``): that host and all its subdomains, on any port.
    """

    prefixes: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()

    @classmethod
    def from_option(cls, option: str | None, start_urls: Sequence[str]) -> Scope:
        """The scope named by ``--scope``, for these start URLs.

        ``None`` or ``prefix`` (the default): the start URL's host and port, under its
        directory. ``host``: anywhere on the start URL's host and port. ``domain``: the
        start URL's host and its subdomains. Anything else is a comma-separated list of
        absolute http(s) URL prefixes. Each keyword applies to every start URL.
        """
        starts = [validate_start_url(url) for url in start_urls]
        kind = "prefix" if option is None else option.strip()
        keyword = kind.lower()
        if keyword == "prefix":
            return cls(prefixes=_sorted({_directory(url) for url in starts}))
        if keyword == "host":
            return cls(prefixes=_sorted({host_key(url) + "/" for url in starts}))
        if keyword == "domain":
            return cls(domains=_sorted({"." + _host_of(_strip_scheme(url)) for url in starts}))
        prefixes: set[str] = set()
        for item in kind.split(","):
            if not item.strip():
                continue  # "a,b," is a harmless typo
            normalised = normalize_url(item)
            if normalised is None:
                prefixes.clear()
                break
            prefixes.add(_strip_scheme(normalised))
        if not prefixes:
            raise BadURLError(
                f"--scope {option!r}: expected prefix, host, domain, "
                "or comma-separated absolute http(s) URL prefixes"
            )
        return cls(prefixes=_sorted(prefixes))

    def to_spec(self) -> list[str]:
        """A plain list of strings that :meth:`from_spec` turns back into this scope.

        The state file keeps it to recognise the same crawl on ``--resume``, so its form
        must not change: ``p:host[:port]/path`` and ``d:host``, sorted.
        """
        return [*("p:" + p for p in self.prefixes), *("d:" + d[1:] for d in self.domains)]

    @classmethod
    def from_spec(cls, spec: Sequence[str]) -> Scope:
        """The scope :meth:`to_spec` described."""
        prefixes: list[str] = []
        domains: list[str] = []
        for item in spec:
            kind, _, value = item.partition(":")
            if kind == "p" and value:
                prefixes.append(value)
            elif kind == "d" and value:
                domains.append("." + value)
            else:
                raise ValueError(f"not a scope spec entry: {item!r}")
        return cls(prefixes=tuple(prefixes), domains=tuple(domains))

    def allows(self, url: str) -> bool:
        """Whether a normalised URL is in scope."""
        rest = _strip_scheme(url)
        # str.startswith/endswith take a tuple and loop in C; an empty tuple matches nothing.
        if rest.startswith(self.prefixes):
            return True
        return bool(self.domains) and ("." + _host_of(rest)).endswith(self.domains)


# --- parsing ----------------------------------------------------------------------------------


def _split_scheme(url: str) -> tuple[str | None, str]:
    """``(scheme, rest)`` with the scheme lower-cased, or ``(None, url)`` for a relative one."""
    colon = url.find(":")
    if colon <= 0:
        return None, url
    scheme = url[:colon].lower()
    if scheme not in _DEFAULT_PORTS and not (
        scheme[0].isalpha() and scheme.isascii() and _SCHEME_CHARS.issuperset(scheme)
    ):
        return None, url  # "a/b:c" or "1x:y": a path with a colon in it
    return scheme, url[colon + 1 :]


def _backslashes_to_slashes(url: str) -> str:
    """Browsers read ``\\`` as ``/`` in the scheme, host and path of an http(s) URL."""
    end = len(url)
    for sep in "?#":
        found = url.find(sep, 0, end)
        if found >= 0:
            end = found
    return url[:end].replace("\\", "/") + url[end:]


def _resolve(ref: str, base: str | None) -> str | None:
    """Resolve a relative reference (RFC 3986 section 5.2, slashes read as browsers do)."""
    if base is None:
        return None
    parts = _base_parts(base)
    if parts is None:
        return None
    whole, scheme, origin, directory, no_query = parts
    if not ref or ref[0] == "#":
        return whole
    if ref.startswith("//"):
        url = f"{scheme}:{ref}"
    elif ref[0] == "/":
        url = origin + ref
    elif ref[0] == "?":
        url = no_query + ref
    else:
        url = directory + ref
    # Dot segments of the merged path are removed by the normalisation itself.
    return _normalize_absolute(url)


# All links of a page share its base: split it once.
@functools.lru_cache(maxsize=256)
def _base_parts(base: str) -> tuple[str, str, str, str, str] | None:
    """``(whole, scheme, origin, directory, without_query)`` of a base URL, normalised."""
    whole = normalize_url(base)
    if whole is None:
        return None
    scheme = whole[: whole.find(":")]
    origin = origin_of(whole)
    no_query = whole.partition("?")[0]
    return whole, scheme, origin, no_query[: no_query.rfind("/") + 1], no_query


# Pages of one site link to the same targets over and over (navigation, footers): each
# distinct absolute URL is normalised once per process. Bounded, so memory stays flat.
@functools.lru_cache(maxsize=8192)
def _normalize_absolute(url: str) -> str | None:
    """Normalise ``scheme://rest`` where the scheme is already ``http`` or ``https``."""
    scheme, _, rest = url.partition("://")
    rest = rest.partition("#")[0]
    end = len(rest)
    for sep in "/?":
        found = rest.find(sep, 0, end)
        if found >= 0:
            end = found
    netloc = _netloc(scheme, rest[:end])
    if netloc is None:
        return None
    path, has_query, query = rest[end:].partition("?")
    path = _canonical_part(path, _PATH_DECODED) if path else "/"
    # The session id goes first: "/a/..;jsessionid=X" must lose its ".." too, or normalising
    # again would give another URL.
    if ";" in path:
        path = _drop_path_session(path)
    path = _remove_dot_segments(path)
    if has_query:
        query = _drop_tracking(_canonical_part(query, _QUERY_DECODED))
    return f"{scheme}://{netloc}{path}?{query}" if query else f"{scheme}://{netloc}{path}"


# A crawl sees few distinct hosts and each in many links; checking one (IDNA, numeric IPv4
# forms) costs more than the rest of the URL.
@functools.lru_cache(maxsize=1024)
def _netloc(scheme: str, authority: str) -> str | None:
    """``host`` or ``host:port`` with the default port dropped; ``None`` if invalid."""
    if "@" in authority:
        return None  # userinfo: a crawler does not send credentials it found in a link
    if authority.startswith("["):
        close = authority.find("]")
        after = authority[close + 1 :]
        if close < 0 or (after and after[0] != ":"):
            return None
        host = _ipv6_host(authority[1:close])
        port_text = after[1:]
    else:
        host_text, _, port_text = authority.partition(":")
        host = _host(host_text)
    if host is None:
        return None
    if not port_text:
        return host  # "host:" means the default port
    if not (port_text.isascii() and port_text.isdigit()):
        return None
    port = int(port_text)
    if port > 65535:
        return None
    return host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"


def _host(text: str) -> str | None:
    """A registered name or an IPv4 address in canonical form (see :func:`normalize_host`)."""
    if "%" in text:
        try:
            text = unquote(text, errors="strict")
        except UnicodeDecodeError:
            return None
    if text.isascii():
        text = text.lower()
    else:
        # The same encoder, with the same fallback, as yarl: the host we key on is the host
        # aiohttp will look up. Full-width digits and dots map to ASCII here too.
        try:
            text = idna.encode(text, uts46=True).decode("ascii")
        except UnicodeError:
            try:
                text = text.encode("idna").decode("ascii").lower()
            except UnicodeError:
                return None
    if text.endswith("."):
        text = text[:-1]  # "example.org." is the same host as "example.org"
    if not text or len(text) > 253:
        return None
    if _ends_in_number(text):
        return _ipv4_host(text)
    if text.rstrip(_HOST_CHARS) or text[0] == "." or ".." in text:
        return None
    return text


def _ends_in_number(host: str) -> bool:
    """Whether a browser would parse ``host`` as an IPv4 address (WHATWG "ends in a number")."""
    last = host.rpartition(".")[2]
    if last.isascii() and last.isdigit():
        return True
    return last[:2] == "0x" and _HEX.issuperset(last[2:])


def _ipv4_host(host: str) -> str | None:
    """Dotted-quad form of an IPv4 host in any form browsers accept (``127.1``, ``0x7f.1``).

    Browsers (and the C library's resolver) read these as addresses, so they are written as
    one: aiohttp refuses the short forms outright, and the seen set must not hold both.
    """
    parts = host.split(".")
    if len(parts) > 4:
        return None
    numbers: list[int] = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None:
            return None
        numbers.append(number)
    *leading, value = numbers
    if any(n > 255 for n in leading) or value >= 256 ** (5 - len(numbers)):
        return None
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return str(ipaddress.IPv4Address(value))


def _ipv4_number(part: str) -> int | None:
    """One part of an IPv4 host: decimal, octal with a leading ``0``, or hex after ``0x``."""
    if part[:2] == "0x":
        digits, radix, valid = part[2:], 16, _HEX.issuperset(part[2:])
    elif len(part) > 1 and part[0] == "0":
        digits, radix, valid = part[1:], 8, _OCTAL.issuperset(part[1:])
    else:
        digits, radix, valid = part, 10, part.isascii() and part.isdigit()
    if not valid:
        return None  # also an empty part, as in "1..2"
    return int(digits, radix) if digits else 0


def _ipv6_host(text: str) -> str | None:
    """``[compressed]`` form of an IPv6 literal; zone identifiers are refused, as browsers do."""
    if not text or "%" in text:
        return None
    try:
        return f"[{ipaddress.IPv6Address(text).compressed}]"
    except ValueError:
        return None


def _canonical_part(part: str, decoded: frozenset[str]) -> str:
    """A path or query with canonical percent-encoding.

    Escapes of ``decoded`` characters are decoded, other escapes get upper-case hex, a ``%``
    that starts no escape becomes ``%25``, and spaces, non-ASCII and other characters outside
    ``_SAFE`` are UTF-8 percent-encoded.
    """
    if "%" in part:
        chunks = part.split("%")
        out = [chunks[0]]
        for chunk in chunks[1:]:
            if len(chunk) >= 2 and chunk[0] in _HEX and chunk[1] in _HEX:
                char = chr(int(chunk[:2], 16))
                out.append(char if char in decoded else "%" + chunk[:2].upper())
                out.append(chunk[2:])
            else:
                out.append("%25")
                out.append(chunk)
        part = "".join(out)
    if not part.rstrip(_SAFE):
        return part  # the common case: nothing to encode
    try:
        return quote(part, safe=_QUOTE_SAFE)
    except UnicodeEncodeError:
        # A lone surrogate (from a broken page): a browser would send U+FFFD in its place.
        fixed = part.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return quote(fixed, safe=_QUOTE_SAFE)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 for a path that starts with ``/``."""
    if "/." not in path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")  # "/a/b/.." names the directory "/a/"
    return "/" + "/".join(out)


def _drop_path_session(path: str) -> str:
    """``/a;jsessionid=XYZ/b`` -> ``/a/b``: the servlet session id, in any segment."""
    lowered = path.lower()
    at = lowered.find(";jsessionid=")
    while at >= 0:
        end = path.find("/", at)
        path = path[:at] + ("" if end < 0 else path[end:])
        lowered = path.lower()
        at = lowered.find(";jsessionid=")
    return path


def _drop_tracking(query: str) -> str:
    """The query without tracking or session parameters and empty pieces, in order."""
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = pair.partition("=")[0].lower()
        if name in TRACKING_PARAMS or name in SESSION_PARAMS:
            continue
        if name.startswith(("utm_", "aspsessionid")):  # ASP's name carries a suffix
            continue
        kept.append(pair)
    return "&".join(kept)


# --- scope helpers ----------------------------------------------------------------------------


def _sorted(items: set[str]) -> tuple[str, ...]:
    # Sorted so that the same options always give the same spec (it is compared on resume).
    return tuple(sorted(items))


def _strip_scheme(url: str) -> str:
    return url[url.find("://") + 3 :]


def _host_of(rest: str) -> str:
    """The host of ``host[:port]/path`` (an IPv6 host keeps its brackets)."""
    end = rest.find("/")
    authority = rest if end < 0 else rest[:end]
    if ":" in authority and not authority.endswith("]"):
        authority = authority.rpartition(":")[0]
    return authority


def _directory(url: str) -> str:
    """``host[:port]/dir/`` of a normalised URL: its path up to the last slash."""
    rest = _strip_scheme(url).partition("?")[0]
    return rest[: rest.rfind("/") + 1]
