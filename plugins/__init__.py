"""Plugins do the domain work of a crawl; authors import from :mod:`shoal.plugins.api`."""
