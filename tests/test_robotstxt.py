"""robots.txt parsing and matching (RFC 9309), against the pure module: no network."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.engine._robots import ROBOTS_MAX_BYTES, robots_policy
from shoal.engine._robotstxt import _canonical, parse_robots_txt, product_token

UA = "shoal/0.1 (+robots: shoal)"  # the default User-Agent; its product token is "shoal"

# Deterministic (STYLE: no test that passes or fails by luck) and no .hypothesis/ directory.
_PROPERTY = settings(derandomize=True, database=None, max_examples=300, deadline=None)


def allowed(robots: str | bytes, path: str, user_agent: str = UA) -> bool:
    return parse_robots_txt(robots).allowed("https://example.org" + path, user_agent)


# --- groups and user agents -------------------------------------------------------------------


def test_sitemap_between_user_agent_lines_keeps_one_group() -> None:
    robots = "User-agent: other\nSitemap: https://example.org/s.xml\nUser-agent: shoal\n"
    robots += "Disallow: /private/\n"
    assert not allowed(robots, "/private/x")
    assert not allowed(robots, "/private/x", "other")
    assert allowed(robots, "/private/x", "third")


def test_unknown_lines_and_blank_lines_inside_a_group_do_not_end_it() -> None:
    robots = (
        "User-agent: shoal\n"
        "Disallow: /a\n"
        "Sitemap: https://example.org/s.xml\n"
        "Host: example.org\n"
        "\n"
        "# a comment\n"
        "Disallow: /b\n"
        "User-agent: *\n"
        "Disallow: /c\n"
    )
    assert not allowed(robots, "/a")
    assert not allowed(robots, "/b")
    assert allowed(robots, "/c")  # our group is used, not the "*" one
    assert not allowed(robots, "/c", "other")
    assert allowed(robots, "/b", "other")


def test_a_user_agent_line_after_rules_starts_a_new_group() -> None:
    robots = "User-agent: other\nDisallow: /a\nUser-agent: shoal\nDisallow: /b\n"
    assert allowed(robots, "/a")
    assert not allowed(robots, "/b")


def test_crawl_delay_between_user_agent_lines_keeps_one_group() -> None:
    # As Google's reference parser reads it; the delay is only for the agent named before it.
    robots = "User-agent: other\nCrawl-delay: 3\nUser-agent: shoal\nDisallow: /x\n"
    rules = parse_robots_txt(robots)
    assert not rules.allowed("/x", "other")
    assert not rules.allowed("/x", UA)
    assert rules.crawl_delay("other") == 3.0
    assert rules.crawl_delay(UA) is None


@pytest.mark.parametrize(
    "value",
    ["shoal", "Shoal", "SHOAL", "shoal/2.0", "Shoal/2.0 extra words", "shoal extra", "\tshoal "],
)
def test_user_agent_value_is_matched_by_its_first_token(value: str) -> None:
    robots = f"User-agent: {value}\nDisallow: /\n"
    assert not allowed(robots, "/page")


@pytest.mark.parametrize("value", ["shoal-bot", "shoals", "sho", "shoal2", "shoal.bot", "xshoal"])
def test_other_tokens_do_not_match(value: str) -> None:
    robots = f"User-agent: {value}\nDisallow: /\n"
    assert allowed(robots, "/page")


def test_hyphen_and_underscore_are_part_of_a_token() -> None:
    robots = "User-agent: Shoal-Bot/2.0\nDisallow: /\nUser-agent: my_bot\nDisallow: /x\n"
    assert not allowed(robots, "/page", "shoal-bot/1.0")
    assert allowed(robots, "/page", "shoal")
    assert not allowed(robots, "/x", "My_Bot")


def test_an_invalid_token_names_nobody_but_still_starts_a_group() -> None:
    # "bot2" is not a valid token: its rules must not fall into the "*" group before it.
    robots = "User-agent: *\nDisallow: /a\nUser-agent: bot2\nDisallow: /b\n"
    assert not allowed(robots, "/a")
    assert allowed(robots, "/b")
    assert allowed(robots, "/b", "bot2/1.0")


@pytest.mark.parametrize(
    ("user_agent", "token"),
    [
        ("shoal/0.1 (+robots: shoal)", "shoal"),
        ("Shoal-Bot/2.0 extra words", "shoal-bot"),
        ("shoal", "shoal"),
        ("  shoal/1", "shoal"),
        ("*", "*"),
        ("bot2/1.0", ""),
        ("", ""),
        ("/1.0", ""),
    ],
)
def test_product_token(user_agent: str, token: str) -> None:
    assert product_token(user_agent) == token


def test_groups_naming_the_same_agent_are_merged() -> None:
    robots = (
        "User-agent: shoal\nDisallow: /a\n"
        "User-agent: other\nDisallow: /b\n"
        "User-agent: SHOAL/9\nDisallow: /c\nAllow: /a/open\n"
    )
    assert not allowed(robots, "/a")
    assert allowed(robots, "/b")
    assert not allowed(robots, "/c")
    assert allowed(robots, "/a/open")  # the longest match across the merged groups


def test_star_groups_are_merged_too() -> None:
    robots = "User-agent: *\nDisallow: /a\nUser-agent: other\nDisallow: /\nUser-agent: *\n"
    robots += "Disallow: /b\n"
    assert not allowed(robots, "/a")
    assert not allowed(robots, "/b")
    assert allowed(robots, "/c")


def test_no_matching_group_uses_the_star_group() -> None:
    robots = "User-agent: other\nDisallow: /\nUser-agent: *\nDisallow: /private\n"
    assert allowed(robots, "/public")
    assert not allowed(robots, "/private")


def test_no_matching_group_and_no_star_group_allows_everything() -> None:
    assert allowed("User-agent: other\nDisallow: /\n", "/page")
    assert allowed("", "/page")
    assert allowed("# nothing but a comment\n", "/page")


def test_rules_before_any_user_agent_line_are_ignored() -> None:
    robots = "Disallow: /\nCrawl-delay: 9\nUser-agent: *\nDisallow: /x\n"
    assert allowed(robots, "/page")
    assert not allowed(robots, "/x")
    assert parse_robots_txt(robots).crawl_delay(UA) is None


# --- rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["allow first", "disallow first"])
def test_longest_match_wins_whatever_the_order(order: str) -> None:
    lines = ["Allow: /folder/page", "Disallow: /folder/"]
    if order == "disallow first":
        lines.reverse()
    robots = "User-agent: *\n" + "\n".join(lines) + "\n"
    assert allowed(robots, "/folder/page.html")
    assert not allowed(robots, "/folder/other.html")
    assert allowed(robots, "/elsewhere")


def test_longer_disallow_beats_shorter_allow() -> None:
    robots = "User-agent: *\nAllow: /a\nDisallow: /a/b\n"
    assert allowed(robots, "/a/c")
    assert not allowed(robots, "/a/b/c")


@pytest.mark.parametrize(
    "rules",
    [
        "Disallow: /page\nAllow: /page\n",
        "Allow: /page\nDisallow: /page\n",
        "Disallow: /p*ge\nAllow: /pa*e\n",
        "Disallow: /page$\nAllow: /page*\n",
        "Disallow: /page\nAllow: /pag*\n",
        "Disallow: /pa*e\nAllow: /page\n",
    ],
)
def test_allow_wins_a_tie(rules: str) -> None:
    assert allowed("User-agent: *\n" + rules, "/page")


def test_length_is_counted_after_normalisation() -> None:
    # "/%7Ea" is "/~a" (3 octets), shorter than the Allow (4 octets).
    robots = "User-agent: *\nDisallow: /%7Ea\nAllow: /~ab\n"
    assert allowed(robots, "/~abc")
    # "/ä" is "/%C3%A4" (7 octets), longer than the Allow (6 octets).
    robots = "User-agent: *\nDisallow: /ä\nAllow: /%C3%A\n"
    assert not allowed(robots, "/%C3%A4x")


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/fish", "/fish", True),
        ("/fish", "/fish.html", True),
        ("/fish", "/fish/salmon.html", True),
        ("/fish", "/Fish.asp", False),  # case-sensitive
        ("/fish", "/catfish", False),  # from the first octet
        ("/fish/", "/fish", False),
        ("/fish*", "/fishheads", True),
        ("/*.php", "/index.php", True),
        ("/*.php", "/folder/filename.php?parameters", True),
        ("/*.php", "/windows.PHP", False),
        ("/*.php$", "/filename.php", True),
        ("/*.php$", "/filename.php?parameters", False),
        ("/*.php$", "/filename.php5", False),
        ("/fish*.php", "/fish.php", True),
        ("/fish*.php", "/fishheads/catfish.php?parameters", True),
        ("/fish*.php", "/Fish.PHP", False),
        ("/a*b*c", "/abc", True),
        ("/a*b*c", "/axxbyyczz", True),
        ("/a*b*c", "/acb", False),
        ("/a*b$", "/abab", True),
        ("/a*b$", "/aba", False),
        ("/a$", "/a", True),
        ("/a$", "/ab", False),
        ("/$", "/", True),
        ("/$", "/x", False),
        ("*", "/anything", True),
        ("*.gif$", "/img/a.gif", True),
        ("/**x", "/aax", True),
        ("/a$b", "/a$b", True),  # "$" before the end is literal
        ("/a$b", "/ab", False),
        ("/*?sort=", "/list?sort=asc", True),
        ("/*?sort=", "/list?page=2&sort=asc", False),
        ("/*sort=", "/list?page=2&sort=asc", True),
        ("/search?q", "/search?q=x", True),
        ("/search?q", "/search", False),
        ("/a%2A", "/a*b", True),  # a literal star, written encoded (RFC 9309 2.2.3)
        ("/a%2A", "/ab", False),
        ("/foo-%24", "/foo-$", True),  # a literal dollar
    ],
)
def test_pattern_matching(pattern: str, path: str, matches: bool) -> None:
    robots = f"User-agent: *\nDisallow: {pattern}\n"
    assert allowed(robots, path) is not matches


def test_query_is_part_of_the_matched_path_and_the_fragment_is_not() -> None:
    rules = parse_robots_txt("User-agent: *\nDisallow: /p?private\n")
    assert not rules.allowed("https://example.org/p?private=1", UA)
    assert rules.allowed("https://example.org/p?public=1", UA)
    assert rules.allowed("https://example.org/p#?private", UA)


def test_url_forms() -> None:
    rules = parse_robots_txt("User-agent: *\nDisallow: /$\nDisallow: /?\n")
    assert not rules.allowed("https://example.org", UA)  # an empty path is "/"
    assert not rules.allowed("https://example.org/", UA)
    assert not rules.allowed("https://example.org?x=1", UA)
    assert not rules.allowed("http://user@example.org:8080/", UA)
    assert not rules.allowed("/", UA)
    assert rules.allowed("https://example.org/a", UA)


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/foo/bar/ツ", "/foo/bar/%E3%83%84"),  # UTF-8 in the file, escaped in the URL
        ("/foo/bar/%E3%83%84", "/foo/bar/ツ"),  # and the other way round
        ("/foo/bar/%e3%83%84", "/foo/bar/%E3%83%84"),  # hex digits in either case
        ("/foo/bar/%E3%83%84", "/foo/bar/%e3%83%84"),
        ("/foo/bar/%62%61%7A", "/foo/bar/baz"),  # escaped unreserved characters
        ("/foo/bar/baz", "/foo/bar/%62%61%7A"),
        ("/~user", "/%7Euser"),
        ("/%7euser", "/~user"),
        ("/a%2Fb", "/a%2fb"),
        ("/a b", "/a%20b"),
        ("/100%", "/100%25"),
        ("/q?x=https%3A%2F%2Ffoo", "/q?x=https%3a%2f%2ffoo"),
    ],
)
def test_percent_encoding_compares_equal(pattern: str, path: str) -> None:
    assert not allowed(f"User-agent: *\nDisallow: {pattern}\n", path)


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/a%2Fb", "/a/b"),  # an escaped "/" is not a "/" (reserved characters stay escaped)
        ("/a/b", "/a%2Fb"),
        ("/q?x=https://foo", "/q?x=https%3A%2F%2Ffoo"),
        ("/%E3%83%84", "/%E3%83%85"),
    ],
)
def test_escaped_reserved_characters_stay_distinct(pattern: str, path: str) -> None:
    assert allowed(f"User-agent: *\nDisallow: {pattern}\n", path)


def test_non_utf8_bytes_in_the_file_match_their_escapes() -> None:
    robots = b"User-agent: *\nDisallow: /caf\xe9\n"  # Latin-1, not UTF-8
    assert not allowed(robots, "/caf%E9")
    assert allowed(robots, "/caf%C3%A9")


@pytest.mark.parametrize(
    "robots",
    [
        "User-agent: *\nDisallow: /\n",
        "User-agent: *\nDisallow: /robots.txt\n",
        "User-agent: *\nDisallow: /robots\n",
        "User-agent: *\nDisallow: *\n",
        "User-agent: shoal\nDisallow: /\n",
    ],
)
def test_robots_txt_is_always_allowed(robots: str) -> None:
    assert allowed(robots, "/robots.txt")
    assert allowed(robots, "/robots.txt?x=1")
    assert allowed(robots, "/robots%2Etxt")
    assert not allowed(robots, "/robots.txt.bak")


def test_empty_disallow_allows_everything() -> None:
    assert allowed("User-agent: *\nDisallow:\n", "/anything")
    assert allowed("User-agent: *\nDisallow: \n", "/")
    # Our own group's empty Disallow is used instead of the "*" group's Disallow: /.
    robots = "User-agent: *\nDisallow: /\n\nUser-agent: shoal\nDisallow:\n"
    assert allowed(robots, "/anything")
    assert not allowed(robots, "/anything", "other")


def test_empty_disallow_still_ends_the_user_agent_lines() -> None:
    robots = "User-agent: other\nDisallow:\nUser-agent: shoal\nDisallow: /x\n"
    assert allowed(robots, "/x", "other")
    assert not allowed(robots, "/x")


def test_a_pattern_must_start_with_a_slash_or_a_star() -> None:
    robots = "User-agent: *\nDisallow: private\nDisallow: $\n"
    assert allowed(robots, "/private")
    assert allowed(robots, "/")


# --- lines, keys, encodings -------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings(newline: str) -> None:
    robots = newline.join(["User-agent: *", "Disallow: /a", "Allow: /a/b", ""])
    assert not allowed(robots, "/a")
    assert allowed(robots, "/a/b")
    assert not allowed(robots.encode(), "/a")


@pytest.mark.parametrize(
    "robots",
    [
        b"\xef\xbb\xbfUser-agent: *\nDisallow: /private\n",
        "\ufeffUser-agent: *\nDisallow: /private\n",
        b"\xef\xbb\xbfUser-agent: *\r\nDisallow: /private\r\n",
    ],
)
def test_a_leading_bom_is_ignored(robots: str | bytes) -> None:
    assert not allowed(robots, "/private")
    assert allowed(robots, "/public")


@pytest.mark.parametrize(
    "line",
    [
        "Disallow: /x",
        "disallow: /x",
        "DISALLOW:/x",
        "  Disallow  :   /x   ",
        "\tDisallow:\t/x\t",
        "Disallow: /x # the rest is a comment",
        "Disallow: /x#comment",
        "Disallow /x",  # no colon
        "Dissallow: /x",  # misspellings
        "Disalow: /x",
    ],
)
def test_rule_line_syntax(line: str) -> None:
    robots = f"user-AGENT :shoal\n{line}\n"
    assert not allowed(robots, "/x")
    assert allowed(robots, "/y")


@pytest.mark.parametrize("line", ["User-agent shoal", "useragent: shoal", "User agent: shoal"])
def test_user_agent_line_syntax(line: str) -> None:
    assert not allowed(f"{line}\nDisallow: /\n", "/x")


def test_comment_only_and_garbage_lines_are_ignored() -> None:
    robots = "# hello\n:::\nnonsense\nUser-agent: *  # everyone\n\x00\nDisallow: /x # no\n"
    assert not allowed(robots, "/x")
    assert allowed(robots, "/y")


# --- crawl-delay --------------------------------------------------------------------------------


def test_crawl_delay_of_the_matched_group() -> None:
    robots = (
        "User-agent: *\nCrawl-delay: 10\n"
        "User-agent: shoal\nCrawl-delay: 0.25\nDisallow: /x\n"
        "User-agent: other\nDisallow: /\n"
    )
    rules = parse_robots_txt(robots)
    assert rules.crawl_delay(UA) == 0.25
    assert rules.crawl_delay("third/1.0") == 10.0
    assert rules.crawl_delay("other") is None


@pytest.mark.parametrize(
    ("value", "delay"),
    [("5", 5.0), ("0", 0.0), ("1.5", 1.5), (".5", 0.5), ("2.", 2.0), (" 3 ", 3.0)],
)
def test_crawl_delay_values(value: str, delay: float) -> None:
    rules = parse_robots_txt(f"User-agent: *\nCrawl-delay:{value}\n")
    assert rules.crawl_delay(UA) == delay


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "1e3", "soon", "", "1,5", "0x10"])
def test_invalid_crawl_delays_are_ignored(value: str) -> None:
    assert parse_robots_txt(f"User-agent: *\nCrawl-delay: {value}\n").crawl_delay(UA) is None


def test_the_longest_crawl_delay_of_the_merged_groups_is_kept() -> None:
    robots = "User-agent: shoal\nCrawl-delay: 2\nUser-agent: x\nDisallow:\nUser-agent: shoal\n"
    robots += "Crawl-delay: 4\nCrawl-delay: 1\n"
    assert parse_robots_txt(robots).crawl_delay(UA) == 4.0


def test_no_crawl_delay() -> None:
    assert parse_robots_txt("User-agent: *\nDisallow: /\n").crawl_delay(UA) is None
    assert parse_robots_txt("").crawl_delay(UA) is None


# --- size and cost ------------------------------------------------------------------------------


def _padded(size: int, last_line: str) -> bytes:
    line = b"Disallow: /padding/" + b"x" * 60 + b"\n"
    head = b"User-agent: *\n"
    tail = last_line.encode()
    count = (size - len(head) - len(tail)) // len(line) + 1
    return head + line * count + tail


def test_a_500_kib_file_is_read_to_its_last_line() -> None:
    body = _padded(500 * 1024, "Disallow: /last")  # no final newline either
    assert len(body) > 500 * 1024
    assert not allowed(body, "/last")
    assert allowed(body, "/first")
    rules = robots_policy(200, body)
    assert not rules.allowed("https://example.org/last", UA)


def test_parsing_the_largest_file_is_fast() -> None:
    # Varied patterns, some with wildcards, so compiling the rules is measured too.
    lines = [f"Disallow: /section-{i}/page-{i % 97}.html" for i in range(6000)]
    lines += [f"Allow: /*/page-{i}.html$" for i in range(2000)]
    body = ("User-agent: *\n" + "\n".join(lines) + "\n").encode()
    body = (body * (ROBOTS_MAX_BYTES // len(body) + 1))[:ROBOTS_MAX_BYTES]
    started = time.perf_counter()
    rules = parse_robots_txt(body)
    rules.allowed("https://example.org/section-1/page-1.html", UA)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"parsing and compiling 512 KiB took {elapsed:.2f} s"
    assert not rules.allowed("https://example.org/section-5/page-5.html", UA)
    assert rules.allowed("https://example.org/section-5/page-7.html", UA)


def test_a_hostile_wildcard_pattern_does_not_backtrack() -> None:
    robots = "User-agent: *\nDisallow: /" + "*a" * 40 + "*b\n"
    path = "/" + "a" * 20_000
    started = time.perf_counter()
    assert allowed(robots, path)
    assert time.perf_counter() - started < 0.5


def test_the_file_past_robots_max_bytes_is_ignored() -> None:
    body = _padded(ROBOTS_MAX_BYTES + 1024, "Disallow: /past-the-limit\n")
    rules = robots_policy(200, body)
    assert rules.allowed("https://example.org/past-the-limit", UA)
    assert not rules.allowed("https://example.org/padding/" + "x" * 60, UA)


# --- robots_policy: the HTTP status decides first -----------------------------------------------


def test_robots_policy_statuses() -> None:
    body = b"User-agent: *\nDisallow: /x\nCrawl-delay: 2\n"
    ok = robots_policy(200, body)
    assert not ok.allowed("https://example.org/x", UA)
    assert ok.allowed("https://example.org/y", UA)
    assert ok.crawl_delay(UA) == 2.0
    assert not ok.unavailable
    for status in (401, 403, 404, 410):
        missing = robots_policy(status, body)
        assert missing.allowed("https://example.org/x", UA)
        assert missing.crawl_delay(UA) is None
    for status in (0, 500, 503):
        down = robots_policy(status, body, reason="boom" if status == 0 else "")
        assert not down.allowed("https://example.org/y", UA)
        assert down.unavailable
        assert down.reason == ("boom" if status == 0 else f"HTTP {status}")
    refused = robots_policy(0, b"", refused=True)
    assert refused.allowed("https://example.org/x", UA)
    assert not refused.unavailable


# --- properties -----------------------------------------------------------------------------


@_PROPERTY
@given(st.text())
def test_any_text_parses_and_robots_txt_stays_allowed(text: str) -> None:
    rules = parse_robots_txt(text)
    assert rules.allowed("https://example.org/robots.txt", UA)
    rules.allowed("https://example.org/some/page?q=1", UA)
    rules.crawl_delay(UA)


@_PROPERTY
@given(st.binary())
def test_any_bytes_parse_and_robots_txt_stays_allowed(data: bytes) -> None:
    rules = parse_robots_txt(data)
    assert rules.allowed("https://example.org/robots.txt", UA)
    rules.allowed("https://example.org/x", UA)


_LINE = st.sampled_from(
    ["User-agent: *", "User-agent: shoal", "User-agent: other", "Sitemap: /s", "", "# c"]
) | st.builds(
    "{}: {}".format,
    st.sampled_from(["Allow", "Disallow", "Crawl-delay", "user-agent"]),
    st.text(st.sampled_from("/*$%?ab\u00e9 #\t:"), max_size=8),
)


@_PROPERTY
@given(st.lists(_LINE, max_size=12), st.sampled_from(["\n", "\r\n", "\r"]), st.text(max_size=20))
def test_robots_like_files_never_raise(lines: list[str], newline: str, url_path: str) -> None:
    rules = parse_robots_txt(newline.join(lines))
    assert rules.allowed("https://example.org/robots.txt", UA)
    rules.allowed("https://example.org/" + url_path, UA)
    rules.allowed(url_path, url_path)
    delay = rules.crawl_delay(UA)
    assert delay is None or delay >= 0


@_PROPERTY
@given(st.text())
def test_canonical_form_is_idempotent_and_ascii(text: str) -> None:
    once = _canonical(text)
    assert once.isascii()
    assert _canonical(once) == once


def _reference_allowed(rules: list[tuple[bool, str]], path: str) -> bool:
    """The RFC read literally: try every rule, keep the longest match, Allow on a tie."""
    best: tuple[int, bool] | None = None
    for allow, pattern in rules:
        anchored = pattern.endswith("$")
        body = pattern[:-1] if anchored else pattern
        regex = "".join(".*" if c == "*" else re.escape(c) for c in body)
        if re.match(regex + (r"\Z" if anchored else ""), path, re.DOTALL):
            key = (len(pattern), allow)
            best = key if best is None else max(best, key)
    return best is None or best[1]


_RULE = st.tuples(
    st.booleans(),
    st.builds("{}{}".format, st.sampled_from("/*"), st.text(st.sampled_from("/ab*$"), max_size=6)),
)


@_PROPERTY
@given(st.lists(_RULE, max_size=8), st.text(st.sampled_from("/ab"), max_size=8))
def test_matcher_agrees_with_trying_every_rule(rules: list[tuple[bool, str]], tail: str) -> None:
    robots = "User-agent: *\n" + "".join(
        f"{'Allow' if allow else 'Disallow'}: {pattern}\n" for allow, pattern in rules
    )
    path = "/" + tail
    expected = _reference_allowed(rules, path)
    assert parse_robots_txt(robots).allowed("https://example.org" + path, UA) is expected


def test_sitemap_lines_are_collected_wherever_they_stand() -> None:
    robots = parse_robots_txt(
        b"Sitemap: https://a.example/one.xml\nUser-agent: *\nsitemap:https://a.example/two.xml\n"
        b"Disallow: /x\n# Sitemap: https://a.example/comment.xml\nSitemap:\n"
    )
    assert robots.sitemaps == ["https://a.example/one.xml", "https://a.example/two.xml"]
    assert not robots.allowed("/x", "shoal")  # the sitemap line split nothing
