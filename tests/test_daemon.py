"""`shoal daemon` as a subprocess on loopback: schedules, the API, reload, stop, and the
sd_notify messages on a real AF_UNIX datagram socket the test binds."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from conftest import read_jsonl, run_shoal
from prometheus_client.parser import text_string_to_metric_families
from testsite import SiteServer, SiteSpec

from shoal.engine._runs import _lines

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Daemon:
    """A `shoal daemon` child with its notify socket and an HTTP client for its API."""

    def __init__(self, tmp_path: Path, config: str, *args: str) -> None:
        self.tmp = tmp_path
        self.config = tmp_path / "shoal.toml"
        self.config.write_text(config)
        self.args = args
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.notify_path = str(tmp_path / "notify.sock")
        self.messages: list[str] = []

    async def __aenter__(self) -> Daemon:
        # The port was free when chosen; something else on the machine may take it before the
        # daemon binds it. That is the one failure at start worth another port.
        for _ in range(3):
            try:
                return await self._start()
            except AssertionError as exc:
                if "address already in use" not in str(exc):
                    raise
                self.port = _free_port()
                self.base = f"http://127.0.0.1:{self.port}"
        return await self._start()

    async def _start(self) -> Daemon:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.notify_path)  # a daemon of this test before
        self.sock.bind(self.notify_path)
        self.sock.setblocking(False)
        env = {
            **os.environ,
            "NOTIFY_SOCKET": self.notify_path,
            "SHOAL_STATE_DIR": str(self.tmp / "state"),
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shoal.engine.cli", "daemon", "--config", str(self.config),
            "--api", f"127.0.0.1:{self.port}", *self.args,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self.http = aiohttp.ClientSession()
        try:
            await self.wait_message("READY=1")
        except BaseException:
            await self.__aexit__()  # a daemon that never got ready is not left behind
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.sock.close()

    def _drain(self) -> None:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return

    async def wait_message(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._drain()
            for message in self.messages:
                if text in message.splitlines():
                    return message
            if self.proc.returncode is not None:
                err = await self.proc.stderr.read() if self.proc.stderr else b""
                raise AssertionError(f"daemon exited {self.proc.returncode}: {err.decode()}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {text!r} in {self.messages}")

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.http.get(self.base + path, **kw) as r:
            return r.status, (
                await r.json() if r.content_type == "application/json" else await r.text()
            )

    async def send(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, **kw) as r:
            return r.status, await r.json()

    async def until(self, path: str, check: Any, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, body = await self.get(path)
            if check(body):
                return body
            await asyncio.sleep(0.1)
        raise AssertionError(f"{path} never satisfied the check: {body}")

    async def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 60)
        self._drain()
        return code


@contextlib.asynccontextmanager
async def _site(pages: int, latency_ms: float = 0.0) -> AsyncIterator[SiteServer]:
    async with SiteServer(SiteSpec(pages=pages, seed=71, latency_ms=latency_ms)) as site:
        yield site


def _job(
    name: str, url: str, out: Path, schedule: str, extra: str = "", args: tuple[str, ...] = ()
) -> str:
    more = "".join(f', "{a}"' for a in args)
    return f"""
