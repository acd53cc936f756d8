"""Property tests: the pure functions every page goes through, on inputs nobody wrote by hand.

URL normalisation, the IPC codec, charset decoding and link extraction are run on whatever
Hypothesis builds: random text, URLs assembled from hostile parts, random messages, tag soup.
The examples are derandomised and no example database is written, so the suite is the same
on every run and leaves nothing behind (STYLE 12); ``tests/fuzz_parse.py`` is the open-ended
search. Each bug these properties found has a plain regression test at the end of the file.
"""

from __future__ import annotations

import asyncio
import encodings.aliases
import html
import ipaddress
import types
import typing
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from shoal.engine._charset import decode_html
from shoal.engine._urls import host_key, normalize_url, url_fingerprint
from shoal.engine.errors import IPCError
from shoal.ipc import messages as m
from shoal.ipc.channel import Channel
from shoal.plugins.api import Response
from shoal.plugins.links._parse import parse_links


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,  # lxml and IDNA have slow first calls; speed is bench/'s concern
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- URL strategies ---------------------------------------------------------------------------

_SCHEMES = st.sampled_from(
    ["http", "https", "HTTP", "hTtPs", "ftp", "mailto", "javascript", "data", "a+b-c.d", "1x"]
)
_DNS_LABEL = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
_UNICODE_LABEL = st.text(
    st.characters(categories=["Ll", "Lu", "Lo", "Nd", "Mn", "Pd"]), min_size=1, max_size=8
)
_TRICKY_HOSTS = st.sampled_from(
    [
        "",
        ".",
        "..",
        "a..b",
        "xn--",
        "xn--zz",
        "b\u00fccher.example",
        "stra\u00dfe.de",
        "\u03c2.gr",
        "\uff45\uff58\u3002\uff4f\uff52\uff47",  # full-width letters and ideographic full stop
        "\uff11\uff12\uff17.\uff10.\uff10.\uff11",  # full-width digits: an IPv4 address
        "\u2603.net",
        "a\u200db.test",
        "localhost",
        "ex%41mple.org",
        "%zz.test",
        "%e2%98%83.test",
        "a b.test",
        "a/b",
        "x" * 64 + ".test",
        "a." * 130 + "test",
        "0x",
        "0x7f.1",
        "1.2.3.4.5",
        "256.1.1.1",
        "4294967296",
        "09.1.1.1",
        "1.2.3.4.",
    ]
)


@st.composite
def _ipv4_spelling(draw: st.DrawFn) -> str:
    """An IPv4 address in one of the forms browsers accept: 1 to 4 parts, each dec/oct/hex."""
    value = draw(st.integers(0, 2**32 - 1))
    count = draw(st.integers(1, 4))
    parts = [(value >> (8 * (3 - i))) & 0xFF for i in range(count - 1)]
    parts.append(value & ((1 << (8 * (5 - count))) - 1))
    spelled = []
    for part in parts:
        form = draw(st.sampled_from(["{}", "0{:o}", "0x{:x}", "0X{:X}", "{:05d}"]))
        spelled.append(form.format(part))
    return ".".join(spelled)


@st.composite
def _ipv6_literal(draw: st.DrawFn) -> str:
    address = draw(st.ip_addresses(v=6))
    assert isinstance(address, ipaddress.IPv6Address)
    text = draw(st.sampled_from([address.compressed, address.exploded, str(address).upper()]))
    zone = draw(st.sampled_from(["", "", "%25eth0", "%eth0"]))
    opening, closing = draw(st.sampled_from([("[", "]"), ("[", "]"), ("[", ""), ("", "")]))
    return opening + text + zone + closing


