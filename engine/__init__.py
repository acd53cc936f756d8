"""The crawl engine: supervisor, workers, fetcher, frontier and broker.

Its modules are private (leading underscore); the public surface is re-exported by ``shoal``.
``shoal.engine.errors`` holds the exception tree; ``shoal.engine.cli`` the command line.
"""
