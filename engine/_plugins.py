"""Finding a plugin by name: an entry point in the ``shoal.plugins`` group, or ``module:Class``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from ..plugins.api import Plugin
from .errors import NotConfigured, PluginError

__all__ = ["ENTRY_POINT_GROUP", "available_plugins", "load_plugin", "plugin_class"]

ENTRY_POINT_GROUP = "shoal.plugins"


def available_plugins() -> dict[str, str]:
    """Installed plugins: name -> ``module:Class``."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def plugin_class(spec: str) -> type[Plugin]:
    """The plugin class named by ``spec`` (entry-point name, or ``module:Class``)."""
    target: Any
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"cannot load plugin {spec!r}: {exc}") from exc
    else:
        matches = entry_points(group=ENTRY_POINT_GROUP, name=spec)
        if not matches:
            known = ", ".join(sorted(available_plugins())) or "none"
            raise PluginError(f"no plugin named {spec!r} (installed: {known})")
        try:
            target = next(iter(matches)).load()
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
