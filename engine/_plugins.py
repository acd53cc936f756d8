"""Finding a plugin by name: an entry point in the ``shoal.plugins`` group, or ``module:Class``."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..plugins.api import Plugin
from .errors import NotConfigured, PluginError

__all__ = [
    "ENTRY_POINT_GROUP",
    "available_plugins",
    "load_plugin",
    "plugin_class",
    "resolve_plugin",
]

ENTRY_POINT_GROUP = "shoal.plugins"

# Plugins that ship with shoal, found without scanning every installed distribution's entry
# points (30 ms, paid at the start of every crawl in the supervisor and again in each worker).
_BUILT_IN = {
    "links": "shoal.plugins.links:LinksPlugin",
    "docs": "shoal.plugins.docs:DocsPlugin",
    "rss": "shoal.plugins.rss:RssPlugin",
}


def available_plugins() -> dict[str, str]:
    """Installed plugins: name -> ``module:Class``."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


@functools.cache
def _entry_point(name: str) -> EntryPoint:
    """The installed plugin called ``name``; looked up once per process (a scan of every
    installed distribution: the supervisor both resolves and loads a third-party plugin)."""
    matches = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not matches:
        known = ", ".join(sorted({*_BUILT_IN, *available_plugins()}))
        raise PluginError(f"no plugin named {name!r} (installed: {known})")
    return next(iter(matches))


def resolve_plugin(spec: str) -> str:
    """``module:Class`` for a plugin name or spec; what the supervisor passes to its workers,
    so that they import the plugin directly."""
    if ":" in spec:
        return spec
    return _BUILT_IN.get(spec) or str(_entry_point(spec).value)


def plugin_class(spec: str) -> type[Plugin]:
    """The plugin class named by ``spec`` (entry-point name, or ``module:Class``)."""
    target: Any
    path = _BUILT_IN.get(spec, spec)
    if ":" in path:
        module_name, _, attr = path.partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"cannot load plugin {spec!r}: {exc}") from exc
    else:
        entry_point = _entry_point(spec)
        try:
            target = entry_point.load()
        except Exception as exc:  # a broken third-party package: say which one
            raise PluginError(f"plugin {spec!r} failed to load: {exc!r}") from exc
    if not (isinstance(target, type) and issubclass(target, Plugin)):
        raise PluginError(f"plugin {spec!r} is not a shoal.plugins.api.Plugin subclass")
    return target


def load_plugin(spec: str, options: Mapping[str, Any]) -> Plugin:
    """An instance of the plugin; its ``NotConfigured`` passes through for the caller to report."""
    cls = plugin_class(spec)
    try:
        return cls(options)
    except NotConfigured:
        raise
    except Exception as exc:
        raise PluginError(f"plugin {spec!r} failed to start: {exc!r}") from exc
