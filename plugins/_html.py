"""The HTML parser the plugins share: lxml's, with lxml.html's element classes looked up in C.

``lxml.html.HTMLParser`` picks each element's class with a Python function (a form element, an
input element ...), called every time Python touches an element: a tenth of a docs page's
conversion. Every element is an ``HtmlElement`` here (``drop_tree``, ``text_content`` and the
rest work); the form-specific classes are not needed by any plugin.
"""

from __future__ import annotations

from lxml import etree, html

__all__ = ["HTML_PARSER"]

#: huge_tree: libxml2 otherwise stops at depth 256 and silently loses the rest of the page.
HTML_PARSER = etree.HTMLParser(huge_tree=True)
HTML_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=html.HtmlElement,
        comment=html.HtmlComment,
        pi=html.HtmlProcessingInstruction,
        entity=html.HtmlEntity,
    )
)
