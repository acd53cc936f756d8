"""Nothing is lost: kill -9, worker crashes, SIGTERM and double Ctrl-C, then --resume."""

from __future__ import annotations

import asyncio
import collections
import signal
import time
from pathlib import Path

import orjson
import psutil
from conftest import (
    ShoalProcess,
    allow,
    complete_lines,
    paths_of,
    read_jsonl,
    run_shoal,
    start_shoal,
    worker_processes,
)
from testsite import SiteServer, SiteSpec


async def _wait_for_lines(path: Path, n: int, proc: ShoalProcess, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while len(complete_lines(path)) < n:
            assert proc.proc.returncode is None, "crawl ended before the test could interrupt it"
            await asyncio.sleep(0.05)


def _resumable_crawl(url: str, out: Path, state: Path) -> list[str]:
    return ["crawl", url, "-o", str(out), "--state", str(state), "--workers", "2", *allow(url)]


def _assert_exactly_once(out: Path, spec: SiteSpec) -> list[str]:
    paths = paths_of(read_jsonl(out))
    duplicates = [p for p, n in collections.Counter(paths).items() if n > 1]
    assert not duplicates, duplicates[:5]
    assert set(paths) == spec.expected_paths()
    return paths


async def test_resume_after_kill_9_of_the_process_group(tmp_path: Path) -> None:
    spec = SiteSpec(pages=500, seed=21, latency_ms=15, jitter_ms=10)
    out, state = tmp_path / "out.jsonl", tmp_path / "crawl.sqlite"
    async with SiteServer(spec, host="127.0.0.1") as site:
        args = _resumable_crawl(site.url, out, state)
        proc = await start_shoal(*args)
        await _wait_for_lines(out, 120, proc)
        proc.signal_group(signal.SIGKILL)
        killed = await proc.wait()
        assert killed.returncode == -signal.SIGKILL
        committed = {orjson.loads(line)["url"] for line in complete_lines(out)}
        fetched_before = collections.Counter(site.fetch_counts())

        stats = tmp_path / "stats.json"
        done = await run_shoal(*args, "--resume", "--stats-json", str(stats), timeout=180)
        assert done.returncode == 0, done.stderr
        _assert_exactly_once(out, spec)
        # The state's own figures over both runs count every page once, too.
        figures = orjson.loads(stats.read_bytes())
        assert figures["totals"]["pages"] == len(spec.expected_paths())
        assert figures["pages"] < len(spec.expected_paths())
        assert "all runs of this state" in done.stderr
        # Pages whose results were in the output before the kill were not fetched again.
        after = site.fetch_counts()
        for url in committed:
            path = url.split("127.0.0.1", 1)[1].split("/", 1)[1]
            assert after["/" + path] == 1, url
        assert sum(after.values()) >= sum(fetched_before.values())


async def test_worker_kill_9_is_restarted_and_nothing_is_missing(tmp_path: Path) -> None:
    spec = SiteSpec(pages=300, seed=22, latency_ms=15, jitter_ms=10)
    out, stats = tmp_path / "out.jsonl", tmp_path / "stats.json"
    async with SiteServer(spec, host="127.0.0.1") as site:
        proc = await start_shoal(
            "crawl",
            site.url,
            "-o",
            str(out),
            "--workers",
            "2",
            "--stats-json",
            str(stats),
            "--rate",
            "60",  # the crawl goes on for seconds after the kill, whatever the machine
            *allow(site.url),
        )
        await _wait_for_lines(out, 60, proc)
        victims = worker_processes(proc)
        assert len(victims) == 2
        victims[0].kill()
        # The supervisor starts a replacement at once (about 0.1 s; 3 s for a loaded machine).
        async with asyncio.timeout(3.0):
            while True:
                pids = {w.pid for w in worker_processes(proc)}
                if len(pids) == 2 and victims[0].pid not in pids:
                    break
                await asyncio.sleep(0.02)
        done = await proc.wait(180)
    assert done.returncode == 0, done.stderr
    _assert_exactly_once(out, spec)
    figures = orjson.loads(stats.read_bytes())
    assert figures["worker_restarts"] == 1
    assert "died" in done.stderr
    assert "leaked" not in done.stderr


def _fast(site: SiteServer) -> None:
    """The slow server only has to keep requests in flight at the interruption; the resume
    that follows is checked for what it fetched, not for how it copes with latency."""
    site.spec.latency_ms = site.spec.jitter_ms = 0.0


async def test_sigterm_stops_gracefully_within_5s_and_resume_finishes(tmp_path: Path) -> None:
    spec = SiteSpec(pages=400, seed=23, latency_ms=40, jitter_ms=20)
    out, state = tmp_path / "out.jsonl", tmp_path / "crawl.sqlite"
    async with SiteServer(spec, host="127.0.0.1") as site:
        args = _resumable_crawl(site.url, out, state)
        proc = await start_shoal(*args)
        await _wait_for_lines(out, 50, proc)
        family = psutil.Process(proc.pid).children(recursive=True)
        assert len(family) >= 4  # two workers and their parse processes
        sent = time.monotonic()
        proc.signal_group(signal.SIGTERM)
        stopped = await proc.wait(10)
        assert time.monotonic() - sent < 5.0
        assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr
        assert "interrupted" in stopped.stderr
        assert "--resume" in stopped.stderr
        # No worker or parse process outlives the supervisor.
        _, alive = psutil.wait_procs(family, timeout=3)
        assert not alive
        partial = len(complete_lines(out))
        _fast(site)
        done = await run_shoal(*args, "--resume", timeout=180)
        assert done.returncode == 0, done.stderr
        assert len(complete_lines(out)) > partial
        _assert_exactly_once(out, spec)
        assert max(site.fetch_counts().values()) <= 2


async def test_second_sigint_exits_at_once_and_state_stays_consistent(tmp_path: Path) -> None:
    # Slow enough that the graceful stop the first SIGINT starts is still waiting for requests
    # when the second one comes.
    spec = SiteSpec(pages=300, seed=24, latency_ms=500)
    out, state = tmp_path / "out.jsonl", tmp_path / "crawl.sqlite"
    async with SiteServer(spec, host="127.0.0.1") as site:
        args = _resumable_crawl(site.url, out, state)
        proc = await start_shoal(*args)
        await _wait_for_lines(out, 20, proc)
        proc.signal_group(signal.SIGINT)
        await asyncio.sleep(0.05)
        sent = time.monotonic()
        proc.signal_group(signal.SIGINT)
        stopped = await proc.wait(10)
        assert time.monotonic() - sent < 3.0
        assert stopped.returncode == 128 + signal.SIGINT, stopped.stderr
        assert "--resume" in stopped.stderr
        for noise in ("Traceback", "Warning", "leaked"):
            assert noise not in stopped.stderr
        _fast(site)
        done = await run_shoal(*args, "--resume", timeout=180)
        assert done.returncode == 0, done.stderr
        _assert_exactly_once(out, spec)


async def test_kill_9_of_the_supervisor_leaves_no_orphans(tmp_path: Path) -> None:
    spec = SiteSpec(pages=300, seed=25, latency_ms=40)
    out, state = tmp_path / "out.jsonl", tmp_path / "crawl.sqlite"
    async with SiteServer(spec, host="127.0.0.1") as site:
        proc = await start_shoal(*_resumable_crawl(site.url, out, state))
        await _wait_for_lines(out, 10, proc)
        family = psutil.Process(proc.pid).children(recursive=True)
        assert len(family) >= 4  # two workers and their parse processes
        psutil.Process(proc.pid).kill()  # the supervisor alone, not its group
        await proc.wait()
        # Workers die with their supervisor, parse processes with their worker.
        _, alive = psutil.wait_procs(family, timeout=3)
        assert not alive, [p.pid for p in alive]
        _fast(site)
        done = await run_shoal(*_resumable_crawl(site.url, out, state), "--resume", timeout=180)
        assert done.returncode == 0, done.stderr
        _assert_exactly_once(out, spec)
