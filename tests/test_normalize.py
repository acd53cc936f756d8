"""URL normalisation and scope: each page must have exactly one name."""

from __future__ import annotations

import pytest

from shoal.engine._urls import (
    Scope,
    host_key,
    normalize_url,
    origin_of,
    url_fingerprint,
    validate_start_url,
)
from shoal.engine.errors import BadURLError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.ORG/", "http://example.org/"),
        ("http://example.org", "http://example.org/"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("http://example.org/a/./b/../c", "http://example.org/a/c"),
        ("http://example.org/a/b/..", "http://example.org/a/"),
        ("http://example.org/a#frag", "http://example.org/a"),
        ("http://example.org/a?utm_source=x&q=1&fbclid=2", "http://example.org/a?q=1"),
        ("http://example.org/a?utm_medium=y", "http://example.org/a"),
        ("http://example.org/a?b=2&a=1", "http://example.org/a?b=2&a=1"),
        ("http://example.org/%7euser/%2f", "http://example.org/~user/%2F"),
        ("http://example.org/a b", "http://example.org/a%20b"),
        ("http://example.org/caf\u00e9", "http://example.org/caf%C3%A9"),
        ("http://b\u00fccher.example/", "http://xn--bcher-kva.example/"),
        ("  http://example.org/x  ", "http://example.org/x"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("mailto:someone@example.org", None),
        ("javascript:void(0)", None),
        ("ftp://example.org/", None),
        ("http://user:pw@example.org/", None),
        ("http://example.org:99999/", None),
        ("http:///nohost", None),
        ("not a url", None),
    ],
)
def test_normalize(raw: str, expected: str | None) -> None:
    assert normalize_url(raw) == expected


def test_relative_resolution_against_a_base() -> None:
    base = "http://h.test/docs/p/3.html"
    assert normalize_url("7.html", base) == "http://h.test/docs/p/7.html"
    assert normalize_url("../index.html", base) == "http://h.test/docs/index.html"
    assert normalize_url("/root", base) == "http://h.test/root"
    assert normalize_url("//other.test/x", base) == "http://other.test/x"
    assert normalize_url("#top", base) == base
    assert normalize_url("?q=1", base) == "http://h.test/docs/p/3.html?q=1"


def test_equivalent_urls_share_a_fingerprint() -> None:
    a = normalize_url("HTTP://H.test:80/a/../b?utm_campaign=z#x")
    b = normalize_url("http://h.test/b")
    assert a is not None and a == b
    assert url_fingerprint(a) == url_fingerprint(b)
    assert len(url_fingerprint(a)) == 8
    assert url_fingerprint("http://h.test/c") != url_fingerprint(a)


def test_origin_and_host_key() -> None:
    assert origin_of("http://h.test:8080/a/b") == "http://h.test:8080"
    assert host_key("https://h.test/a") == "h.test"
    assert host_key("http://127.0.0.1:9000/") == "127.0.0.1:9000"


def test_validate_start_url() -> None:
    assert validate_start_url("http://h.test") == "http://h.test/"
    with pytest.raises(BadURLError, match="not an absolute http"):
        validate_start_url("h.test/path")


def test_scope_prefix_is_the_default() -> None:
    scope = Scope.from_option(None, ["https://docs.test/guide/index.html"])
    assert scope.allows("https://docs.test/guide/x.html")
    assert scope.allows("http://docs.test/guide/sub/y.html")  # scheme does not matter
    assert not scope.allows("https://docs.test/other/")
    assert not scope.allows("https://docs.test/guidelines")
    assert not scope.allows("https://evil.test/guide/")
    assert not scope.allows("https://docs.test:8443/guide/")


def test_scope_host_domain_and_prefixes() -> None:
    host = Scope.from_option("host", ["http://a.test/x/"])
    assert host.allows("http://a.test/anything") and not host.allows("http://b.a.test/")
    domain = Scope.from_option("domain", ["http://a.test/x/"])
    assert domain.allows("http://b.a.test/y") and domain.allows("http://a.test/")
    assert not domain.allows("http://ba.test/")
    prefixes = Scope.from_option("http://a.test/x/,http://b.test/y/", ["http://a.test/"])
    assert prefixes.allows("http://b.test/y/z") and not prefixes.allows("http://a.test/")
    assert Scope.from_spec(prefixes.to_spec()) == prefixes
    with pytest.raises(BadURLError, match="scope"):
        Scope.from_option("sideways", ["http://a.test/"])
