"""Fuzz the HTML parsing path (``decode_html`` and ``parse_links``, in this process) for a while.

    .venv/bin/python tests/fuzz_parse.py --seconds 60 [--seed N] [--engine auto|atheris|random]
    .venv/bin/python tests/fuzz_parse.py --runs 5000 --seed 7      # a fixed number of inputs
    .venv/bin/python tests/fuzz_parse.py --replay /tmp/shoal-fuzz-crash-....html

Inputs start from a few realistic pages and are mutated: bit flips, inserted tags and links,
deep nesting, huge attributes, NULs, invalid UTF-8, byte order marks, re-encodings. Each input
is decoded with a charset label picked from its own bytes (none half the time, else a real,
aliased, binary or made-up label) and its links extracted.

Neither function documents an exception: ``decode_html`` takes any bytes and any label and
``parse_links`` returns no links for a document lxml refuses. So every exception is a failure,
as is a broken invariant (text that cannot be written as UTF-8; a link that is not an absolute
http(s) URL that ``normalize_url`` leaves unchanged, or that appears twice), or one input that
takes longer than ``--slow`` seconds. The first failure is written under the system's temp
directory, with its traceback beside it, and the script exits 1.

Engines: atheris (coverage-guided libFuzzer, with the mutations above as its custom mutator)
when it is installed (``.venv/bin/pip install atheris``); it is not a declared dependency, so
without it a plain random mutator runs the same mutations, unguided. Either way the same
``--seed`` gives the same inputs in the same order; ``--runs`` prints a digest of them to
show it.
"""

from __future__ import annotations

import argparse
import codecs
import hashlib
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

# --- seed pages (written for this script) -----------------------------------------------------