[[jobs]]
name = "{name}"
plugin = "crawl"
args = ["{url}", "-o", "{out}", "--allow-private", "127.0.0.1"{more}]
{schedule}
{extra}
"""


async def test_jobs_run_on_schedule_never_twice_at_once_and_the_api_answers(
    tmp_path: Path,
) -> None:
    async with _site(30, latency_ms=20) as site:
        out = tmp_path / "site.jsonl"
        config = _job("site", site.url, out, 'every = "2s"')
        async with Daemon(tmp_path, config) as d:
            assert await d.get("/healthz") == (200, {"status": "alive"})
            assert (await d.get("/readyz"))[0] == 200
            status, jobs = await d.get("/jobs")
            assert status == 200 and [j["name"] for j in jobs["jobs"]] == ["site"]
            # Two scheduled runs, one after the other.
            job = await d.until("/jobs/site", lambda b: b["runs"] >= 2)
            runs = sorted(job["recent_runs"], key=lambda r: r["started_at"])
            done = [r for r in runs if r["state"] == "succeeded"]
            assert len(done) >= 2 and all(r["trigger"] == "schedule" for r in done)
            for a, b in itertools.pairwise(done):
                assert a["ended_at"] <= b["started_at"]  # never two at once
            assert done[0]["progress"]["pages"] == 30 and job["last_success"] is not None
            # On demand; then /metrics parses and says what ran.
            status, _ = await d.send("POST", "/jobs/site/run")
            assert status in (202, 409)
            status, text = await d.get("/metrics")
            assert status == 200
            families = {f.name: f for f in text_string_to_metric_families(text)}
            success = families["shoal_job_last_success_timestamp_seconds"].samples
            assert [s.labels for s in success] == [{"job": "site"}]
            assert families["shoal_pages"].samples[0].value >= 60
            assert families["shoal_daemon_loop_lag_seconds"].samples[0].value < 1.0
            assert await d.stop() == 0
        assert any("STOPPING=1" in m for m in d.messages)
        # Not a terminal: one JSON object per line, runs' lines with their job and crawl ids.
        assert d.proc.stderr is not None
        logs = [orjson.loads(line) for line in (await d.proc.stderr.read()).splitlines()]
        started = [e for e in logs if e["msg"].startswith(f"run {done[0]['id']} started")]
        assert started and started[0]["job"] == "site" and started[0]["crawl"] == done[0]["id"]


# Paced so that a stop sent once 20 of 60 pages are reported lands seconds (about 2.7) before
# the crawl could end: unpaced, a fast machine fetched the rest while the stop was on its way.
_SLOW = ("--rate", "15")


async def test_cancel_keeps_the_state_and_the_next_run_resumes(tmp_path: Path) -> None:
    async with _site(60, latency_ms=60) as site:
        out = tmp_path / "slow.jsonl"
        config = _job("slow", site.url, out, 'cron = "0 0 1 1 *"', 'missed = "skip"', _SLOW)
        async with Daemon(tmp_path, config) as d:
            status, run = await d.send("POST", "/jobs/slow/run")
            assert status == 202
            await d.until(f"/crawls/{run['id']}", lambda b: b["progress"]["pages"] >= 20)
            status, body = await d.send("DELETE", f"/crawls/{run['id']}")
            assert (status, body["state_kept"]) == (202, True)
            stopped = await d.until(f"/crawls/{run['id']}", lambda b: b["state"] != "running")
            assert stopped["state"] == "cancelled"
            first = len(read_jsonl(out))
            assert 20 <= first < 60
            status, again = await d.send("POST", "/jobs/slow/run")
            assert status == 202
            done = await d.until(
                f"/crawls/{again['id']}", lambda b: b["state"] not in ("queued", "running")
            )
            assert done["state"] == "succeeded", done
            assert await d.stop() == 0
        fetched = sum(site.fetch_counts().values())
    urls = [r["url"] for r in read_jsonl(out)]
    assert len(urls) == 60 and len(set(urls)) == 60  # every page once, across both runs
    # Resumed: only what was in flight at the stop is fetched again (a start afresh would
    # fetch the first run's 20 or more pages again).
    assert fetched < 60 + 10, fetched


async def test_reload_adds_a_job_and_the_notify_messages_come_in_order(tmp_path: Path) -> None:
    async with _site(5) as site:
        first = _job("one", site.url, tmp_path / "one.jsonl", 'cron = "0 0 1 1 *"')
        async with Daemon(tmp_path, first) as d:
            d.config.write_text(first + _job("two", site.url, tmp_path / "two.jsonl",
                                             'cron = "0 0 1 1 *"'))  # fmt: skip
            d.proc.send_signal(signal.SIGHUP)
            await d.until("/jobs", lambda b: len(b["jobs"]) == 2)
            status, body = await d.send("POST", "/jobs/nothere/run")
            assert status == 404 and "nothere" in body["error"]
            assert await d.stop() == 0
    kinds = [m.splitlines()[0] for m in d.messages if not m.startswith("STATUS=")]
    assert kinds == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"], d.messages
    reloading = next(m for m in d.messages if m.startswith("RELOADING=1"))
    assert any(line.startswith("MONOTONIC_USEC=") for line in reloading.splitlines())


async def test_a_reload_rotates_the_token_and_says_what_waits_for_a_restart(
    tmp_path: Path,
) -> None:
    async with Daemon(tmp_path, '[daemon]\ntoken = "one"\n') as d:
        d.config.write_text('[daemon]\ntoken = "two"\nmax_runs = 3\n')
        d.proc.send_signal(signal.SIGHUP)
        await d.wait_message("RELOADING=1")

        def ready_again(_: object) -> bool:  # the second READY=1: the reload is done
            d._drain()
            return sum(m.startswith("READY=1") for m in d.messages) == 2

        await d.until("/healthz", ready_again)

        async def post(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return (await d.send("POST", "/jobs/nothere/run", headers=headers))[0]

        assert await post("one") == 401
        assert await post("two") == 404  # let in: there is no such job
        assert await d.stop() == 0
    assert d.proc.stderr is not None
    logs = [orjson.loads(line) for line in (await d.proc.stderr.read()).splitlines()]
    assert any(e["msg"] == "reload: daemon.max_runs changed; in force after a restart"
               for e in logs), logs  # fmt: skip


async def test_a_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[jobs]]\nname = "x"\nplugin = "rss"\nevery = "soon"\n')
    done = await run_shoal("daemon", "--config", str(config), "--check")
    assert done.returncode == 2
    assert "jobs[0].every" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    good = tmp_path / "good.toml"
    good.write_text('[[jobs]]\nname = "x"\nplugin = "rss"\nargs = ["f.txt"]\nevery = "1h"\n')
    done = await run_shoal("daemon", "--config", str(good), "--check")
    assert done.returncode == 0 and "ok, 1 jobs" in done.stdout.decode()


async def test_a_failed_run_says_why_in_the_api_and_in_the_log(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    config = f"""
[[jobs]]
name = "news"
plugin = "rss"
args = ["{missing}", "--db", "news.sqlite"]
cron = "0 0 1 1 *"
"""
    async with Daemon(tmp_path, config) as d:
        _, run = await d.send("POST", "/jobs/news/run")
        ended = await d.until(f"/crawls/{run['id']}", lambda b: b["state"] == "failed")
        assert await d.stop() == 0
    why = f"shoal: error: cannot read the feed list {missing}: No such file"
    assert ended["error"].startswith(why) and ended["exit_code"] == 2
    # The run's own words reach the daemon's log as they come, with its job and crawl ids.
    assert d.proc.stderr is not None
    logs = [orjson.loads(line) for line in (await d.proc.stderr.read()).splitlines()]
    said = [e for e in logs if e["msg"].startswith(f"run {run['id']}: shoal: error:")]
    assert [(e["job"], e["crawl"], e["level"]) for e in said] == [("news", run["id"], "warning")]


async def test_a_runs_stderr_is_read_as_lines_none_held_past_4_kib() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"one\n\n  two  \n" + b"x" * 200_000 + b"END\nthree\nfo")
    reader.feed_data(b"ur")  # the last line, without a newline, split across reads
    reader.feed_eof()
    lines = [line async for line in _lines(reader)]
    assert lines == ["one", "two", "x" * 4096, "three", "four"]


async def test_an_api_address_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "shoal.toml"
    config.write_text("")
    env = {**os.environ, "SHOAL_STATE_DIR": str(tmp_path / "state")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        api = f"127.0.0.1:{port}"
        done = await run_shoal("daemon", "--config", str(config), "--api", api, env=env)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"shoal: error: the API cannot listen on {api}: address already in use"
    )


@pytest.mark.parametrize("token", ["s3cret"])
async def test_mutating_requests_need_the_token_when_one_is_set(tmp_path: Path, token: str) -> None:
    config = f'[daemon]\ntoken = "{token}"\n' + _job(
        "x", "http://127.0.0.1:9/", tmp_path / "x.jsonl", 'cron = "0 0 1 1 *"'
    )
    async with Daemon(tmp_path, config) as d:
        status, body = await d.send("POST", "/jobs/x/run")
        assert status == 401 and "token" in body["error"]
        assert (await d.get("/jobs"))[0] == 200  # reading needs none on loopback
        status, _ = await d.send(
            "POST",
            "/crawls",
            json={"plugin": "crawl"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert status == 400  # authorised, but no arguments
        assert await d.stop() == 0


async def test_sigterm_during_a_run_stops_cleanly_and_the_next_daemon_resumes(
    tmp_path: Path,
) -> None:
    async with _site(60, latency_ms=60) as site:
        out = tmp_path / "slow.jsonl"
        config = _job("slow", site.url, out, 'cron = "0 0 1 1 *"', 'missed = "skip"', _SLOW)
        async with Daemon(tmp_path, config) as d:
            _, run = await d.send("POST", "/jobs/slow/run")
            await d.until(f"/crawls/{run['id']}", lambda b: b["progress"]["pages"] >= 20)
            assert await d.stop() == 0  # the run is stopped, its state kept
        assert 20 <= len(read_jsonl(out)) < 60
        async with Daemon(tmp_path, config) as d:  # the same state directory
            _, again = await d.send("POST", "/jobs/slow/run")
            done = await d.until(
                f"/crawls/{again['id']}", lambda b: b["state"] not in ("queued", "running")
            )
            assert done["state"] == "succeeded"
            assert await d.stop() == 0
        fetched = sum(site.fetch_counts().values())
    urls = [r["url"] for r in read_jsonl(out)]
    assert len(urls) == 60 and len(set(urls)) == 60
    # Resumed, not started again: only what was in flight at the stop is fetched twice.
    assert fetched < 60 + 10, fetched


async def test_sigterm_cancels_the_runs_still_waiting_for_a_slot(tmp_path: Path) -> None:
    async with _site(60, latency_ms=60) as site:
        config = "[daemon]\nmax_runs = 1\n" + "".join(
            _job(name, site.url, tmp_path / f"{name}.jsonl", 'cron = "0 0 1 1 *"', "", _SLOW)
            for name in ("first", "second")
        )
        async with Daemon(tmp_path, config) as d:
            _, first = await d.send("POST", "/jobs/first/run")
            _, second = await d.send("POST", "/jobs/second/run")
            await d.until(f"/crawls/{first['id']}", lambda b: b["progress"]["pages"] >= 5)
            assert (await d.get(f"/crawls/{second['id']}"))[1]["state"] == "queued"
            stopping = time.monotonic()
            assert await d.stop() == 0
    assert time.monotonic() - stopping < 15  # not the 30 s a run started meanwhile would take
    assert (tmp_path / "first.jsonl").exists()
    assert not (tmp_path / "second.jsonl").exists()  # it never started


async def test_the_example_configuration_starts_cleanly(tmp_path: Path) -> None:
    """examples/shoal.toml, as shipped (paused: its jobs fetch from the internet)."""
    example = (ROOT / "examples" / "shoal.toml").read_text()
    (tmp_path / "feeds.txt").write_text((ROOT / "examples" / "feeds.txt").read_text())
    async with Daemon(tmp_path, example, "--paused") as d:
        status, body = await d.get("/jobs")
        assert status == 200
        jobs = {j["name"]: j for j in body["jobs"]}
        assert set(jobs) == {"news", "python-docs"}
        assert jobs["news"]["schedule"] == {"every": "15m"}
        assert jobs["news"]["next_run"] > time.time()
        assert await d.stop() == 0


async def test_overlap_skip_refuses_a_second_run_and_queue_runs_it_after(tmp_path: Path) -> None:
    async with _site(40, latency_ms=30) as site:
        config = _job("skipper", site.url, tmp_path / "a.jsonl", 'cron = "0 0 1 1 *"') + _job(
            "queuer", site.url, tmp_path / "b.jsonl", 'cron = "0 0 1 1 *"', 'overlap = "queue"'
        )
        async with Daemon(tmp_path, config) as d:
            assert (await d.send("POST", "/jobs/skipper/run"))[0] == 202
            status, body = await d.send("POST", "/jobs/skipper/run")
            assert status == 409 and "skip" in body["error"]
            _, first = await d.send("POST", "/jobs/queuer/run")
            status, second = await d.send("POST", "/jobs/queuer/run")
            assert status == 202
            ended = ("succeeded", "failed", "cancelled")
            b = await d.until(f"/crawls/{second['id']}", lambda r: r["state"] in ended)
            _, a = await d.get(f"/crawls/{first['id']}")
            assert a["state"] == b["state"] == "succeeded"
            assert a["ended_at"] <= b["started_at"]  # one after the other
            assert await d.stop() == 0


@pytest.mark.parametrize(("policy", "runs"), [("skip", 0), ("run_once", 1), ("run_all", 3)])
async def test_runs_missed_while_the_daemon_was_down(
    tmp_path: Path, policy: str, runs: int
) -> None:
    """The daemon was down for three hourly runs; at start it makes up for them as told."""
    state = tmp_path / "state"
    state.mkdir()
    if 3600 - time.time() % 3600 < 30:  # an hour starting during the test would add a run
        await asyncio.sleep(3600 - time.time() % 3600 + 0.5)
    # Just after a scheduled time three hours back: three more came while it was down.
    three_hours_ago = (time.time() // 3600 - 3) * 3600 + 60
    (state / "daemon.json").write_text(
        orjson.dumps({"jobs": {"hourly": {"last_scheduled": three_hours_ago}}}).decode()
    )
    async with _site(5) as site:
        config = _job("hourly", site.url, tmp_path / "h.jsonl", 'every = "1h"',
                      f'missed = "{policy}"')  # fmt: skip
        async with Daemon(tmp_path, config) as d:
            if runs:
                await d.until("/jobs/hourly", lambda b: b["runs"] >= runs)
            await asyncio.sleep(1.0)  # and no more than that
            _, job = await d.get("/jobs/hourly")
            assert job["runs"] == runs
            assert all(r["trigger"] == "missed" for r in job["recent_runs"])
            assert job["next_run"] > time.time()
            assert await d.stop() == 0


async def test_an_rss_job_and_its_cache_hits_in_the_metrics(tmp_path: Path) -> None:
    from feedsite import FeedSite, FeedSpec

    async with FeedSite(FeedSpec(feeds=2, entries=3)) as site:
        (tmp_path / "feeds.txt").write_text("\n".join(site.feed_urls) + "\n")
        config = """
[[jobs]]
name = "news"
plugin = "rss"
args = ["{config_dir}/feeds.txt", "--db", "{state_dir}/news.sqlite",
        "--report", "{state_dir}/news.md", "--allow-private", "127.0.0.1"]
cron = "0 0 1 1 *"
"""
        async with Daemon(tmp_path, config) as d:
            for expected in (1, 2):  # the second run finds both feeds fresh in the cache
                assert (await d.send("POST", "/jobs/news/run"))[0] == 202
                job = await d.until("/jobs/news", lambda b, n=expected: b["runs"] >= n)
                assert job["last_state"] == "succeeded", job
            _, text = await d.get("/metrics")
            assert await d.stop() == 0
    report = (tmp_path / "state" / "news.md").read_text()
    assert report.count("### [") == 6
    families = {f.name: f for f in text_string_to_metric_families(text)}
    hits = {s.labels["job"]: s.value for s in families["shoal_cache_hits"].samples}
    assert hits["news"] >= 2