_HOSTS = st.one_of(
    st.lists(_DNS_LABEL, min_size=1, max_size=4).map(".".join),
    st.lists(_UNICODE_LABEL, min_size=1, max_size=3).map(".".join),
    _ipv4_spelling(),
    _ipv6_literal(),
    _TRICKY_HOSTS,
)
_PORTS = st.one_of(
    st.just(""),
    st.sampled_from([":", ":80", ":443", ":0080", ":8080", ":65535", ":65536", ":-1", ":x"]),
    st.integers(0, 99999).map(lambda port: f":{port}"),
)
_SEGMENTS = st.one_of(
    st.sampled_from(
        [
            ".", "..", "%2e", "%2E%2e", ".%2e", "..;jsessionid=ABC", ".;jsessionid=1",
            "a;jsessionid=1", ";JSESSIONID=x", "%3bjsessionid=1", "%41", "%7e", "%7E", "%2f",
            "%2F", "%25", "%", "%z", "%e2%82%ac", "%ff", "a b", "\u00e9", "\u20ac", "~", "\\",
            "%3A", "@", "?",
        ]
    ),
    st.text(max_size=6),
)  # fmt: skip
_PARAMS = st.one_of(
    st.sampled_from(
        [
            "utm_source=x", "UTM_Medium=y", "fbclid=1", "gclid", "jsessionid=2", "PHPSESSID=3",
            "q=1", "a=%3D%26", "b=%2f", "", "x", "x=", "=y", "%75tm_source=z", "q=a+b", "q=a b",
        ]
    ),
    st.text(max_size=6),
)  # fmt: skip
_PATHS = st.lists(_SEGMENTS, max_size=6).map(lambda segments: "/" + "/".join(segments))
_QUERIES = st.one_of(
    st.just(""),
    st.lists(_PARAMS, max_size=5).map(lambda params: "?" + "&".join(params)),
)
_FRAGMENTS = st.one_of(st.just(""), st.text(max_size=6).map(lambda text: "#" + text))
# What browsers strip or drop: C0 controls and spaces around, tabs and newlines inside.
_NOISE = st.sampled_from(["", "", " ", "\t", "\x00", "\x1f ", "\n"])


@st.composite
def _absolute_urls(draw: st.DrawFn) -> str:
    userinfo = draw(st.sampled_from(["", "", "", "user@", "u:p@"]))
    slashes = draw(st.sampled_from(["//", "//", "//", "\\\\", "/\\", "///"]))
    url = (
        draw(_SCHEMES)
        + ":"
        + slashes
        + userinfo
        + draw(_HOSTS)
        + draw(_PORTS)
        + draw(_PATHS)
        + draw(_QUERIES)
        + draw(_FRAGMENTS)
    )
    inner = draw(st.integers(0, len(url)))
    return draw(_NOISE) + url[:inner] + draw(_NOISE).strip() + url[inner:] + draw(_NOISE)


_RELATIVE_URLS = st.one_of(
    st.tuples(st.sampled_from(["//", "\\\\"]), _HOSTS, _PORTS, _PATHS).map("".join),
    st.tuples(_PATHS, _QUERIES, _FRAGMENTS).map("".join),
    st.tuples(_PATHS, _QUERIES).map(lambda parts: "".join(parts).lstrip("/")),
    st.tuples(st.sampled_from(["../", "./", "../../", ""]), _PATHS).map("".join),
    st.tuples(_QUERIES, _FRAGMENTS).map("".join),
    st.sampled_from(["", "#", "?", "http:x", "https:/y", "HTTP:", "http:?q", "a:b", "\\x"]),
)
_URLS = st.one_of(_absolute_urls(), _RELATIVE_URLS, st.text(max_size=40))
_BASES = st.one_of(st.none(), _absolute_urls(), st.text(max_size=20))


def _assert_normalised(url: str) -> None:
    """What every URL normalize_url returns must be: the canonical name of a fetchable page."""
    assert url.isascii(), url
    assert url.startswith(("http://", "https://")), url
    assert "#" not in url, url
    assert normalize_url(url) == url, url
    # yarl (under aiohttp) keeps it as it is: the URL fingerprinted is the URL requested.
    assert str(URL(url)) == url, url


