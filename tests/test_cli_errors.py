"""User mistakes: one clear line on stderr, exit status 2, no traceback, nothing overwritten."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import allow, run_shoal
from testsite import SiteServer, SiteSpec


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["crawl", "not a url"], "not an absolute http(s) URL"),
        (["crawl", "ftp://example.org/"], "not an absolute http(s) URL"),
        (["crawl", "http://127.0.0.1:9/", "--frobnicate"], "unrecognized arguments"),
        (["crawl", "http://127.0.0.1:9/", "--max-pages", "0"], "must be more than 0"),
        (["crawl", "http://127.0.0.1:9/", "--max-bytes", "lots"], "not a size"),
        (["crawl", "http://127.0.0.1:9/", "--max-depth", "-1"], "must be 0 or more"),
        (["crawl", "http://127.0.0.1:9/", "--retries", "-2"], "must be 0 or more"),
        (["crawl", "http://127.0.0.1:9/", "--rate", "fast"], "not a number"),
        (["crawl", "http://127.0.0.1:9/", "--scope", "sideways"], "scope"),
        (["crawl", "http://127.0.0.1:9/", "--allow-private", "[::1"], "allow-private"),
        (["crawl", "http://127.0.0.1:9/", "--plugin", "nosuchplugin"], "no plugin named"),
        (["crawl", "http://127.0.0.1:9/", "-o", "/nonexistent-dir/x.jsonl"], "does not exist"),
        (["crawl"], "required"),
        ([], "required"),
    ],
)
async def test_usage_errors_are_one_line_and_exit_2(args: list[str], expected: str) -> None:
    done = await run_shoal(*args)
    assert done.returncode == 2
    line = _one_line_error(done.stderr)
    assert expected in line
    assert line.startswith("shoal")


async def test_unwritable_output(tmp_path: Path) -> None:
    # A directory where the output file should be: not writable even for root.
    done = await run_shoal("crawl", "http://127.0.0.1:9/", "-o", str(tmp_path))
    assert done.returncode == 2
    assert "is a directory" in _one_line_error(done.stderr)


async def test_corrupt_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"this is not a database, just some bytes " * 200)
    done = await run_shoal(
        "crawl",
        "http://127.0.0.1:9/",
        "--state",
        str(state),
        "--resume",
        "-o",
        str(tmp_path / "out.jsonl"),
    )
    assert done.returncode == 2
    assert "corrupt" in _one_line_error(done.stderr)
    # The user's file is left as it was.
    assert state.read_bytes().startswith(b"this is not a database")


async def test_existing_state_without_resume_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    out = tmp_path / "out.jsonl"
    async with SiteServer(SiteSpec(pages=3), host="127.0.0.1") as site:
        first = await run_shoal(
            "crawl", site.url, "--state", str(state), "-o", str(out), *allow(site.url)
        )
        assert first.returncode == 0, first.stderr
        before = out.read_bytes()
        again = await run_shoal(
            "crawl", site.url, "--state", str(state), "-o", str(out), *allow(site.url)
        )
    assert again.returncode == 2
    assert "--resume" in _one_line_error(again.stderr)
    assert out.read_bytes() == before
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT count(*) FROM urls WHERE state = 2").fetchone()[0] == 3