_SEEDS: list[bytes] = [
    b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Field notes &amp; sketches</title>
<base href="https://notes.example/blog/">
<link rel="stylesheet" href="/static/site.css"></head>
<body><nav><a href="/">Home</a> | <a href="archive/2023/">Archive</a> |
<a href="https://notes.example/about#team">About</a> |
<a href="mailto:hi@notes.example">Mail</a></nav>
<article><h1>Tide pools</h1><p>Anemones, <em>limpets</em> and a crab called
<a href="../people/ana?utm_source=feed&amp;ref=3">Ana</a>.
Caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\xa6\x80</p>
<img src="crab.jpg" alt=""><a href="?page=2">next</a> <a href="#top">top</a>
<a href="javascript:void(0)">share</a></article></body></html>""",
    b"""<HTML><HEAD>
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=windows-1252">
<TITLE>Caf\xe9 Menu</TITLE></HEAD>
<BODY BGCOLOR=white><TABLE BORDER=0><TR><TD><FONT FACE=Arial><B>
<A HREF=menu.html>Menu</A><TD><A HREF="HTTP://WWW.Example.COM:80/%7Echef/">Chef</A>
<TR><TD COLSPAN=2><A HREF='prices.asp;jsessionid=0AB12?x=1&y=2'>Prices \x96 \x93new\x94</A>
</TABLE><MAP NAME=m><AREA HREF="/map/north" SHAPE=rect COORDS="0,0,10,10"></MAP>
<P>Open 9\x969<P>Call us<BR><A HREF=\\\\cdn.example\\img\\logo.gif>logo</A></BODY></HTML>""",
    b"""\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Docs</title></head>
<body><ul><li><a href="http://[2001:db8::1]:8080/api">API</a></li>
<li><a href="http://0x7f.1/local">loopback</a></li>
<li><a href="//b\xc3\xbccher.example/">IDN</a></li>
<li><a href="http://xn--nxasmq6b.example/%E2%82%AC?q=%zz">escapes</a></li></ul>
<![CDATA[ <a href="/not-a-link"> ]]><svg><a xlink:href="/svg-link"><text>s</text></a></svg>
<script>document.write('<a href="/scripted">x</a>');</script>
<template><a href="/templated">t</a></template></body></html>""",
    "<html><head><meta charset=shift_jis><title>\u6771\u4eac\u306e\u5929\u6c17</title>"
    "</head><body><p>\u4eca\u65e5\u306f\u6674\u308c\u3002<a href='/tenki/\u6771\u4eac'>"
    "\u8a73\u3057\u304f</a></p><!-- <a href='/commented'> --></body></html>".encode("shift_jis"),
    b"<p>unclosed <a href=one>1<a href=two>2<div><span><a href='three'>3</body><a href=four>",
]

# --- mutations --------------------------------------------------------------------------------

_MAX_SIZE = 512 * 1024  # room for huge attributes; lxml's time grows with the size
_LABELS: list[str | None] = [
    "utf-8", "UTF8", "windows-1252", "iso-8859-1", "latin1", "ascii", "shift_jis", "euc-jp",
    "gbk", "big5", "koi8-r", "euc-kr", "utf-16", "utf-16be", "utf-32", "utf-7", "cp037",
    "x-user-defined", "replacement", "iso-2022-jp", "hz", "zlib", "base64", "rot13", "idna",
    "punycode", "undefined", "unicode_escape", "raw_unicode_escape", "", " ", '"utf-8"',
    "utf\x00-8", "\udcff", "\u00e9", "made-up",
]  # fmt: skip
_BYTES = [
    b"\x00", b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf",
    b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe", b"\r\n", b"\r", b"\x0c", b"\x1b$B", b"~{", b"+AD",
    b"&#0;", b"&#xd800;", b"&#x110000;", b"&amp", b"&#128;", b"<", b">", b"'", b'"', b"=", b"\\",
]  # fmt: skip
_TAGS = [
    b"<a href=%s>", b'<a href="%s">x</a>', b"<area href='%s'>", b"<base href=%s>",
    b"<meta charset=%s>", b'<meta http-equiv="content-type" content="text/html; charset=%s">',
    b"<title>%s</title>", b"<!--%s-->", b"<![CDATA[%s]]>", b"<script>%s</script>",
    b"<style>%s", b"<textarea>%s", b"<template>%s", b"<svg><a href='%s'>", b"<math>%s",
    b"<select><a href=%s>", b"<table><a href=%s><tr>", b"<?xml version='1.0' encoding='%s'?>",
    b"<!DOCTYPE %s>", b"</%s>", b"<%s>", b"<a %s>", b"<frameset><frame src=%s>",
]  # fmt: skip
_WRAPPERS = [b"<div>", b"<span>", b"<table><tr><td>", b"<ul><li>", b"<font><b><i>", b"<a>", b"<p>"]
_URL_PARTS: dict[str, list[str]] = {
    "scheme": ["http:", "https:", "HTTP:", "ftp:", "javascript:", "data:", "", "", "h\ttp:"],
    "slashes": ["//", "//", "\\\\", "/", "", "///"],
    "host": [
        "example.org", "EXAMPLE.org.", "b\u00fccher.example", "xn--", "127.1", "0x7f.0.0.1",
        "4294967295", "256.0.0.1", "[::1]", "[2001:DB8::1%25eth0]", "[::1", "a..b", "u:p@h",
        "%41.example", "\uff45\uff58.com", "", "h_st",
    ],
    "port": ["", ":80", ":443", ":8080", ":65536", ":", ":x"],
    "path": ["/", "/a/../b", "/%2e%2E/", "/a;jsessionid=1/..", "/%zz", "/\u20ac", "/a b", ""],
    "query": ["", "?q=1", "?utm_source=x&a=1", "?&&", "?%3D", "?fbclid=1#f"],
    "fragment": ["", "#", "#top", "#\x00"],
}  # fmt: skip


def _random_url(rng: random.Random) -> bytes:
    text = "".join(rng.choice(options) for options in _URL_PARTS.values())
    return text.encode("utf-8", "surrogatepass")


def _fill(template: bytes, rng: random.Random) -> bytes:
    if b"%s" not in template:
        return template
    label = (rng.choice(_LABELS) or "").encode("utf-8", "replace")
    value = rng.choice([_random_url(rng), _random_url(rng), label, rng.choice(_BYTES)])
    return template.replace(b"%s", value)


def _insert(data: bytes, piece: bytes, rng: random.Random) -> bytes:
    at = rng.randint(0, len(data))
    return data[:at] + piece + data[at:]


def _flip(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def _insert_bytes(data: bytes, rng: random.Random) -> bytes:
    if rng.random() < 0.3:
        return _insert(data, rng.randbytes(rng.randint(1, 16)), rng)
    return _insert(data, rng.choice(_BYTES) * rng.randint(1, 4), rng)


def _insert_tag(data: bytes, rng: random.Random) -> bytes:
    return _insert(data, _fill(rng.choice(_TAGS), rng), rng)


def _nest(data: bytes, rng: random.Random) -> bytes:
    # Deeper than libxml2's limits (256, or 2048 for a "huge" parser) now and then.
    depth = rng.choice([rng.randint(1, 300), rng.randint(250, 3000)])
    wrapper = rng.choice(_WRAPPERS)
    return _insert(data, wrapper * depth + _fill(b"<a href=%s>deep</a>", rng), rng)


def _huge_attribute(data: bytes, rng: random.Random) -> bytes:
    size = rng.randint(4096, 256 * 1024) if rng.random() < 0.15 else rng.randint(1, 4096)
    if rng.random() < 0.5:
        value = (_random_url(rng) + b"a" * size)[:size]
        return _insert(data, b'<a href="' + value + b'" title="' + b"t" * size + b'">x</a>', rng)
    attributes = b" ".join(b"x%d=%d" % (i, i) for i in range(min(size, 20000)))
    return _insert(data, b"<a " + attributes + b" href=/many>", rng)


def _delete(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 64) :]


def _splice(data: bytes, rng: random.Random) -> bytes:
    other = rng.choice(_SEEDS)
    start = rng.randrange(len(other))
    return _insert(data, other[start : start + rng.randint(1, 400)], rng)


def _re_encode(data: bytes, rng: random.Random) -> bytes:
    choice = rng.randrange(4)
    if choice == 0:  # a byte order mark, right or wrong
        return rng.choice([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE]) + data
    encoding = rng.choice(["utf-16-le", "utf-16-be", "cp1252", "shift_jis", "koi8-r", "utf-7"])
    text = data.decode("utf-8", "replace")
    if choice == 1:
        return text.encode(encoding, "replace")
    return _insert(data, b"<meta charset=" + encoding.encode() + b">", rng)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randint(0, len(data))]


_MUTATIONS: list[Callable[[bytes, random.Random], bytes]] = [
    _flip, _insert_bytes, _insert_bytes, _insert_tag, _insert_tag, _insert_tag, _nest,
    _huge_attribute, _delete, _splice, _re_encode, _truncate,
]  # fmt: skip


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random mutations of ``data``, at most ``_MAX_SIZE`` bytes long."""
    for _ in range(rng.randint(1, 4)):
        data = rng.choice(_MUTATIONS)(data, rng)
    return data[:_MAX_SIZE]


# --- the target -------------------------------------------------------------------------------


class InvariantError(Exception):
    """The parsing path returned something it promises never to return."""


class SlowInputError(Exception):
    """One input took longer than --slow seconds."""


_FINAL_URL = "https://site.example/dir/page.html?id=1"


def charset_for(data: bytes) -> str | None:
    """The header charset an input is tried with: a function of its bytes, so replays agree."""
    pick = zlib.crc32(data)
    return None if pick % 2 else _LABELS[(pick >> 1) % len(_LABELS)]


def make_target(decode_html: Any, parse_links: Any, normalize_url: Any, response: Any) -> Any:
    """The function each input goes through; the imports are passed in so that atheris can
    instrument them (it must import them itself)."""

    def run(data: bytes, slow: float) -> None:
        charset = charset_for(data)
        started = time.monotonic()
        text = decode_html(data, charset)
        text.encode("utf-8")  # raises on a lone surrogate
        page = parse_links(response(_FINAL_URL, _FINAL_URL, 200, {}, data, "text/html", charset))
        if len(set(page.links)) != len(page.links):
            raise InvariantError(f"duplicate links: {page.links!r}")
        for link in page.links:
            absolute = link.isascii() and link.startswith(("http://", "https://"))
            if not absolute or normalize_url(link) != link:
                raise InvariantError(f"not a normalised absolute link: {link!r}")
        if time.monotonic() - started > slow:
            raise SlowInputError(f"{time.monotonic() - started:.1f} s for one input")

    return run


def _import_target() -> Any:
    from shoal.engine._charset import decode_html
    from shoal.engine._urls import normalize_url
    from shoal.plugins.api import Response
    from shoal.plugins.links._parse import parse_links

    return make_target(decode_html, parse_links, normalize_url, Response)


# --- running ----------------------------------------------------------------------------------


class Run:
    """Counts the inputs, keeps a digest of them, and reports the first failure."""

    def __init__(self, engine: str, seed: int) -> None:
        self.engine = engine
        self.seed = seed
        self.tried = 0
        self.digest = hashlib.sha256()
        self.started = time.monotonic()

    def fail(self, data: bytes, exc: BaseException) -> NoReturn:
        name = f"shoal-fuzz-crash-{hashlib.sha1(data).hexdigest()[:16]}"
        path = Path(tempfile.gettempdir()) / f"{name}.html"
        path.write_bytes(data)
        report = "".join(traceback.format_exception(exc))
        charset = charset_for(data)
        path.with_suffix(".txt").write_text(f"charset: {charset!r}\n{report}", "utf-8")
        print(report, file=sys.stderr)
        print(f"FAILURE after {self.tried} inputs (engine={self.engine}, seed={self.seed}):")
        print(f"  {type(exc).__name__}: {exc}"[:500])
        print(f"  input: {path} ({len(data)} bytes), header charset {charset!r}")
        print(f"  replay: {sys.executable} {sys.argv[0]} --replay {path}")
        sys.stdout.flush()
        os._exit(1)  # under atheris, sys.exit() would unwind into libFuzzer

    def summary(self, runs: int | None) -> str:
        elapsed = time.monotonic() - self.started
        text = (
            f"fuzz_parse: engine={self.engine} seed={self.seed}: {self.tried} inputs "
            f"in {elapsed:.1f} s ({self.tried / max(elapsed, 1e-9):.0f}/s), 0 failures"
        )
        if runs is not None:
            text += f", inputs digest {self.digest.hexdigest()[:16]}"
        return text


def run_random(args: argparse.Namespace, deadline: float) -> None:
    target = _import_target()
    rng = random.Random(args.seed)
    run = Run("random", args.seed)
    # Mutants are kept now and then, so that mutations stack over generations; bounded.
    pool = list(_SEEDS)
    for data in _inputs(pool, rng):
        if time.monotonic() >= deadline or (args.runs is not None and run.tried >= args.runs):
            break
        run.digest.update(hashlib.sha256(data).digest())
        run.tried += 1
        try:
            target(data, args.slow)
        except Exception as exc:
            run.fail(data, exc)
        if rng.random() < 0.05:
            if len(pool) < 64:
                pool.append(data)
            else:
                pool[rng.randrange(len(_SEEDS), 64)] = data
    print(run.summary(args.runs))


def _inputs(pool: list[bytes], rng: random.Random) -> Any:
    yield from _SEEDS
    while True:
        yield mutate(rng.choice(pool), rng)


def run_atheris(args: argparse.Namespace, deadline: float) -> NoReturn:
    import atheris

    with atheris.instrument_imports(include=["shoal"]):
        target = _import_target()
    run = Run("atheris", args.seed)
    corpus = Path(tempfile.mkdtemp(prefix="shoal-fuzz-corpus-"))
    for index, seed_page in enumerate(_SEEDS):
        (corpus / f"seed-{index}").write_bytes(seed_page)

    def finish() -> NoReturn:
        shutil.rmtree(corpus, ignore_errors=True)
        print(run.summary(args.runs))
        sys.stdout.flush()
        os._exit(0)  # libFuzzer has no "stop now" that returns here

    def test_one_input(data: bytes) -> None:
        if time.monotonic() >= deadline or (args.runs is not None and run.tried >= args.runs):
            finish()
        run.digest.update(hashlib.sha256(data).digest())
        run.tried += 1
        try:
            target(data, args.slow)
        except Exception as exc:
            shutil.rmtree(corpus, ignore_errors=True)
            run.fail(data, exc)

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)  # libFuzzer's seed for this mutation: deterministic
        if rng.random() < 0.25:
            return bytes(atheris.Mutate(data, max_size))  # its own byte-level mutations
        return mutate(data, rng)[:max_size]

    libfuzzer_args = [
        sys.argv[0],
        f"-seed={args.seed}",
        f"-max_len={_MAX_SIZE}",
        f"-timeout={max(1, int(args.slow * 4))}",  # a hang that never returns: libFuzzer's
        f"-artifact_prefix={tempfile.gettempdir()}/shoal-fuzz-",
        "-print_final_stats=0",
        "-print_pcs=0",
        "-verbosity=0",
        str(corpus),
    ]
    atheris.Setup(libfuzzer_args, test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()
    finish()  # not reached: libFuzzer exits by itself


def replay(path: Path) -> None:
    data = path.read_bytes()
    print(f"replaying {path} ({len(data)} bytes), header charset {charset_for(data)!r}")
    _import_target()(data, float("inf"))
    print("no failure")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, default=60.0, help="wall time to fuzz for")
    parser.add_argument("--runs", type=int, help="stop after this many inputs instead")
    parser.add_argument("--seed", type=int, default=1, help="a positive integer (default 1)")
    parser.add_argument("--engine", choices=["auto", "atheris", "random"], default="auto")
    parser.add_argument("--slow", type=float, default=5.0, help="seconds one input may take")
    parser.add_argument("--replay", type=Path, help="run one saved input and show any error")
    args = parser.parse_args()
    if args.replay is not None:
        replay(args.replay)
        return
    if args.seed <= 0:
        parser.error("--seed must be positive (libFuzzer reads 0 as 'pick one')")
    deadline = time.monotonic() + (float("inf") if args.runs is not None else args.seconds)
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
        except ImportError:
            engine = "random"
            print("fuzz_parse: atheris is not installed: plain random mutation, unguided")
        else:
            engine = "atheris"
    sys.stdout.flush()
    if engine == "atheris":
        run_atheris(args, deadline)
    run_random(args, deadline)


if __name__ == "__main__":
    main()