# --- URL properties ---------------------------------------------------------------------------


@_settings(300)
@given(st.text(), st.one_of(st.none(), st.text()))
def test_normalize_url_takes_any_text(url: str, base: str | None) -> None:
    result = normalize_url(url, base)
    if result is not None:
        _assert_normalised(result)


@_settings(100)
@given(st.text(st.characters(codec=None, categories=["Cs", "Cc", "Lo", "Po"])))
def test_normalize_url_takes_lone_surrogates(garbage: str) -> None:
    # Only plugins can hand these over (decoded HTML never has them), but they must not crash.
    for url in (garbage, "http://h.test/" + garbage, "http://" + garbage + "/"):
        result = normalize_url(url, "http://h.test/")
        if result is not None:
            _assert_normalised(result)


@_settings(400)
@given(_absolute_urls())
def test_normalising_is_idempotent(url: str) -> None:
    once = normalize_url(url)
    if once is not None:
        _assert_normalised(once)
        assert normalize_url(once) == once


@_settings(300)
@given(_URLS, _BASES)
def test_resolving_then_normalising_changes_nothing(ref: str, base: str | None) -> None:
    resolved = normalize_url(ref, base)
    if resolved is None:
        return
    _assert_normalised(resolved)
    # An absolute result is the same page whatever page it is found on.
    assert normalize_url(resolved, "https://elsewhere.test/a/b") == resolved
    assert base is not None or _is_absolute(ref)  # without a base, only absolute URLs resolve
    normal_base = None if base is None else normalize_url(base)
    if normal_base is not None:
        # Only the base's canonical form matters (pages are known by their normalised URL).
        assert normalize_url(ref, normal_base) == resolved


def _is_absolute(ref: str) -> bool:
    return normalize_url(ref, None) is not None


@st.composite
def _spellings(draw: st.DrawFn) -> tuple[str, str]:
    """Two spellings of one page: case, default port, fragment, tracking, escapes differ."""
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(st.lists(_DNS_LABEL, min_size=1, max_size=3).map(".".join))
    path = draw(st.lists(st.from_regex(r"[a-z0-9._~-]{0,6}", fullmatch=True), max_size=4))
    query = draw(st.lists(st.from_regex(r"[a-z]{1,3}=[a-z0-9]{0,3}", fullmatch=True), max_size=3))
    plain = f"{scheme}://{host}/{'/'.join(path)}" + ("?" + "&".join(query) if query else "")
    port = ":80" if scheme == "http" else ":443"
    escaped_path = "/".join("".join(f"%{ord(c):02x}" for c in segment) for segment in path)
    noisy_query = [*query, "utm_campaign=x"]
    noisy_query.insert(draw(st.integers(0, len(query))), "fbclid=1")
    noisy = f"{scheme.upper()}://{host.upper()}{port}/{escaped_path}?{'&'.join(noisy_query)}#top"
    return plain, noisy


@_settings(100)
@given(_spellings())
def test_spellings_of_one_page_have_one_name_and_fingerprint(pair: tuple[str, str]) -> None:
    plain, noisy = pair
    name = normalize_url(plain)
    if name is None:  # an all-digit host that is not a valid IPv4 address, say
        assert normalize_url(noisy) is None
        return
    assert normalize_url(noisy) == name
    assert url_fingerprint(name) == url_fingerprint(normalize_url(noisy) or "")
    assert host_key(name) == host_key(normalize_url(noisy) or "")


@_settings(300)
@given(st.text())
def test_fingerprint_and_host_key_take_any_text(text: str) -> None:
    fingerprint = url_fingerprint(text)
    assert isinstance(fingerprint, bytes) and len(fingerprint) == 8
    assert url_fingerprint(text) == fingerprint  # no salt, no state: the same in every process
    assert isinstance(host_key(text), str)


