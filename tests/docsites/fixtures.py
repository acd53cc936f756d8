"""Pytest fixtures for the documentation sites; import them into the test module that uses them::

    from docsites.fixtures import docsite_server, docsites  # noqa: F401

``docsites`` builds the sites once per session (and not at all when an earlier session already
built these sources); ``docsite_server`` serves them on 127.0.0.1 for one test.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .build import build_sites, default_cache_dir
from .serve import DocSiteServer

__all__ = ["docsite_server", "docsites"]


def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The shared cache makes reruns instant; it is used only if it is ours and a real directory
    # (the temp dir is shared with other users), else this session builds into its own.
    shared = default_cache_dir()
    try:
        shared.mkdir(mode=0o700, exist_ok=True)
        info = shared.lstat()
    except OSError:
        return tmp_path_factory.mktemp("docsites")
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
        return shared
    return tmp_path_factory.mktemp("docsites")


@pytest.fixture(scope="session")
def docsites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Site name ("sphinx", "mkdocs", "handwritten") → the root of its built HTML."""
    return build_sites(_cache_dir(tmp_path_factory))


@pytest.fixture
async def docsite_server(docsites: dict[str, Path]) -> AsyncIterator[DocSiteServer]:
    """The built sites served on 127.0.0.1, one port each: ``docsite_server.url("sphinx")``."""
    async with DocSiteServer(docsites) as server:
        yield server
