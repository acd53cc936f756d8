"""Encoding sniffing: the byte order mark, then the header, then <meta>, then UTF-8 or 1252."""

from __future__ import annotations

import codecs

import pytest

from shoal.engine._charset import decode_html, sniff_encoding

TEXT = "Grüße, Ελληνικά, Привет — «ok»"


def _page(meta: str = "", text: str = TEXT) -> str:
    return f"<html><head>{meta}<title>{text}</title></head><body>{text}</body></html>"


def test_bom_wins_over_a_wrong_header_and_meta() -> None:
    body = codecs.BOM_UTF8 + _page('<meta charset="windows-1251">').encode()
    assert sniff_encoding(body, "iso-8859-1") == "utf-8"
    text = decode_html(body, "iso-8859-1")
    assert TEXT in text and not text.startswith("\ufeff")


def test_utf16_with_bom() -> None:
    body = codecs.BOM_UTF16_LE + _page().encode("utf-16-le")
    assert TEXT in decode_html(body)


def test_header_wins_over_meta() -> None:
    body = _page('<meta charset="utf-8">', "Привет").encode("koi8-r")
    assert decode_html(body, "koi8-r").count("Привет") == 2


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="windows-1251">',
        "<meta charset=windows-1251>",
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
        "<META HTTP-EQUIV='content-type' CONTENT='text/html;charset=Windows-1251'>",
    ],
)
def test_meta_charset_when_the_header_has_none(meta: str) -> None:
    body = _page(meta, "Привет").encode("cp1251")
    assert decode_html(body, None).count("Привет") == 2


def test_no_declaration_utf8_then_windows_1252() -> None:
    assert decode_html(_page().encode("utf-8")).count(TEXT) == 2
    legacy = _page(text="café – naïve").encode("cp1252")
    assert sniff_encoding(legacy) == "cp1252"
    assert decode_html(legacy).count("café – naïve") == 2


def test_labels_read_as_browsers_read_them() -> None:
    # "iso-8859-1" means windows-1252 on the web: 0x93/0x94 are curly quotes, not controls.
    assert decode_html(b"<p>\x93quoted\x94</p>", "ISO-8859-1") == "<p>\u201cquoted\u201d</p>"
    # A UTF-16 label on ASCII-compatible bytes is a lie: read as UTF-8.
    assert decode_html("<p>é</p>".encode(), "utf-16") == "<p>é</p>"
    # An unknown label is ignored, not fatal.
    assert decode_html("<p>é</p>".encode(), "x-no-such-charset") == "<p>é</p>"


def test_garbage_never_raises_and_xml_declaration_is_dropped() -> None:
    assert len(decode_html(bytes(range(256)))) == 256  # one character per byte, always
    text = decode_html(b'<?xml version="1.0" encoding="utf-8"?><html><p>x</p></html>')
    assert text == "<html><p>x</p></html>"


def test_every_spelling_of_utf16_or_utf32_without_a_bom_reads_as_utf8() -> None:
    body = "<p>é</p>".encode()
    for label in ("utf16", "UTF_16LE", "u16", "utf-32", "UTF32"):
        assert decode_html(body, label) == "<p>é</p>", label
