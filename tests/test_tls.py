"""TLS failures: a certificate nobody vouches for, and a server that does not speak TLS at all.

Each is recorded once with the reason (no retries: they are not transient), and the crawl
goes on. The servers run on loopback with certificates made by trustme for the test.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from conftest import allow, read_jsonl, run_shoal

_HITS = web.AppKey("hits", list[str])


async def _hello(request: web.Request) -> web.Response:
    request.app[_HITS].append(request.path)
    return web.Response(text="<html><title>tls</title></html>", content_type="text/html")


@pytest.fixture
async def servers() -> AsyncIterator[tuple[str, str, list[str]]]:
    """(https URL with an untrusted certificate, https URL of a plain-HTTP server, hits)."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    app = web.Application()
    app[_HITS] = []
    app.router.add_get("/{tail:.*}", _hello)
    runner = web.AppRunner(app)
    await runner.setup()
    tls = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    plain = web.TCPSite(runner, "127.0.0.1", 0)
    await tls.start()
    await plain.start()
    tls_port, plain_port = (addr[1] for addr in runner.addresses)
    try:
        yield (
            f"https://127.0.0.1:{tls_port}/docs/",
            f"https://127.0.0.1:{plain_port}/docs/",
            app[_HITS],
        )
    finally:
        await runner.cleanup()


async def test_tls_failures_are_recorded_once_with_the_reason(
    servers: tuple[str, str, list[str]], tmp_path: Path
) -> None:
    untrusted, not_tls, hits = servers
    out = tmp_path / "out.jsonl"
    done = await run_shoal(
        "crawl",
        untrusted,
        not_tls,
        "-o",
        str(out),
        *allow(untrusted),
        "--robots-retry",
        "0.1",
        "--retries",
        "1",
    )
    assert done.returncode == 0, done.stderr
    records = {str(r["url"]): r for r in read_jsonl(out)}
    assert set(records) == {untrusted, not_tls}
    # robots.txt comes first and fails the same way: per RFC 9309 an unreachable robots.txt
    # means "disallow", so the pages say that, with the TLS reason.
    for url, reason in ((untrusted, "certificate"), (not_tls, "ssl")):
        assert records[url]["error"] == "robots_unavailable", records[url]
        assert reason in str(records[url]["error_detail"]).lower(), records[url]
    assert hits == []  # no request ever got through the handshake


async def test_tls_failure_of_a_page_is_not_retried(
    servers: tuple[str, str, list[str]], tmp_path: Path
) -> None:
    untrusted, _, hits = servers
    out = tmp_path / "out.jsonl"
    done = await run_shoal(
        "crawl",
        untrusted,
        "-o",
        str(out),
        *allow(untrusted),
        "--ignore-robots",
        "--retries",
        "3",
        "--stats-json",
        str(tmp_path / "stats.json"),
    )
    assert done.returncode == 0, done.stderr
    [record] = read_jsonl(out)
    assert record["error"] == "tls", record
    assert "certificate" in str(record["error_detail"]).lower()
    assert "retries: 0" in done.stderr
    assert hits == []
