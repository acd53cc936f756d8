"""``shoal daemon``: jobs on schedules, ad-hoc crawls, an HTTP API, and systemd's protocol.

One process, one event loop, doing no crawl or parse work: each run is a child process
(``_runs.py``), so the API answers at once however busy the crawls keep the cores. The loop
runs the scheduler (one task per job), the runs, the API (``_daemon_api.py``), the watchdog
and the status line. State the daemon needs across restarts (each job's last scheduled time,
last success and duration, and whether its last run was interrupted) is one JSON file in the
state directory, replaced atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tempfile
import time
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from ._daemon_config import (
    Config,
    Job,
    jitter_seconds,
    job_schedule,
    keep_running_settings,
    load_config,
)
from ._runs import Child, Run, cancel, finish_run, job_command, new_run_id, start_run
from ._schedule import Schedule, jitter_for, runs_between
from ._sdnotify import LoopHealth, Notifier, watchdog

__all__ = ["Daemon", "JobRecord"]

log = logging.getLogger("shoal.daemon")

_RECENT = 20  # runs kept per job for GET /jobs/{name}
_KEPT_RUNS = 500  # runs kept for GET /crawls/{id}, newest first
_STOP_TIMEOUT = 30.0  # seconds a cancelled child gets to stop before it is killed


class JobRecord(msgspec.Struct, kw_only=True):
    """What persists of a job between daemon restarts."""

    last_scheduled: float | None = None  # the last scheduled time dealt with (run or skipped)
    last_success: float | None = None
    last_duration_s: float | None = None
    last_state: str | None = None
    #: The last run was cancelled or killed: the next one resumes its crawl state.
    interrupted: bool = False
    runs: int = 0


class _Persisted(msgspec.Struct):
    jobs: dict[str, JobRecord] = msgspec.field(default_factory=dict)


class Daemon:
    def __init__(
        self,
        config: Config,
        config_path: Path,
        *,
        notifier: Notifier,
        paused: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        #: The environment the configuration was read with (and --api, as SHOAL_API): a
        #: reload reads it the same way.
        self._environ = environ
        self.notifier = notifier
        self.state_dir = Path(config.daemon.state_dir)
        self.jobs: dict[str, Job] = {}
        self._schedules: dict[str, Schedule] = {}
        self._set_jobs(config)
        self.runs: dict[str, Run] = {}
        self.recent: dict[str, deque[Run]] = {}
        self.started_at = time.time()
        #: --paused: no scheduled runs, only the ones asked for through the API.
        self.paused = paused
        self.ready = False
        self.reloads = 0
        self.health = LoopHealth()
        self._children: dict[str, Child] = {}
        self._slots = asyncio.Semaphore(config.daemon.max_runs)
        self._schedulers: dict[str, asyncio.Task[None]] = {}
        self._run_tasks: set[asyncio.Task[None]] = set()
        self._last_task: dict[str, asyncio.Task[None]] = {}  # each job's newest run
        self._queued: dict[str, int] = {}
        self._persisted = self._load_persisted()
        #: Per job ("" for ad-hoc crawls): pages, bytes, errors, retries, worker restarts,
        #: and for rss its cache hits and LLM calls and tokens, of its finished runs since the
        #: daemon started (Prometheus counters).
        self.totals: dict[str, dict[str, float]] = {}
        self._stopping = asyncio.Event()

    # --- what the API reads -------------------------------------------------------------------

    def record(self, name: str) -> JobRecord:
        return self._persisted.jobs.setdefault(name, JobRecord())

    def running(self, job: str) -> Run | None:
        for run in self.runs.values():
            if run.job == job and run.state in ("queued", "running"):
                return run
        return None

    def next_due(self, job: Job) -> float | None:
        return self._next_due(job).timestamp()

    def _next_due(self, job: Job) -> datetime:
        """The job's next scheduled time after its last one and now (jitter not added)."""
        last = self.record(job.name).last_scheduled
        after = datetime.fromtimestamp(max(last or 0, time.time()), UTC)
        return self._schedules[job.name].next_after(after)

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self, serve: Any) -> None:
        """Until SIGTERM or SIGINT: ``serve`` is the API's start (an awaitable giving back a
        cleanup coroutine function), started before READY=1."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._stopping.set)
        loop.add_signal_handler(signal.SIGINT, self._stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload()))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        async with self.health:
            cleanup = await serve(self)
            try:
                if not self.paused:
                    for job in self.jobs.values():
                        self._start_scheduler(job, first=True)
                self.ready = True
                self.notifier.ready(self.status_line())
                log.info("ready: %d jobs", len(self.jobs))
                dog = loop.create_task(watchdog(self.notifier, self.health.healthy))
                status = loop.create_task(self._status_loop())
                await self._stopping.wait()
                self.notifier.stopping("stopping: cancelling runs, keeping their state")
                log.info("stopping")
                self.ready = False
                for task in (*self._schedulers.values(), dog, status):
                    task.cancel()
                await self._stop_runs()
            finally:
                await cleanup()
        self._save_persisted()

    async def reload(self) -> None:
        """SIGHUP: read the configuration again; jobs added, removed or changed. Running
        runs go on; a removed job's run finishes as it is."""
        self.notifier.reloading()
        try:
            config = load_config(self.config_path, self._environ)
            config.daemon, waiting = keep_running_settings(
                self.config_path, config.daemon, self.config.daemon
            )
        except Exception as exc:  # a bad edit keeps the running configuration
            log.error("reload failed, configuration unchanged: %s", exc)
            self.notifier.ready(self.status_line())
            return
        if waiting:
            log.warning(
                "reload: %s changed; in force after a restart",
                ", ".join("daemon." + name for name in waiting),
            )
        old = self.jobs
        self.config = config
        self._set_jobs(config)
        for name in set(old) | set(self.jobs):
            if old.get(name) != self.jobs.get(name):
                task = self._schedulers.pop(name, None)
                if task is not None:
                    task.cancel()
                if name in self.jobs and not self.paused:
                    self._start_scheduler(self.jobs[name], first=False)
        self.reloads += 1
        log.info("reloaded: %d jobs", len(self.jobs))
        self.notifier.ready(self.status_line())

    def _set_jobs(self, config: Config) -> None:
        """The enabled jobs, and their schedules parsed once (a cron expression's parse
        searches its calendar: not for every GET /jobs)."""
        self.jobs = {job.name: job for job in config.jobs if job.enabled}
        self._schedules = {name: job_schedule(job) for name, job in self.jobs.items()}

    def status_line(self) -> str:
        active = [r for r in self.runs.values() if r.state == "running"]
        parts = [f"{len(self.jobs)} jobs", f"{len(active)} running"]
        for run in active[:3]:
            parts.append(
                f"{run.job or run.id}: {run.progress.pages} pages, {run.progress.pages_per_s:.0f}/s"
            )
        return "; ".join(parts)

    # --- runs ---------------------------------------------------------------------------------

    def trigger(self, job: Job, trigger: str) -> Run | None:
        """A run of ``job`` now, unless one runs and the job says skip; the run, or None."""
        if self.running(job.name) is not None:
            if job.overlap == "skip":
                log.info("job %s: a run is still going, this one is skipped", job.name)
                return None
            if self._queued.get(job.name):
                return None  # one waiting run is enough
        return self.start(job.name, job.plugin, self._command(job), trigger)

    def start(self, job: str | None, plugin: str, args: list[str], trigger: str) -> Run:
        run = Run(id=new_run_id(), job=job, plugin=plugin, args=args, trigger=trigger)
        self.runs[run.id] = run
        self._forget_old_runs()
        if job is not None:
            self.recent.setdefault(job, deque(maxlen=_RECENT)).appendleft(run)
        before = self._last_task.get(job) if job is not None else None
        task = asyncio.get_running_loop().create_task(self._execute(run, before))
        self._run_tasks.add(task)
        task.add_done_callback(self._run_tasks.discard)
        if job is not None:
            self._last_task[job] = task
        return run

    def _forget_old_runs(self) -> None:
        """Keep the newest _KEPT_RUNS finished runs (dicts keep insertion order): a daemon
        that runs for months must not grow with every run it ever made."""
        excess = len(self.runs) - _KEPT_RUNS
        if excess <= 0:
            return
        for run_id in [i for i, r in self.runs.items() if r.ended_at is not None][:excess]:
            del self.runs[run_id]

    def _command(self, job: Job) -> list[str]:
        return job_command(
            job, config_dir=self.config_path.resolve().parent, state_dir=self.state_dir.resolve()
        )

    def cancel(self, run_id: str) -> bool:
        run = self.runs.get(run_id)
        if run is None or run.state not in ("queued", "running"):
            return False
        child = self._children.get(run_id)
        if child is not None:
            cancel(child)
        else:
            run.state, run.ended_at = "cancelled", time.time()
        return True

    async def _execute(self, run: Run, before: asyncio.Task[None] | None) -> None:
        name = run.job
        if name is not None and before is not None and not before.done():
            # overlap = "queue" (or missed runs run one by one): after the run before it.
            self._queued[name] = self._queued.get(name, 0) + 1
            try:
                await asyncio.wait([before])
            finally:
                self._queued[name] -= 1
        async with self._slots:
            if _cancelled(run):  # cancelled while it waited
                return
            workdir = self.state_dir / ("jobs/" + name if name else "crawls/" + run.id)
            resume = self.record(name).interrupted if name else False
            extra = {"job": name or "-", "crawl": run.id}
            try:
                child = await start_run(run, workdir=workdir, resume=resume)
            except OSError as exc:
                run.state, run.error = "failed", f"cannot start: {exc}"
                log.error("run %s failed to start: %s", run.id, exc, extra=extra)
                return
            self._children[run.id] = child
            log.info("run %s started: shoal %s", run.id, " ".join(run.args), extra=extra)
            try:
                await finish_run(run, child, workdir)
            finally:
                self._children.pop(run.id, None)
            log.info(
                "run %s %s in %.1f s (%d pages)",
                run.id, run.state, run.duration_s or 0.0, run.progress.pages, extra=extra,
            )  # fmt: skip
        self._add_totals(run)
        if name is not None:
            record = self.record(name)
            record.runs += 1
            record.last_state = run.state
            record.interrupted = _cancelled(run)
            if run.state == "succeeded":
                record.last_success = run.ended_at
                record.last_duration_s = run.duration_s
            self._save_persisted()

    async def _stop_runs(self) -> None:
        # Every run, not only those with a child: one waiting for a slot or for its job's
        # previous run would otherwise start as soon as a cancelled one made room.
        for run_id in list(self.runs):
            self.cancel(run_id)
        if self._run_tasks:
            _, pending = await asyncio.wait(self._run_tasks, timeout=_STOP_TIMEOUT)
            for child in self._children.values():
                cancel(child, signal.SIGKILL)
            if pending:
                await asyncio.wait(pending, timeout=5)

    def _add_totals(self, run: Run) -> None:
        stats = run.stats or {}
        totals = self.totals.setdefault(run.job or "", {})
        errors = stats.get("errors") or {}
        rss = stats.get("rss") or {}
        for key, value in (
            ("pages", stats.get("pages", 0)),
            ("bytes", stats.get("bytes", 0)),
            ("errors", sum(errors.values()) if isinstance(errors, dict) else 0),
            ("retries", stats.get("retries", 0)),
            ("worker_restarts", stats.get("worker_restarts", 0)),
            ("cache_hits", sum((rss.get("cache_hits") or {}).values())),
            ("llm_calls", rss.get("calls", 0)),
            ("llm_tokens", rss.get("tokens", 0)),
        ):
            totals[key] = totals.get(key, 0.0) + float(value or 0)

    # --- scheduling ---------------------------------------------------------------------------

    def _start_scheduler(self, job: Job, *, first: bool) -> None:
        task = asyncio.get_running_loop().create_task(self._schedule(job, first=first))
        self._schedulers[job.name] = task

    async def _schedule(self, job: Job, *, first: bool) -> None:
        schedule = self._schedules[job.name]
        jitter = jitter_seconds(job)
        record = self.record(job.name)
        now = datetime.now(UTC)
        if first and record.last_scheduled is not None:
            last = datetime.fromtimestamp(record.last_scheduled, UTC)
            missed = runs_between(schedule, last, now)
            if missed and job.missed != "skip":
                count = 1 if job.missed == "run_once" else len(missed)
                log.info("job %s: %d runs missed, %d run now", job.name, len(missed), count)
                command = self._command(job)
                for _ in range(count):
                    self.start(job.name, job.plugin, command, "missed")
            if missed:
                record.last_scheduled = missed[-1].timestamp()
                self._save_persisted()
        while True:
            due = self._next_due(job)
            at = due.timestamp() + jitter_for(job.name, jitter, due)
            await asyncio.sleep(max(0.0, at - time.time()))
            record.last_scheduled = due.timestamp()
            self._save_persisted()
            self.trigger(job, "schedule")

    # --- persistence and status ---------------------------------------------------------------

    def _load_persisted(self) -> _Persisted:
        path = self.state_dir / "daemon.json"
        try:
            return msgspec.json.decode(path.read_bytes(), type=_Persisted)
        except FileNotFoundError:
            return _Persisted()
        except (msgspec.DecodeError, OSError) as exc:
            log.warning("%s unreadable (%s): starting without last-run records", path, exc)
            return _Persisted()

    def _save_persisted(self) -> None:
        path = self.state_dir / "daemon.json"
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".daemon.json.")
            with os.fdopen(fd, "wb") as f:
                f.write(msgspec.json.encode(self._persisted))
            os.replace(tmp, path)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            self.notifier.status(self.status_line())


def _cancelled(run: Run) -> bool:
    # A function, not an inline comparison: the state changes while the run awaits.
    return run.state == "cancelled"
