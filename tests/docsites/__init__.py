"""Real documentation sites for the docs plugin's tests: sources, builds, truth and a server.

``sphinx/``, ``mkdocs/`` and ``handwritten/`` are the sources; ``build`` builds them with the real
generators; ``truth`` says what each page's Markdown must and must not contain; ``serve`` serves
the built sites on loopback; ``fixtures`` has the pytest fixtures (import them into a test module).
"""
