"""robots.txt as RFC 9309 defines it: a pure parser and matcher, no I/O, no third-party code.

Parsing (RFC 9309 section 2.1, 2.2):

* A group is one or more ``User-agent`` lines followed by ``Allow``/``Disallow`` rules. Only a
  rule ends the run of user-agent lines; blank lines, comments, ``Sitemap``, ``Crawl-delay`` and
  unknown lines stay where they are without splitting or ending a group (section 2.2.4: other
  records must not interfere with the ones the RFC defines).
* A user-agent value is matched by its first word, up to ``/`` or whitespace, case-insensitively
  (``Shoal/2.0 extra words`` names ``shoal``). A word with anything but letters, ``_`` and ``-``
  names nobody, though its line still starts a group, so its rules go nowhere rather than to the
  group before it.
* ``Crawl-delay`` (not in RFC 9309) applies to the user agents named before it in its group:
  in ``User-agent: a / Crawl-delay: 5 / User-agent: b / Disallow: /x``, both share the rule but
  only ``a`` the delay, which is what such files mean.
* Lines end with LF, CR LF or CR; ``#`` starts a comment; a leading UTF-8 BOM is skipped. Keys are
  case-insensitive and a few common misspellings are accepted (section 2.2.4 allows it).

Matching (section 2.2.2, 2.2.3):

* Every group naming the crawler's product token is used, merged; if none does, every ``*``
  group; if there is none, everything is allowed. ``/robots.txt`` itself is always allowed.
* A rule is matched against the URL's path and query from the first octet. The rule with the
  longest pattern (in octets, after the normalisation below) wins; on a tie ``Allow`` wins; no
  match allows. ``*`` matches any sequence and a final ``$`` anchors at the end.
* Paths and patterns are compared in one canonical form: escapes of unreserved characters are
  decoded (``%7E`` is ``~``), other escapes are upper-cased (``%2f`` is ``%2F``, still not
  ``/``), and non-ASCII text is UTF-8 percent-encoded, so ``/ツ`` in the file matches
  ``/%E3%83%84`` in the URL and the other way round. In a URL, ``*`` and ``$`` are literal and so
  are kept as ``%2A`` and ``%24``: a pattern writes them that way to match them (section 2.2.3).

``allowed`` runs for every request, so each product token's rules are compiled once, on first
use: plain prefixes go into one dict per length (a lookup per distinct length, longest first,
instead of a comparison per rule), ``$``-anchored literals into one dict, and only patterns with
``*`` are matched one by one, by searching for their pieces in order. That search never
backtracks, so no pattern can make a URL cost more than a scan per piece (a regex could).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["RobotsTxt", "parse_robots_txt", "product_token"]

# Keys as written (lower-cased) to what they mean; everything else is ignored where it stands.
_KEYS: dict[str, str] = {
    "user-agent": "agent",
    "useragent": "agent",
    "user agent": "agent",
    "allow": "allow",
    "disallow": "disallow",
    "dissallow": "disallow",
    "dissalow": "disallow",
    "disalow": "disallow",
    "diasllow": "disallow",
    "disallaw": "disallow",
    "crawl-delay": "delay",
    "crawldelay": "delay",
    "crawl delay": "delay",
    "sitemap": "sitemap",
    "site-map": "sitemap",
}

# Sitemap lines kept: the sitemaps protocol's own cap on the files of an index.
_MAX_SITEMAPS = 50_000
_WS = " \t"  # RFC 9309's WS: space and tab only
_FIRST_WORD = re.compile(r"[ \t]*([^/\s]*)")
_IDENTIFIER = re.compile(r"[A-Za-z_-]+")
_DELAY = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")

# RFC 3986 unreserved and reserved characters stand for themselves in the canonical form, except
# "*" and "$" (patterns give them a meaning) and "#" (never part of a path or a pattern).
_PLAIN = r"A-Za-z0-9\-._~:/?\[\]@!&'()+,;="
_NEEDS_CANON = re.compile(f"[^{_PLAIN}]")
_CANON_PART = re.compile(f"%[0-9A-Fa-f]{{2}}|%|[^{_PLAIN}%]+")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPED = tuple(f"%{b:02X}" for b in range(256))

# Path and query of an absolute URL, or of a bare path; the fragment is never sent.
_TARGET = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*:)?(?://[^/?#]*)?([^#]*)")


def product_token(user_agent: str) -> str:
    """The product token of a User-Agent or robots.txt user-agent value, lower-cased.

    The first word up to ``/`` or whitespace: ``"shoal/0.1 (+robots: shoal)"`` gives ``"shoal"``.
    ``"*"`` stays ``"*"``; a word with characters RFC 9309 does not allow in a token (anything but
    letters, ``_`` and ``-``) gives ``""``, which matches no group.
    """
    match = _FIRST_WORD.match(user_agent)
    word = match.group(1) if match else ""
    if word == "*":
        return word
    return word.lower() if _IDENTIFIER.fullmatch(word) else ""


def parse_robots_txt(data: bytes | str) -> RobotsTxt:
    """Parse a robots.txt body; never raises, whatever the bytes.

    Bytes are read as UTF-8. Bytes that are not UTF-8 survive as themselves, so a pattern written
    in Latin-1 still matches the URL that percent-encodes the same bytes. The caller limits the
    size (RFC 9309 asks for at least 500 KiB to be parsed).

    >>> robots = parse_robots_txt(b"User-agent: *\\nDisallow: /private/\\n")
    >>> robots.allowed("https://example.org/private/x", "shoal/0.1")
    False
    """
    if isinstance(data, bytes):
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "surrogateescape")
    else:
        text = data.removeprefix("\ufeff")
    groups: list[_Group] = []
    sitemaps: list[str] = []
    group: _Group | None = None
    in_agents = False  # the last significant line was a user-agent line
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        hash_at = line.find("#")
        if hash_at >= 0:
            line = line[:hash_at]
        key, _, value = line.partition(":")
        kind = _KEYS.get(key.strip(_WS).lower())
        if kind is None:
            # "Disallow /x", without the colon: tolerated like the misspellings, for known keys.
            words = line.split(maxsplit=1)
            kind = _KEYS.get(words[0].lower()) if len(words) == 2 else None
            if kind is None:
                continue
            value = words[1]
        value = value.strip(_WS)
        if kind == "sitemap":
            # Not part of any group (RFC 9309 section 2.2.4): where it stands changes nothing.
            if value and len(sitemaps) < _MAX_SITEMAPS:
                sitemaps.append(value)
            continue
        if kind == "agent":
            if group is None or not in_agents:
                group = _Group()
                groups.append(group)
                in_agents = True
            group.agents.append(product_token(value))
        elif group is None:
            continue  # rules before the first user-agent line belong to no group
        elif kind == "delay":
            if _DELAY.fullmatch(value):
                group.delays.append((len(group.agents), float(value)))
        else:
            in_agents = False
            # An empty pattern is a valid rule that matches nothing ("Disallow:" allows all); a
            # pattern must start with "/" (RFC 9309) or "*" (what sites write and crawlers accept).
            if value.startswith(("/", "*")):
                group.rules.append((kind == "allow", value))
    return RobotsTxt(groups, sitemaps)


class RobotsTxt:
    """A parsed robots.txt: which URLs a crawler may fetch, and its crawl delay."""

    def __init__(self, groups: list[_Group], sitemaps: list[str] | None = None) -> None:
        self._groups = groups
        #: The ``Sitemap`` URLs, as written (absolute by the protocol; the caller resolves them).
        self.sitemaps: list[str] = sitemaps or []
        # One compiled rule set per user agent asked about (in practice: our one User-Agent).
        self._compiled: dict[str, _RuleSet] = {}

    def allowed(self, url: str, user_agent: str) -> bool:
        """Whether ``user_agent`` (a User-Agent header value or a product token) may fetch ``url``.

        ``url`` is absolute (``https://host/path?query``) or a bare path (``/path?query``).
        """
        match = _TARGET.match(url)  # every part is optional: it matches any string
        target = match.group(1) if match else url
        if not target.startswith("/"):
            target = "/" + target
        target = _canonical(target)
        if target.partition("?")[0] == "/robots.txt":
            return True
        return self._rules_for(user_agent).allowed(target)

    def crawl_delay(self, user_agent: str) -> float | None:
        """Seconds between requests that the group for ``user_agent`` asks for, if it does.

        ``Crawl-delay`` is not part of RFC 9309; when the lines that apply say it more than once,
        the longest delay is kept, the polite reading.
        """
        return self._rules_for(user_agent).crawl_delay

    def _rules_for(self, user_agent: str) -> _RuleSet:
        rules = self._compiled.get(user_agent)
        if rules is None:
            token = product_token(user_agent)
            groups = [g for g in self._groups if token and token in g.agents]
            if not groups:
                token = "*"
                groups = [g for g in self._groups if token in g.agents]
            # A delay counts if its line came after the token's first user-agent line.
            delays = [d for g in groups for seen, d in g.delays if seen > g.agents.index(token)]
            rules = _RuleSet(groups, max(delays) if delays else None)
            self._compiled[user_agent] = rules
        return rules


@dataclass(slots=True)
class _Group:
    agents: list[str] = field(default_factory=list)  # product tokens, lower-cased; "" is nobody
    rules: list[tuple[bool, str]] = field(default_factory=list)  # (is Allow, pattern as written)
    # (how many user-agent lines of the group came before it, seconds)
    delays: list[tuple[int, float]] = field(default_factory=list)


# A "*" pattern split at its stars: the literal prefix, the pieces to find in order, and the
# literal suffix the path must end with (None without a final "$").
_Glob = tuple[str, tuple[str, ...], str | None]


class _RuleSet:
    """The rules of the groups that apply to one product token, compiled for matching."""

    __slots__ = ("_exact", "_globs", "_lengths", "_prefixes", "crawl_delay")

    def __init__(self, groups: list[_Group], crawl_delay: float | None) -> None:
        self.crawl_delay = crawl_delay
        # Canonical pattern -> is Allow; the same pattern allowed and disallowed is allowed.
        patterns: dict[str, bool] = {}
        for group in groups:
            for allow, written in group.rules:
                pattern = _canonical_pattern(written)
                patterns[pattern] = allow or patterns.get(pattern, False)
        # Invariant: a pattern's priority is its canonical length, "*" and "$" included.
        self._prefixes: dict[int, dict[str, bool]] = {}
        self._exact: dict[str, tuple[int, bool]] = {}
        globs: list[tuple[int, bool, _Glob]] = []
        for pattern, allow in patterns.items():
            anchored = pattern.endswith("$")
            pieces = (pattern[:-1] if anchored else pattern).split("*")
            if len(pieces) == 1 and not anchored:
                self._prefixes.setdefault(len(pattern), {})[pattern] = allow
            elif len(pieces) == 1:
                self._exact[pieces[0]] = (len(pattern), allow)
            else:
                middle = tuple(p for p in pieces[1:-1] if p)
                if anchored:
                    glob: _Glob = (pieces[0], middle, pieces[-1])
                else:
                    glob = (pieces[0], (*middle, pieces[-1]) if pieces[-1] else middle, None)
                globs.append((len(pattern), allow, glob))
        self._lengths = sorted(self._prefixes, reverse=True)
        # Longest first and, at equal length, Allow first: the first match decides.
        globs.sort(key=lambda g: (-g[0], not g[1]))
        self._globs = globs

    def allowed(self, path: str) -> bool:
        """``path`` is canonical (see ``_canonical``) and starts with "/"."""
        best, verdict = -1, True
        size = len(path)
        for length in self._lengths:
            if length <= size:
                hit = self._prefixes[length].get(path[:length])
                if hit is not None:
                    best, verdict = length, hit
                    break
        exact = self._exact.get(path)
        if exact is not None:
            length, allow = exact
            if length > best:
                best, verdict = exact
            elif length == best:
                verdict = verdict or allow
        for length, allow, glob in self._globs:
            if length < best or (length == best and verdict):
                break  # nothing left can beat (or tie with an Allow) what already matched
            if _glob_matches(path, glob):
                # Longer than the best so far, or as long as a Disallow: this rule decides.
                verdict = allow
                break
        return verdict


def _glob_matches(path: str, glob: _Glob) -> bool:
    # Finding each piece at its leftmost place is enough: if any placement matches, that one
    # does, and it never needs to be undone (so no backtracking, whatever the pattern).
    head, pieces, tail = glob
    if not path.startswith(head) or (tail is not None and not path.endswith(tail)):
        return False  # the cheap checks first: most patterns fail on one of them
    at = len(head)
    for piece in pieces:
        at = path.find(piece, at)
        if at < 0:
            return False
        at += len(piece)
    return tail is None or len(path) - len(tail) >= at


def _canonical_pattern(written: str) -> str:
    anchored = written.endswith("$")
    body = written[:-1] if anchored else written
    # Canonicalised piece by piece, so that the stars stay wildcards and a "$" before the end
    # becomes a literal "%24".
    return "*".join(_canonical(piece) for piece in body.split("*")) + ("$" if anchored else "")


def _canonical(text: str) -> str:
    """The form paths and patterns are compared in (module docstring); idempotent."""
    if _NEEDS_CANON.search(text) is None:
        return text  # the common case: a URL that is already plain ASCII without escapes
    return _CANON_PART.sub(_canonical_part, text)


def _canonical_part(match: re.Match[str]) -> str:
    part = match.group()
    if part == "%":
        return "%25"  # a "%" that starts no escape is a literal percent sign
    if part[0] == "%":
        char = chr(int(part[1:], 16))
        return char if char in _UNRESERVED else part.upper()
    try:
        raw = part.encode("utf-8", "surrogateescape")  # undecodable input bytes, as they were
    except UnicodeEncodeError:
        raw = part.encode("utf-8", "surrogatepass")  # lone surrogates from a str: never raise
    return "".join(_ESCAPED[b] for b in raw)
