"""Which encoding an HTML document is in, decided as browsers decide it.

The order is the WHATWG HTML standard's encoding sniffing, without its heuristics: a byte
order mark wins over everything; then the charset of the Content-Type header; then a
``<meta charset>`` or ``<meta http-equiv=content-type>`` in the first 1024 bytes; then UTF-8
if the document decodes as UTF-8, else windows-1252 (what browsers assume for legacy pages).
Labels are read as browsers read them: ``latin1``, ``iso-8859-1`` and ``ascii`` all mean
windows-1252, and a page that claims UTF-16 without a byte order mark is read as UTF-8.

Servers get this wrong all the time (a header saying ISO-8859-1 on a UTF-8 page with a BOM,
no charset at all, a made-up label): a parser given the raw bytes guesses by itself and
turns such pages into mojibake. Plugins call :func:`decode_html` instead.
"""

from __future__ import annotations

import codecs
import functools
import re

__all__ = ["decode_html", "sniff_encoding"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# WHATWG's label table, for the labels whose meaning differs from Python's codec of that name.
_ALIASES = {
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift-jis": "shift_jis",
    "x-sjis": "shift_jis",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
}
_UTF16 = {"utf-16", "utf-16le", "utf-16be", "utf-16-le", "utf-16-be"}
# Codecs Python has and no browser knows, that break decoding: not text encodings at all
# (base64, zlib...: LookupError on decode), unable to replace bad bytes (idna, punycode,
# undefined), or turning bytes into lone surrogates (utf-7, the escape codecs). Their labels
# mean nothing, like unknown ones.
_NOT_FOR_HTML = frozenset(
    {"base64", "bz2", "hex", "quopri", "rot-13", "uu", "zlib", "idna", "punycode", "undefined",
     "utf-7", "unicode-escape", "raw-unicode-escape"}
)  # fmt: skip
_META = re.compile(
    rb"""<meta[^>]*?\bcharset\s*=\s*["']?\s*([a-zA-Z0-9_:.+-]+)""",
    re.IGNORECASE,
)
# To an HTML parser "<?xml" opens a bogus comment, closed by the first ">" ("?>" or not).
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")


@functools.lru_cache(maxsize=64)
def _codec(label: str | None) -> str | None:
    """The Python codec for an encoding label, or None when the label means nothing."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _UTF16:
        return "utf-8"  # a UTF-16 label without a BOM is a lie: the bytes are ASCII-compatible
    label = _ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):  # ValueError: a NUL or a lone surrogate in the label
        return None
    if name.startswith(("utf-16", "utf-32")):
        return "utf-8"  # however spelled (utf16, u16, utf-32): without a BOM, browsers read UTF-8
    return None if name in _NOT_FOR_HTML else name


def sniff_encoding(body: bytes, header_charset: str | None = None) -> str:
    """The Python codec name to decode ``body`` with (see the module's docstring)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    codec = _codec(header_charset)
    if codec is not None:
        return codec
    match = _META.search(body[:1024])
    if match is not None:
        codec = _codec(match.group(1).decode("ascii", "replace"))
        if codec is not None:
            return codec
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def decode_html(body: bytes, header_charset: str | None = None) -> str:
    """``body`` as text, in the encoding :func:`sniff_encoding` finds; bytes that do not
    decode become U+FFFD. A leading XML declaration is dropped (lxml refuses text with one)."""
    encoding = sniff_encoding(body, header_charset)
    for bom, name in _BOMS:
        if name == encoding and body.startswith(bom):
            body = body[len(bom) :]
            break
    text = body.decode(encoding, "replace")
    if text.lstrip().startswith("<?xml"):
        text = _XML_DECLARATION.sub("", text, count=1)
    return text
