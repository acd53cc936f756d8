"""Resources and the state file under stress: a full disk mid-crawl, state files that are corrupt,
foreign or from a newer shoal, and a long crawl that must not leak descriptors or grow.

Everything runs the real ``shoal`` command against the real test site on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from conftest import SHOAL, Completed, allow, read_jsonl, run_shoal
from testsite import SiteServer, SiteSpec


def _limit_file_size(limit: int) -> None:
    # In the child before exec: files it writes may not grow past ``limit`` bytes. With
    # SIGXFSZ ignored (the default action kills the process) a write past it fails with
    # EFBIG, which is what a full disk looks like to SQLite and to the output file.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


async def _run_limited(*args: str, limit: int) -> Completed:
    proc = await asyncio.create_subprocess_exec(
        SHOAL,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=lambda: _limit_file_size(limit),
    )
    async with asyncio.timeout(120):
        stdout, stderr = await proc.communicate()
    assert proc.returncode is not None
    return Completed(proc.returncode, stdout, stderr.decode(errors="replace"))


async def test_disk_full_mid_crawl_stops_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    spec = SiteSpec(pages=600, seed=61)
    out, state = tmp_path / "out.jsonl", tmp_path / "state.sqlite"
    async with SiteServer(spec, host="127.0.0.1") as site:
        args = ["crawl", site.url, "-o", str(out), "--state", str(state), *allow(site.url)]
        full = await _run_limited(*args, limit=96 * 1024)
        # A clear one-line error naming the file, no traceback, a failure status.
        assert full.returncode == 1, full.stderr
        assert "Traceback" not in full.stderr
        errors = [line for line in full.stderr.splitlines() if "error" in line]
        assert errors and ("disk" in errors[-1] or "too large" in errors[-1]), full.stderr
        before = read_jsonl(out) if out.exists() else []
        assert len(before) < len(spec.expected_paths())
        # The state is consistent: SQLite's own check says so.
        with sqlite3.connect(state) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # Space is freed (no limit): --resume finishes, every page exactly once.
        done = await run_shoal(*args, "--resume")
    assert done.returncode == 0, done.stderr
    paths = [urlsplit(str(r["url"])).path for r in read_jsonl(out)]
    assert sorted(paths) == sorted(spec.expected_paths())


async def test_corrupt_state_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    # A real state file, then garbage written over its middle.
    spec = SiteSpec(pages=30, seed=62)
    async with SiteServer(spec, host="127.0.0.1") as site:
        args = ["crawl", site.url, "--state", str(state), *allow(site.url)]
        assert (await run_shoal(*args, "-o", str(tmp_path / "a.jsonl"))).returncode == 0
        data = bytearray(state.read_bytes())
        data[4096:8192] = os.urandom(4096)
        state.write_bytes(bytes(data))
        output = tmp_path / "b.jsonl"
        output.write_bytes(b'{"keep": "me"}\n')
        done = await run_shoal(*args, "-o", str(output), "--resume")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "corrupt" in done.stderr, done.stderr
    assert state.read_bytes() == bytes(data)  # not repaired, not overwritten
    assert output.read_bytes() == b'{"keep": "me"}\n'


async def test_foreign_and_newer_state_files_are_refused_untouched(tmp_path: Path) -> None:
    foreign = tmp_path / "notes.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.execute("INSERT INTO notes VALUES ('my data')")
    newer = tmp_path / "newer.sqlite"
    async with SiteServer(SiteSpec(pages=5, seed=63), host="127.0.0.1") as site:
        base = ["crawl", site.url, "-o", str(tmp_path / "out.jsonl"), *allow(site.url)]
        assert (await run_shoal(*base, "--state", str(newer))).returncode == 0
        with sqlite3.connect(newer) as db:
            db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        foreign_bytes, newer_bytes = foreign.read_bytes(), newer.read_bytes()
        said = {}
        for path in (foreign, newer):
            for extra in ([], ["--resume"]):
                done = await run_shoal(*base, "--state", str(path), *extra)
                assert done.returncode == 2, done.stderr
                assert done.stderr.count("\n") == 1, done.stderr
                said[path.name, bool(extra)] = done.stderr
    assert foreign.read_bytes() == foreign_bytes
    assert newer.read_bytes() == newer_bytes
    for resume in (False, True):
        assert "not a shoal state file" in said["notes.sqlite", resume]
        assert "newer shoal (schema version 99" in said["newer.sqlite", resume]


async def test_a_state_file_killed_while_it_was_created_is_taken_over(tmp_path: Path) -> None:
    """Seen in a chaos run: killed between switching on WAL and creating its tables, a crawl
    leaves an SQLite file with nothing in it. --resume (and a fresh start) take it over."""
    for extra in ([], ["--resume"]):
        state = tmp_path / f"state{len(extra)}.sqlite"
        with contextlib.closing(sqlite3.connect(state)) as db:
            db.execute("PRAGMA journal_mode=WAL")  # what the killed crawl had done
        assert state.stat().st_size > 0
        async with SiteServer(SiteSpec(pages=5, seed=65), host="127.0.0.1") as site:
            out = tmp_path / f"out{len(extra)}.jsonl"
            done = await run_shoal("crawl", site.url, "-o", str(out), "--state", str(state),
                                   *extra, *allow(site.url))  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert len(read_jsonl(out)) == 5


async def test_long_crawl_does_not_leak_descriptors_or_grow(tmp_path: Path) -> None:
    pages = 8_000
    spec = SiteSpec(pages=pages, seed=64)
    async with SiteServer(spec, host="127.0.0.1") as site:
        site.prerender()
        proc = await asyncio.create_subprocess_exec(
            SHOAL,
            "crawl",
            site.url,
            "-o",
            str(tmp_path / "out.jsonl"),
            "--quiet",
            "--max-pages-per-pattern",
            "0",  # the test site's pages are one path pattern
            *allow(site.url),
            stdin=asyncio.subprocess.DEVNULL,
        )
        root = psutil.Process(proc.pid)
        samples: list[tuple[int, int, int]] = []  # (pages served, fds of the tree, supervisor RSS)
        while proc.returncode is None:
            try:
                tree = [root, *root.children(recursive=True)]
                fds = sum(p.num_fds() for p in tree)
                samples.append((len(site.log), fds, root.memory_info().rss))
            except psutil.Error:
                pass
            try:
                await asyncio.wait_for(proc.wait(), 0.25)
            except TimeoutError:
                pass
    assert proc.returncode == 0
    assert len(read_jsonl(tmp_path / "out.jsonl")) == pages
    # Compare the crawl's second tenth with its last tenth: steady state, not start-up.
    early = [s for s in samples if pages // 10 <= s[0] < pages // 5]
    late = [s for s in samples if s[0] >= pages * 9 // 10]
    assert early and late, samples
    print(
        f"{pages:,} pages: descriptors {max(s[1] for s in early)} -> {max(s[1] for s in late)}, "
        f"supervisor RSS {max(s[2] for s in early) >> 20} -> {max(s[2] for s in late) >> 20} MB"
    )
    assert max(s[1] for s in late) <= max(s[1] for s in early) + 8, (early, late)
    mb = 1 << 20
    assert max(s[2] for s in late) <= max(s[2] for s in early) + 8 * mb, (early, late)
