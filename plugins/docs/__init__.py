"""The docs plugin: a documentation site as clean, faithful Markdown (issue 5, in progress).

So far: the HTML-to-Markdown converter (``_markdown.py``). To come: finding a page's main
content, the plugin itself, ``shoal docs`` and its output formats.
"""
