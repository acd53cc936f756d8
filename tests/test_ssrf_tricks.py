"""The SSRF rule against every trick in the book, end to end: trap servers count their hits.

Trap servers listen on loopback addresses and ports the crawl is not allowed to reach
(127.0.0.2, another port of 127.0.0.1, [::1]); the allowed site links and redirects to them
in every spelling an attacker would try, and the crawl's scope includes them all, so only
the SSRF rule stands between the crawler and the traps. Each trap must see no request.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from conftest import read_jsonl, run_shoal


@asynccontextmanager
async def _server(
    host: str, routes: dict[str, web.Response] | None = None
) -> AsyncIterator[tuple[int, collections.Counter[str]]]:
    """A server that counts every request; ``routes`` maps paths to canned responses."""
    hits: collections.Counter[str] = collections.Counter()

    async def handle(request: web.Request) -> web.Response:
        hits[request.path_qs] += 1
        if routes and request.path in routes:
            return routes[request.path]
        return web.Response(text="<html><title>trap</title>you should not be here</html>")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    try:
        yield runner.addresses[0][1], hits
    finally:
        await runner.cleanup()


def _page(links: list[str]) -> web.Response:
    body = "".join(f'<a href="{link}">{link}</a>\n' for link in links)
    return web.Response(text=f"<html><title>start</title>{body}</html>", content_type="text/html")


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


async def test_no_spelling_of_a_forbidden_address_reaches_it(tmp_path: Path) -> None:
    async with (
        _server("127.0.0.2") as (t, trap_v4),
        _server("127.0.0.1") as (t2, trap_port),
        _server("::1") as (t6, trap_v6),
    ):
        tricks = [
            # Numeric forms of 127.0.0.2 that browsers (and so link extractors) accept.
            f"http://2130706434:{t}/decimal",
            f"http://0x7f000002:{t}/hex",
            f"http://0177.0.0.02:{t}/octal",
            f"http://127.2:{t}/short",
            f"http://0x7f.2:{t}/short-hex",
            f"http://127.0.0.2.:{t}/trailing-dot",
            # IPv6 spellings: IPv4-mapped, and loopback written out in full.
            f"http://[::ffff:127.0.0.2]:{t}/mapped",
            f"http://[::ffff:7f00:2]:{t}/mapped-hex",
            f"http://[::1]:{t6}/v6-loopback",
            f"http://[0:0:0:0:0:0:0:1]:{t6}/v6-long",
            # The allowed host with a trap's port; a name that resolves to it; "this host".
            f"http://127.0.0.1:{t2}/other-port",
            f"http://localhost:{t2}/by-name",
            f"http://0.0.0.0:{t2}/unspecified",
            # Userinfo that makes the allowed host look like the target.
            f"http://127.0.0.1:{{SITE}}@127.0.0.2:{t}/userinfo",
            # Other schemes.
            f"ftp://127.0.0.2:{t}/ftp",
            f"gopher://127.0.0.2:{t}/gopher",
            "file:///etc/passwd",
            # Redirects from the allowed site to traps.
            "/r/v4",
            "/r/mapped",
            "/r/by-name",
            "/r/decimal",
        ]
        redirects = {
            "/r/v4": f"http://127.0.0.2:{t}/redirected",
            "/r/mapped": f"http://[::ffff:127.0.0.2]:{t}/redirected-mapped",
            "/r/by-name": f"http://localhost:{t2}/redirected-by-name",
            "/r/decimal": f"http://2130706434:{t}/redirected-decimal",
        }
        routes: dict[str, web.Response] = {p: _redirect(u) for p, u in redirects.items()}
        async with _server("127.0.0.1", routes) as (site_port, _):
            start = f"http://127.0.0.1:{site_port}/start"
            routes["/start"] = _page([u.replace("{SITE}", str(site_port)) for u in tricks])
            scope = ",".join(
                [
                    f"http://127.0.0.1:{site_port}/",
                    f"http://127.0.0.2:{t}/",
                    f"http://127.0.0.1:{t2}/",
                    f"http://localhost:{t2}/",
                    f"http://0.0.0.0:{t2}/",
                    f"http://[::ffff:7f00:2]:{t}/",
                    f"http://[::1]:{t6}/",
                ]
            )
            done = await run_shoal(
                "crawl",
                start,
                "-o",
                str(tmp_path / "out.jsonl"),
                "--scope",
                scope,
                "--allow-private",
                f"127.0.0.1:{site_port}",
                "--retries",
                "0",
            )
        assert done.returncode == 0, done.stderr
        records = read_jsonl(tmp_path / "out.jsonl")

    assert trap_v4 == {} and trap_port == {} and trap_v6 == {}, (trap_v4, trap_port, trap_v6)
    by_path = {urlsplit(str(r["url"])).path: r for r in records}
    assert by_path["/start"]["status"] == 200
    # Every spelling the crawl followed is refused with the SSRF error, not a network error.
    followed = {p: r["error"] for p, r in by_path.items() if p != "/start"}
    assert set(followed.values()) == {"forbidden_address"}, followed
    for path in ("/decimal", "/hex", "/octal", "/short", "/mapped", "/v6-loopback", "/by-name"):
        assert path in followed, path
    for path in ("/r/v4", "/r/mapped", "/r/by-name", "/r/decimal"):
        assert followed[path] == "forbidden_address"
    # Userinfo, ftp:, gopher: and file: links are not URLs a crawler follows at all.
    assert not {"/userinfo", "/ftp", "/gopher", "/etc/passwd"} & set(by_path)


async def test_ports_outside_the_allow_list_are_refused(tmp_path: Path) -> None:
    async with _server("127.0.0.1") as (trap_port, trap_hits):
        routes = {"/start": _page([f"http://127.0.0.1:{trap_port}/elsewhere"])}
        async with _server("127.0.0.1", routes) as (site_port, _):
            done = await run_shoal(
                "crawl",
                f"http://127.0.0.1:{site_port}/start",
                "-o",
                str(tmp_path / "out.jsonl"),
                "--scope",
                f"http://127.0.0.1:{site_port}/,http://127.0.0.1:{trap_port}/",
                "--allow-private",
                "127.0.0.1",  # the address is allowed, on any port...
                "--ports",
                str(site_port),  # ... but only the site's port is
            )
    assert done.returncode == 0, done.stderr
    assert trap_hits == {}
    by_path = {urlsplit(str(r["url"])).path: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert by_path["/start"]["status"] == 200
    assert by_path["/elsewhere"]["error"] == "forbidden_port"


async def test_bad_ports_option_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = await run_shoal("crawl", "http://127.0.0.1:1/", "--ports", "80,abc")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["shoal: error: --ports: not a port or range: 'abc'"]
