"""URL normalisation and crawl scope: each page must have exactly one name."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys

import msgspec
import pytest
from yarl import URL

from shoal.engine._urls import (
    TRACKING_PARAMS,
    Scope,
    host_key,
    normalize_host,
    normalize_url,
    origin_of,
    url_fingerprint,
    validate_start_url,
)
from shoal.engine.errors import BadURLError

NORMALISED = [
    # case, default ports, empty path
    ("HTTP://Example.ORG/", "http://example.org/"),
    ("http://example.org", "http://example.org/"),
    ("http://example.org:80/a", "http://example.org/a"),
    ("https://example.org:443/a", "https://example.org/a"),
    ("http://example.org:443/a", "http://example.org:443/a"),
    ("https://example.org:8443/a", "https://example.org:8443/a"),
    ("http://example.org:0080/a", "http://example.org/a"),
    ("http://example.org:/a", "http://example.org/a"),
    ("http://example.org./a", "http://example.org/a"),
    ("http://example.org?q=1", "http://example.org/?q=1"),
    # dot segments
    ("http://example.org/a/./b/../c", "http://example.org/a/c"),
    ("http://example.org/a/b/..", "http://example.org/a/"),
    ("http://example.org/a/b/.", "http://example.org/a/b/"),
    ("http://example.org/../../x", "http://example.org/x"),
    ("http://example.org/a/%2E%2e/b", "http://example.org/b"),
    ("http://example.org/a.b/.c/d..", "http://example.org/a.b/.c/d.."),
    # fragments
    ("http://example.org/a#frag", "http://example.org/a"),
    ("http://example.org/a?q=1#f?g=2", "http://example.org/a?q=1"),
    ("http://example.org#", "http://example.org/"),
    # tracking parameters go, the rest keep their order, an empty query goes
    ("http://example.org/a?utm_source=x&q=1&fbclid=2", "http://example.org/a?q=1"),
    ("http://example.org/a?utm_medium=y", "http://example.org/a"),
    ("http://example.org/a?UTM_Campaign=y&GCLID=1&_ga=2&mc_eid=3&x", "http://example.org/a?x"),
    ("http://example.org/a?utm%5Fsource=x&k=v", "http://example.org/a?k=v"),
    ("http://example.org/a?b=2&a=1", "http://example.org/a?b=2&a=1"),
    ("http://example.org/a?b=2&&a=1&", "http://example.org/a?b=2&a=1"),
    ("http://example.org/a?utmost=1", "http://example.org/a?utmost=1"),
    ("http://example.org/a?", "http://example.org/a"),
    ("http://example.org/a?&", "http://example.org/a"),
    # percent-encoding
    ("http://example.org/%7euser/%2f", "http://example.org/~user/%2F"),
    ("http://example.org/%41%2d%5F%2E%7E", "http://example.org/A-_.~"),
    # ...and escapes yarl decodes on the way out are decoded here: one request, one URL
    ("http://example.org/%3a%40%2b%2F%3f%23%26%3d", "http://example.org/:@%2B%2F%3F%23&="),
    (
        "http://example.org/?a=%3D%26%2B%3B%23&b=%2F%3F%3A%40%21",
        "http://example.org/?a=%3D%26%2B%3B%23&b=/?:@!",
    ),
    ("http://example.org/a b", "http://example.org/a%20b"),
    ("http://example.org/a?q=a b&r=a+b", "http://example.org/a?q=a%20b&r=a+b"),
    ("http://example.org/caf\u00e9?q=\u00e9", "http://example.org/caf%C3%A9?q=%C3%A9"),
    ("http://example.org/100%", "http://example.org/100%25"),
    ("http://example.org/?q=%zz", "http://example.org/?q=%25zz"),
    ("http://example.org/a|b<c>", "http://example.org/a%7Cb%3Cc%3E"),
    ("http://example.org/x\ud800", "http://example.org/x%EF%BF%BD"),
    # hosts
    ("http://b\u00fccher.example/", "http://xn--bcher-kva.example/"),
    ("http://B\u00dcCHER.Example/", "http://xn--bcher-kva.example/"),
    ("http://stra\u00dfe.de/", "http://xn--strae-oqa.de/"),
    ("http://ex%41mple.org/", "http://example.org/"),
    ("http://127.1/", "http://127.0.0.1/"),
    ("http://0x7f.0.0.1:8080/", "http://127.0.0.1:8080/"),
    ("http://2130706433/", "http://127.0.0.1/"),
    ("http://0177.0.0.01/", "http://127.0.0.1/"),
    ("http://\uff11\uff12\uff17.0.0.1/", "http://127.0.0.1/"),
    ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ("http://[0:0:0::1]:80/", "http://[::1]/"),
    ("http://[::FFFF:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
    ("http://my_host.example/", "http://my_host.example/"),
    # whitespace around, tabs and newlines inside, backslashes as slashes
    ("  http://example.org/x  ", "http://example.org/x"),
    ("\thttp://exam\nple.org/a\r\nb\n", "http://example.org/ab"),
    ("http:\\\\example.org\\a\\b?c\\d", "http://example.org/a/b?c%5Cd"),
    # not followed
    ("mailto:someone@example.org", None),
    ("javascript:void(0)", None),
    ("JavaScript:alert(1)", None),
    ("ftp://example.org/", None),
    ("data:text/html,hi", None),
    ("tel:+123", None),
    ("http://user:pw@example.org/", None),
    ("http://user@example.org/", None),
    ("http://@example.org/", None),
    ("http://example.org:99999/", None),
    ("http://example.org:8o/", None),
    ("http://example.org:-1/", None),
    ("http:///nohost", None),
    ("http://", None),
    ("http://./", None),
    ("http://a..b/", None),
    ("http://a b/", None),
    ("http://exa<mple.org/", None),
    ("http://example.123/", None),
    ("http://1.2.3.4.5/", None),
    ("http://256.0.0.1/", None),
    ("http://[::1/", None),
    ("http://[::1]x/", None),
    ("http://[fe80::1%25eth0]/", None),
    ("http://[127.0.0.1]/", None),
    ("http:example.org", None),
    ("not a url", None),
    ("/relative/without/base", None),
    ("", None),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALISED)
def test_normalize(raw: str, expected: str | None) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize("expected", sorted({e for _, e in NORMALISED if e is not None}))
def test_normal_form_is_stable_and_what_aiohttp_requests(expected: str) -> None:
    assert normalize_url(expected) == expected
    # yarl (under aiohttp) leaves it as it is: the URL fingerprinted is the URL requested.
    assert str(URL(expected)) == expected


BASE = "http://h.test/docs/p/3.html?z=1"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("7.html", "http://h.test/docs/p/7.html"),
        ("./7.html", "http://h.test/docs/p/7.html"),
        ("../index.html", "http://h.test/docs/index.html"),
        ("../../../../up.html", "http://h.test/up.html"),
        ("sub/", "http://h.test/docs/p/sub/"),
        (".", "http://h.test/docs/p/"),
        ("..", "http://h.test/docs/"),
        ("/root", "http://h.test/root"),
        ("//other.test/x", "http://other.test/x"),
        ("//OTHER.test:80", "http://other.test/"),
        ("?q=1", "http://h.test/docs/p/3.html?q=1"),
        ("#top", "http://h.test/docs/p/3.html?z=1"),
        ("", "http://h.test/docs/p/3.html?z=1"),
        ("a:b", None),  # a scheme "a", not a path
        ("./a:b", "http://h.test/docs/p/a:b"),
        ("http:g", "http://h.test/docs/p/g"),  # same scheme as the base: relative
        ("https:g", None),
        ("https://secure.test/", "https://secure.test/"),
        ("\\\\other.test\\x", "http://other.test/x"),
        ("\\abs\\path", "http://h.test/abs/path"),
        ("  7.html\n", "http://h.test/docs/p/7.html"),
        ("x.html?utm_source=feed#c", "http://h.test/docs/p/x.html"),
        ("mailto:a@h.test", None),
        ("javascript:void(0)", None),
        ("///nohost", None),
    ],
)
def test_relative_resolution_against_a_base(ref: str, expected: str | None) -> None:
    assert normalize_url(ref, BASE) == expected


def test_the_base_is_normalised_too() -> None:
    raw_base = "HTTP://H.TEST:80/docs/./p/3.html#frag"
    assert normalize_url("7.html", raw_base) == "http://h.test/docs/p/7.html"
    assert normalize_url("7.html", "mailto:x@h.test") is None
    assert normalize_url("7.html", "not a base") is None
    assert normalize_url("http://abs.test/", "not a base") == "http://abs.test/"


def test_tracking_parameter_list() -> None:
    assert {"fbclid", "gclid", "msclkid", "_hsenc", "mkt_tok"} <= TRACKING_PARAMS
    for name in TRACKING_PARAMS:
        assert normalize_url(f"http://h.test/?{name}=1&keep=2") == "http://h.test/?keep=2"


def test_normalize_host() -> None:
    assert normalize_host("Example.ORG.") == "example.org"
    assert normalize_host("b\u00fccher.example") == "xn--bcher-kva.example"
    assert normalize_host("127.1") == "127.0.0.1"
    assert normalize_host("[0::1]") == "[::1]"
    assert normalize_host("::1") is None  # an IPv6 host needs its brackets
    assert normalize_host("a/b") is None
    assert normalize_host("") is None


def test_equivalent_urls_share_a_fingerprint() -> None:
    variants = [
        "HTTP://H.test:80/a/../b?utm_campaign=z#x",
        "http://h.test/b",
        "http://h.test/./b#other",
        "http://h.test/%62",
        "http://h.test./b?fbclid=1",
    ]
    normalised = {normalize_url(v) for v in variants}
    assert normalised == {"http://h.test/b"}
    fingerprints = {url_fingerprint(n) for n in normalised if n is not None}
    assert len(fingerprints) == 1
    assert len(url_fingerprint("http://h.test/b")) == 8
    assert url_fingerprint("http://h.test/c") != url_fingerprint("http://h.test/b")
    assert url_fingerprint("https://h.test/b") != url_fingerprint("http://h.test/b")


def test_fingerprint_is_the_same_in_another_process() -> None:
    code = (
        "from shoal.engine._urls import url_fingerprint;"
        "print(url_fingerprint('http://h.test/caf%C3%A9').hex())"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == url_fingerprint("http://h.test/caf%C3%A9").hex()


def test_origin_and_host_key() -> None:
    assert origin_of("http://h.test:8080/a/b") == "http://h.test:8080"
    assert origin_of("https://h.test/") == "https://h.test"
    assert origin_of("http://[::1]:8080/x?y=/z") == "http://[::1]:8080"
    assert host_key("https://h.test/a") == "h.test"
    assert host_key("http://127.0.0.1:9000/") == "127.0.0.1:9000"
    assert host_key("http://[::1]/a") == "[::1]"
    assert host_key(origin_of("http://h.test:81/a") + "/") == "h.test:81"


def test_validate_start_url() -> None:
    assert validate_start_url("http://h.test") == "http://h.test/"
    assert validate_start_url(" HTTPS://H.test/a/../b ") == "https://h.test/b"
    for bad in ("h.test/path", "ftp://h.test/", "http://user:pw@h.test/", "/x"):
        with pytest.raises(BadURLError, match="not an absolute http"):
            validate_start_url(bad)


@pytest.mark.parametrize(
    ("start", "inside", "outside"),
    [
        (
            "https://docs.test/guide/index.html",
            ["https://docs.test/guide/", "http://docs.test/guide/sub/y.html?q=1"],
            [
                "https://docs.test/other/",
                "https://docs.test/guidelines",
                "https://docs.test/guide",
                "https://evil.test/guide/",
                "https://docs.test:8443/guide/",
                "https://sub.docs.test/guide/",
            ],
        ),
        (
            "https://docs.test/guide/",
            ["https://docs.test/guide/x", "https://docs.test/guide/"],
            ["https://docs.test/", "https://docs.test/x/guide/"],
        ),
        (
            "http://docs.test/?page=/guide/",
            ["http://docs.test/", "http://docs.test/anything/at/all"],
            ["http://docs.test:8080/", "http://other.test/"],
        ),
        (
            "http://127.0.0.1:8000/a/b",
            ["http://127.0.0.1:8000/a/c"],
            ["http://127.0.0.1/a/c", "http://127.0.0.1:8001/a/c"],
        ),
    ],
)
def test_scope_prefix_is_the_default(start: str, inside: list[str], outside: list[str]) -> None:
    for option in (None, "prefix", " PREFIX "):
        scope = Scope.from_option(option, [start])
        for url in inside:
            assert scope.allows(url), (option, url)
        for url in outside:
            assert not scope.allows(url), (option, url)


def test_scope_prefix_with_several_start_urls() -> None:
    scope = Scope.from_option(None, ["http://a.test/x/1.html", "http://b.test/y/"])
    assert scope.allows("http://a.test/x/2.html") and scope.allows("http://b.test/y/z")
    assert not scope.allows("http://a.test/y/") and not scope.allows("http://b.test/x/")


def test_scope_host() -> None:
    scope = Scope.from_option("host", ["http://a.test/x/", "http://c.test:8080/deep/"])
    assert scope.allows("http://a.test/anything") and scope.allows("https://a.test/")
    assert scope.allows("http://c.test:8080/") and not scope.allows("http://c.test/")
    assert not scope.allows("http://b.a.test/") and not scope.allows("http://a.test:81/")


def test_scope_domain() -> None:
    scope = Scope.from_option("domain", ["http://a.test:8080/x/"])
    assert scope.allows("http://a.test/") and scope.allows("https://a.test:9/q")
    assert scope.allows("http://b.a.test/y") and scope.allows("http://c.b.a.test:81/")
    assert not scope.allows("http://ba.test/") and not scope.allows("http://a.test.evil/")
    assert not scope.allows("http://test/")


def test_scope_explicit_prefixes() -> None:
    scope = Scope.from_option("http://a.test/x/, HTTPS://B.test/y,", ["http://a.test/"])
    assert scope.allows("http://a.test/x/z") and scope.allows("http://b.test/yes")
    assert scope.allows("https://a.test/x/")  # prefixes ignore the scheme
    assert not scope.allows("http://a.test/") and not scope.allows("http://b.test/")


@pytest.mark.parametrize("option", ["sideways", "", ",", "http://a.test/,ftp://b/", "/x/"])
def test_scope_refuses_an_unknown_option(option: str) -> None:
    with pytest.raises(BadURLError, match=r"^--scope .*prefix, host, domain") as info:
        Scope.from_option(option, ["http://a.test/"])
    assert "\n" not in str(info.value)


def test_scope_refuses_a_bad_start_url() -> None:
    with pytest.raises(BadURLError):
        Scope.from_option(None, ["mailto:a@b.test"])


def test_scope_travels_to_workers() -> None:
    scope = Scope.from_option("domain", ["http://a.test/"])
    both = Scope(prefixes=("b.test/y/", "a.test/x/"), domains=(".a.test",))
    for original in (scope, both, Scope.from_option(None, ["http://a.test/x/y"])):
        assert pickle.loads(pickle.dumps(original)) == original
        assert msgspec.msgpack.decode(msgspec.msgpack.encode(original), type=Scope) == original
        assert Scope.from_spec(original.to_spec()) == original
    # The spec is kept in the state file to recognise a resumed crawl: its form is fixed.
    assert both.to_spec() == ["p:b.test/y/", "p:a.test/x/", "d:a.test"]
    assert Scope.from_option("http://b.test/y/,http://a.test/x/", []).to_spec() == [
        "p:a.test/x/",
        "p:b.test/y/",
    ]
    with pytest.raises(ValueError, match="scope spec"):
        Scope.from_spec(["x:whatever"])


def test_an_empty_scope_allows_nothing() -> None:
    assert not Scope().allows("http://a.test/")


def test_random_paths_normalise_to_a_fixed_point_that_yarl_keeps() -> None:
    rng = random.Random(20240501)
    pieces = [*"aZ09-._~!$&'()*+,;=:@/?#%[]{}|^`\"<> \\\u00e9\u20ac"]
    pieces += [f"%{i:02x}" for i in range(0x20, 0x80)] + ["%C3%A9", "%ff", "%2e%2E/", "../"]
    for _ in range(3000):
        raw = "http://h.test/" + "".join(rng.choices(pieces, k=rng.randint(0, 12)))
        normalised = normalize_url(raw)
        assert normalised is not None, raw
        assert normalize_url(normalised) == normalised, raw
        assert str(URL(normalised)) == normalised, raw
