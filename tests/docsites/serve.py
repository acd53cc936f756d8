"""Serves built documentation sites as a static web server would, on loopback addresses only.

::

    async with DocSiteServer(build_sites(cache)) as server:
        server.url("mkdocs", "install/")   # "http://127.0.0.1:41234/install/"

Each site gets its own port and is served at the root, so each has its own ``/robots.txt``
(absent: 404). Like GitHub Pages or nginx: a directory is answered by its ``index.html``, a
directory asked for without its trailing slash is redirected (301) to it, a missing file gets
the site's ``404.html`` (MkDocs builds one) with status 404, and HTML says it is UTF-8.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from aiohttp import web
from testsite import LoopbackApps

__all__ = ["DocSiteServer", "Hit"]

_HTML = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Hit:
    """One request the server answered."""

    site: str
    method: str
    path: str  # as requested, query included
    status: int
    peer: str  # the client's address


class DocSiteServer(LoopbackApps):
    """The built sites (name → HTML root), each on its own port of ``host``."""

    def __init__(self, roots: Mapping[str, Path], host: str = "127.0.0.1") -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"documentation fixtures bind to loopback addresses only, not {host}")
        self.host = host
        self.roots = {name: root.resolve() for name, root in roots.items()}
        self.hits: list[Hit] = []
        self._ports: dict[str, int] = {}
        self._runners: list[web.AppRunner] = []

    async def __aenter__(self) -> DocSiteServer:
        try:
            for name, root in self.roots.items():
                self._ports[name] = await self._serve(self._handler(name, root), self.host)
        except BaseException:
            await self.aclose()
            raise
        return self

    def url(self, site: str, path: str = "") -> str:
        """The URL of ``path`` (relative to the site root, as in :class:`truth.Page`)."""
        return f"http://{self.host}:{self._ports[site]}/{path}"

    def hits_of(self, site: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.site == site]

    def _handler(
        self, name: str, root: Path
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            response = self._respond(request, root)
            peer = request.transport.get_extra_info("peername") if request.transport else None
            address = str(peer[0]) if peer else ""
            self.hits.append(Hit(name, request.method, request.path_qs, response.status, address))
            return response

        return handle

    def _respond(self, request: web.Request, root: Path) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, headers={"Allow": "GET, HEAD"})
        target = _resolve(root, request.path)
        if target is not None and target.is_dir():
            if not request.path.endswith("/"):
                location = (
                    request.path
                    + "/"
                    + (f"?{request.query_string}" if request.query_string else "")
                )
                return web.Response(status=301, headers={"Location": location})
            target = target / "index.html"
        if target is None or not target.is_file():
            missing = root / "404.html"
            if missing.is_file():
                return web.Response(
                    status=404, body=missing.read_bytes(), content_type="text/html", charset="utf-8"
                )
            return web.Response(status=404, text="404: Not Found")
        headers = {"Content-Type": _HTML} if target.suffix == ".html" else None
        return web.FileResponse(target, headers=headers)


def _resolve(root: Path, url_path: str) -> Path | None:
    """The file or directory under ``root`` that ``url_path`` names; None if it names none."""
    parts = PurePosixPath(url_path).parts[1:]  # drop the leading "/"
    if any(part in ("..", ".") or "\\" in part or "\0" in part for part in parts):
        return None
    target = root.joinpath(*parts)
    try:
        resolved = target.resolve()
    except OSError:
        return None
    # A symbolic link out of the site is not part of it.
    return target if resolved.is_relative_to(root) else None