@_settings(100)
@given(_absolute_urls())
def test_host_key_is_the_authority_of_a_normalised_url(url: str) -> None:
    name = normalize_url(url)
    if name is None:
        return
    assert len(url_fingerprint(name)) == 8
    key = host_key(name)
    assert name.split("/")[2] == key and key and "@" not in key
    assert f"{name.partition(':')[0]}://{key}" == name[: name.find("/", name.find("//") + 2)]


# --- the IPC codec ----------------------------------------------------------------------------

# msgpack can carry these, and they come back equal (no NaN: it is not equal to itself).
_MSGPACK_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(max_size=16),
)
_MSGPACK_VALUES = st.recursive(
    _MSGPACK_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_SCALAR_STRATEGIES: dict[Any, st.SearchStrategy[Any]] = {
    int: st.integers(-(2**63), 2**64 - 1),
    float: st.floats(allow_nan=False),
    str: st.text(max_size=20),
    bytes: st.binary(max_size=32),
    bool: st.booleans(),
    type(None): st.none(),
}


def _strategy_for(annotation: Any) -> st.SearchStrategy[Any]:
    """A strategy for a field type of the messages module, from the type alone, so that a field
    added later is covered without touching this file."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return _MSGPACK_VALUES
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*map(_strategy_for, args))
    if origin is list:
        return st.lists(_strategy_for(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(_strategy_for(args[0]), _strategy_for(args[1]), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return _struct_strategy(annotation)
    return _SCALAR_STRATEGIES[annotation]


def _struct_strategy(cls: type[msgspec.Struct]) -> st.SearchStrategy[Any]:
    fields = {field.name: _strategy_for(field.type) for field in msgspec.structs.fields(cls)}
    return st.builds(cls, **fields)


def _members(union: Any) -> list[type[msgspec.Struct]]:
    return list(typing.get_args(union))


_TO_SUPERVISOR = st.one_of(*map(_struct_strategy, _members(m.FromWorker)))
_TO_WORKER = st.one_of(*map(_struct_strategy, _members(m.FromSupervisor)))


# Built as Channel and open_channel() build them: one encoder, one decoder per direction.
_ENCODER = msgspec.msgpack.Encoder()
_FROM_WORKER = msgspec.msgpack.Decoder(m.FromWorker)
_FROM_SUPERVISOR = msgspec.msgpack.Decoder(m.FromSupervisor)


@_settings(150)
@given(_TO_SUPERVISOR)
def test_every_worker_message_round_trips(msg: Any) -> None:
    data = _ENCODER.encode(msg)
    assert _FROM_WORKER.decode(data) == msg
    # Tags are never shared between the directions: a message sent the wrong way is refused.
    with pytest.raises(msgspec.ValidationError):
        _FROM_SUPERVISOR.decode(data)


@_settings(100)
@given(_TO_WORKER)
def test_every_supervisor_message_round_trips(msg: Any) -> None:
    data = _ENCODER.encode(msg)
    assert _FROM_SUPERVISOR.decode(data) == msg
    with pytest.raises(msgspec.ValidationError):
        _FROM_WORKER.decode(data)


@_settings(50)
@given(_struct_strategy(m.WorkerConfig))
def test_worker_config_round_trips(config: m.WorkerConfig) -> None:
    # Not sent over a channel, but it must survive msgpack all the same (new fields default).
    data = _ENCODER.encode(config)
    assert msgspec.msgpack.decode(data, type=m.WorkerConfig) == config


_MUTATED_MESSAGES = st.tuples(_TO_SUPERVISOR, st.data()).map(
    lambda pair: _mutate(_ENCODER.encode(pair[0]), pair[1])
)


def _mutate(data: bytes, draw: st.DataObject) -> bytes:
    """A valid message with one byte changed or the tail cut: close enough to be tricky."""
    buf = bytearray(data)
    at = draw.draw(st.integers(0, len(buf) - 1))
    if draw.draw(st.booleans()):
        buf[at] = draw.draw(st.integers(0, 255))
        return bytes(buf)
    return bytes(buf[:at])


@_settings(200)
@given(st.one_of(st.binary(max_size=64), _MUTATED_MESSAGES))
def test_garbage_fails_only_with_decode_error(data: bytes) -> None:
    for decoder in (_FROM_WORKER, _FROM_SUPERVISOR):
        try:
            decoder.decode(data)
        # ValidationError is a DecodeError too; msgspec raises UnicodeDecodeError for a string
        # that is not UTF-8 (its issue #714), which is why Channel.recv() maps both to IPCError.
        except (msgspec.DecodeError, UnicodeDecodeError):
            pass


async def _recv_frame(frame: bytes) -> Any:
    """What Channel.recv() makes of these bytes (a stream reader stands in for the socket)."""
    reader = asyncio.StreamReader()
    reader.feed_data(frame)
    reader.feed_eof()
    writer: Any = None  # recv() never writes
    channel: Channel[Any] = Channel(reader, writer, msgspec.msgpack.Decoder(m.FromWorker))
    return await channel.recv()


@_settings(100)
@given(st.one_of(st.binary(max_size=48), _MUTATED_MESSAGES.map(lambda b: len(b).to_bytes(4) + b)))
def test_a_channel_maps_garbage_to_ipc_error_or_eof(frame: bytes) -> None:
    try:
        asyncio.run(_recv_frame(frame))
    except (IPCError, EOFError):
        pass


# --- charsets and link extraction -------------------------------------------------------------

# Every label Python knows (including codecs that are not text encodings at all), the labels
# browsers know, and made-up ones: a Content-Type header or a <meta> can say anything.
_CHARSETS = st.one_of(
    st.none(),
    st.sampled_from(sorted({*encodings.aliases.aliases, *encodings.aliases.aliases.values()})),
    st.sampled_from(
        [
            "utf-8", "UTF8", " utf-8 ", '"utf-8"', "windows-1252", "iso-8859-1", "latin1",
            "shift_jis", "euc-jp", "gbk", "gb18030", "big5", "koi8-r", "utf-16", "utf-16le",
            "utf-32", "utf-7", "x-user-defined", "replacement", "iso-2022-jp", "idna",
            "punycode", "undefined", "unicode_escape", "raw_unicode_escape", "rot13", "zlib",
            "mbcs", "", "\x00", "utf\x00-8", "\udcff", "\u00e9",
        ]
    ),
    st.text(max_size=12),
)  # fmt: skip


@_settings(400)
@given(st.binary(max_size=300), _CHARSETS)
def test_decode_html_takes_any_bytes_and_any_label(body: bytes, charset: str | None) -> None:
    text = decode_html(body, charset)
    # Text that cannot be written out as UTF-8 (lone surrogates) would break every plugin.
    text.encode("utf-8")
    response = Response("http://h.test/", "http://h.test/", 200, {}, body, "text/html", charset)
    assert response.text() == text


_FINAL_URLS = st.sampled_from(
    [
        "http://h.test/",
        "https://h.test/dir/page.html?x=1",
        "http://[::1]:8080/a/",
        "http://1.2.3.4/",
    ]
)


def _response(body: bytes, final_url: str, charset: str | None = None) -> Response:
    return Response(final_url, final_url, 200, {}, body, "text/html", charset)


def _assert_links(links: list[str]) -> None:
    assert len(set(links)) == len(links), links
    for link in links:
        _assert_normalised(link)


@_settings(300)
@given(st.binary(max_size=400), _CHARSETS, _FINAL_URLS)
def test_parse_links_takes_any_bytes(body: bytes, charset: str | None, final_url: str) -> None:
    _assert_links(parse_links(_response(body, final_url, charset)).links)


_HREFS = st.one_of(_URLS, st.sampled_from(["", "#", "javascript:void(0)", "mailto:a@b", "/"]))
_ATTRIBUTE_CHARS = st.characters(exclude_categories=["Cs", "Cc", "Cn", "Co"])
_TAGS = ["div", "span", "p", "b", "font", "section", "li", "td", "table", "ul", "form", "a"]
_RAW_TAGS = ["script", "style", "textarea", "title", "template", "svg", "noscript", "select"]
_PROLOGS = st.sampled_from(
    [
        "",
        "<!DOCTYPE html>",
        "\ufeff",
        "<!-- hi -->",
        '<?xml version="1.0" encoding="utf-8"?>',
        '<?xml version="1.0" encoding="utf-8">',  # not closed by "?>": the tokenizer takes ">"
        ' \n<?xml version="1.0" encoding="iso-8859-1" ?>\n<!DOCTYPE html>',
    ]
)
_META_CHARSETS = st.sampled_from(
    ["", '<meta charset="utf-8">', "<meta charset=zlib>", "<meta charset=unicode_escape>"]
)


def _tag_soup() -> st.SearchStrategy[str]:
    """Random HTML-ish text: nested and unclosed elements, links, bases, metas, raw text."""
    leaf = st.one_of(
        st.text(max_size=8),
        _HREFS.map(lambda href: f'<a href="{href}">x</a>'),
        _HREFS.map(lambda href: f"<a href={href}>"),
        _HREFS.map(lambda href: f"<base href='{href}'>"),
        _CHARSETS.map(lambda label: f"<meta charset={label}>"),
        st.sampled_from(["<!--", "-->", "<![CDATA[", "]]>", "&amp", "&#0;", "&#xd800;", "</a>"]),
        st.sampled_from(["<?xml version='1.0'?>", "<html>", "</body>", "<head>", "\x00", "\r"]),
    )

    def nest(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        element = st.tuples(
            st.sampled_from(_TAGS + _RAW_TAGS), st.lists(children, max_size=4), st.booleans()
        )
        return element.map(
            lambda e: f"<{e[0]}>{''.join(e[1])}" + (f"</{e[0]}>" if e[2] else "")
        ) | st.lists(children, max_size=4).map("".join)

    return st.recursive(leaf, nest, max_leaves=30)


@_settings(100)
@given(_PROLOGS, _tag_soup(), st.sampled_from(["utf-8", "cp1252", "utf-16"]), _CHARSETS)
def test_parse_links_takes_tag_soup(
    prolog: str, soup: str, encoding: str, charset: str | None
) -> None:
    body = (prolog + soup).encode(encoding, "surrogatepass" if encoding != "cp1252" else "replace")
    for final_url in ("http://h.test/a/b", "https://[2001:db8::1]/"):
        _assert_links(parse_links(_response(body, final_url, charset)).links)


@st.composite
def _documents(draw: st.DrawFn) -> tuple[bytes, str, list[str], str | None]:
    """A page whose links are known: ``(body, final_url, expected links, expected title)``."""
    final_url = draw(_FINAL_URLS)
    hrefs = draw(st.lists(st.one_of(_HREFS, st.text(_ATTRIBUTE_CHARS, max_size=20)), max_size=6))
    base_href = draw(st.one_of(st.none(), _absolute_urls(), _RELATIVE_URLS))
    title = draw(st.one_of(st.none(), st.text(_ATTRIBUTE_CHARS, max_size=20)))
    depth = draw(st.integers(0, 600))  # browsers have no nesting limit
    wrapper = draw(st.sampled_from(["div", "span", "font", "section", "b"]))
    head = draw(_PROLOGS) + "<html><head>" + draw(_META_CHARSETS)
    if title is not None:
        head += f"<title>{html.escape(title)}</title>"
    if base_href is not None:
        head += f'<base href="{html.escape(base_href)}">'
    anchors = [f'<a href="{html.escape(href)}">{i}</a>' for i, href in enumerate(hrefs)]
    cut = draw(st.integers(0, len(hrefs)))  # the links after the cut are deep in the tree
    body = "".join(anchors[:cut]) + f"<{wrapper}>" * depth + "".join(anchors[cut:])
    page = f"{head}</head><body>{body}</body></html>"
    base = final_url
    if base_href is not None:
        base = normalize_url(base_href.replace("\x00", "\ufffd"), final_url) or final_url
    expected: list[str] = []
    for href in hrefs:
        url = normalize_url(href.replace("\x00", "\ufffd"), base)  # as the HTML tokenizer does
        if url is not None and url not in expected:
            expected.append(url)
    expected_title = " ".join(title.split()) if title else None
    return page.encode("utf-8"), final_url, expected, expected_title or None


@_settings(100)
@given(_documents())
def test_parse_links_finds_every_link_of_a_page(
    doc: tuple[bytes, str, list[str], str | None],
) -> None:
    body, final_url, expected, title = doc
    parsed = parse_links(_response(body, final_url))
    assert parsed.links == expected
    assert parsed.title == title


# --- regressions: what the properties above found ---------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h.test/a/..;jsessionid=ABC/b", "http://h.test/b"),
        ("http://h.test/a/.;jsessionid=1/b", "http://h.test/a/b"),
        ("http://h.test/a/b/..;jsessionid=1", "http://h.test/a/"),
    ],
)
def test_a_session_id_goes_before_dot_segments_are_resolved(url: str, expected: str) -> None:
    # Dropping ";jsessionid=..." after the dot segments left a ".." to resolve on the next pass.
    assert normalize_url(url) == expected
    assert normalize_url(expected) == expected


def test_a_string_that_is_not_utf8_is_an_ipc_error() -> None:
    body = _ENCODER.encode(m.RobotsWanted(origin="abc")).replace(b"abc", b"ab\x80")
    with pytest.raises(IPCError):  # was a bare UnicodeDecodeError out of Channel.recv()
        asyncio.run(_recv_frame(len(body).to_bytes(4) + body))


PAGE = "<title>Caf\u00e9</title><a href='/x'>x</a>".encode()


@pytest.mark.parametrize(
    "label",
    ["zlib", "base64", "rot13", "idna", "punycode", "undefined", "utf-7", "unicode_escape",
     "raw_unicode_escape", "utf\x00-8", "\udcff"],
)  # fmt: skip
def test_codecs_no_browser_knows_are_unknown_labels(label: str) -> None:
    # These raised (LookupError, UnicodeError, ValueError) or made lone surrogates.
    assert decode_html(PAGE, label) == decode_html(PAGE)
    assert decode_html(f"<meta charset={label}>".encode(errors="replace") + PAGE).endswith(
        decode_html(PAGE)
    )


def test_a_page_that_names_a_binary_codec_keeps_its_links() -> None:
    parsed = parse_links(_response(b"<meta charset=zlib>" + PAGE, "http://h.test/"))
    assert parsed == parse_links(_response(PAGE, "http://h.test/"))
    assert parsed.links == ["http://h.test/x"]


@pytest.mark.parametrize(
    "wrapper", ["<div>" * 1000, "<table><tr><td>" * 300, "<font><b>" * 500, "<ul><li>" * 600]
)
def test_links_deep_in_a_page_are_found(wrapper: str) -> None:
    # libxml2 stopped at a depth of 256, silently: every link after that point was lost.
    body = f"<a href=/a>a</a>{wrapper}<a href=/b>b</a>".encode()
    assert parse_links(_response(body, "http://h.test/")).links == [
        "http://h.test/a",
        "http://h.test/b",
    ]


def test_an_xml_declaration_without_question_mark_is_dropped() -> None:
    # It was kept, and lxml refuses text that starts with an encoding declaration: no links.
    body = b'<?xml version="1.0" encoding="utf-8"><html><body><a href="/x">x</a></body></html>'
    assert decode_html(body).startswith("<html>")
    assert parse_links(_response(body, "http://h.test/")).links == ["http://h.test/x"]
