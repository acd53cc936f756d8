"""The daemon's runs: each one a ``shoal`` command in a child process of its own.

A run is a job's scheduled or requested run, or an ad-hoc crawl (``POST /crawls``). Its child
runs the same command a user would type (``shoal rss ...``, ``shoal docs ...``,
``shoal crawl ...``) in its own process group, so the daemon's event loop does no crawl or
parse work and a crawl's crash is not the daemon's. The child writes its progress as JSON lines
on a pipe (``SHOAL_PROGRESS_FD``) and its figures with ``--stats-json``; its state is kept in the
run's directory, so a cancelled run (SIGTERM: the crawl hands back its leases and flushes) is
resumed by the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
import orjson

from ._cmd_crawl import PROGRESS_FD_VARIABLE
from ._daemon_config import COMMANDS, KEEPS_STATE, Job
from ._stats import Progress

__all__ = ["Run", "command_for", "start_run"]

log = logging.getLogger("shoal.daemon")

RunState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
# How a cancelled crawl ends: 128 + SIGTERM, after its graceful stop.
_CANCELLED_CODES = frozenset({128 + signal.SIGTERM, -signal.SIGTERM, 128 + signal.SIGINT})


class Run(msgspec.Struct, kw_only=True):
    """One run, as ``GET /crawls/{id}`` and ``GET /jobs/{name}`` show it."""

    id: str
    job: str | None
    plugin: str
    args: list[str]
    state: RunState = "queued"
    trigger: str = "schedule"  # schedule, missed, api, adhoc
    created_at: float = msgspec.field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    #: What the run's supervisor last wrote on its progress pipe.
    progress: Progress = msgspec.field(default_factory=Progress)
    #: The child's --stats-json, when it finished.
    stats: dict[str, Any] | None = None
    error: str | None = None

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at


def new_run_id() -> str:
    return secrets.token_hex(6)


def command_for(plugin: str, args: Sequence[str], options: dict[str, Any]) -> list[str]:
    """The ``shoal`` command line of a job: its command, arguments, then its options as flags
    (``{limit = 50, ignore_robots = true}`` -> ``--limit 50 --ignore-robots``)."""
    command = [plugin] if plugin in COMMANDS else ["crawl", "--plugin", plugin]
    command += list(args)
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            command.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, list):
            for item in value:
                command += [flag, str(item)]
        else:
            command += [flag, str(value)]
    return command


def job_command(job: Job, *, config_dir: Path, state_dir: Path) -> list[str]:
    """The job's command line, with ``{config_dir}`` (where shoal.toml is: inputs) and
    ``{state_dir}`` (writable: outputs) put into its arguments. A job runs in its own
    directory under the state directory, so relative paths land there."""

    def place(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{config_dir}", str(config_dir)).replace(
                "{state_dir}", str(state_dir)
            )
        return value

    options = {k: [place(v) for v in x] if isinstance(x, list) else place(x)
               for k, x in job.options.items()}  # fmt: skip
    return command_for(job.plugin, [place(a) for a in job.args], options)


@dataclass
class Child:
    """A run's child process, and the task reading its progress into ``Run.progress``."""

    proc: asyncio.subprocess.Process
    progress: asyncio.Task[None]


async def start_run(run: Run, *, workdir: Path, resume: bool) -> Child:
    """Start the run's child; returns once it is running. ``resume`` continues the state of
    an interrupted run; otherwise the run starts from an empty state."""
    keep = resume or run.plugin in KEEPS_STATE
    argv = [*run.args, *_prepare(workdir, resume=resume, keep=keep)]
    read_fd, write_fd = os.pipe()
    env = {**os.environ, PROGRESS_FD_VARIABLE: str(write_fd)}
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from shoal.engine.cli import console; console()", *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=(write_fd,),
            env=env,
            cwd=str(workdir),
            start_new_session=True,  # its own process group: a signal to us is not one to it
        )  # fmt: skip
    finally:
        os.close(write_fd)
    run.state = "running"
    run.started_at = time.time()
    return Child(proc, asyncio.get_running_loop().create_task(_read_progress(read_fd, run)))


def _prepare(workdir: Path, *, resume: bool, keep: bool) -> list[str]:
    """The run's directory made ready (a few file operations); the arguments it adds."""
    workdir.mkdir(parents=True, exist_ok=True)
    state = workdir / "crawl.sqlite"
    if not keep:
        for leftover in workdir.glob("crawl.sqlite*"):
            leftover.unlink()
    stats = workdir / "stats.json"
    stats.unlink(missing_ok=True)
    args = ["--state", str(state), "--stats-json", str(stats), "-q"]
    if resume and state.exists():
        args.append("--resume")
    return args


async def finish_run(run: Run, child: Child, workdir: Path) -> None:
    """Wait for the child; record how it ended, its figures, and its last error line."""
    proc = child.proc
    assert proc.stderr is not None
    # Line by line into the daemon's log as it comes (the journal then has the run's warnings,
    # with its ids), keeping only the last: a run that warns for hours costs no memory.
    extra = {"job": run.job or "-", "crawl": run.id}
    last = ""
    logged = skipped = 0
    async for line in _lines(proc.stderr):
        last = line
        if logged < _LOGGED_LINES:
            logged += 1
            log.warning("run %s: %s", run.id, line, extra=extra)
        else:
            skipped += 1
    if skipped:
        log.warning("run %s: %d more lines not logged", run.id, skipped, extra=extra)
    code = await proc.wait()
    await child.progress  # the pipe's end: its last line read
    run.ended_at = time.time()
    run.exit_code = code
    stats = workdir / "stats.json"
    if stats.exists():
        with contextlib.suppress(ValueError, OSError):
            run.stats = orjson.loads(stats.read_bytes())
    if code == 0:
        run.state = "succeeded"
    elif code in _CANCELLED_CODES:
        run.state = "cancelled"
    else:
        run.state = "failed"
        run.error = last or f"exit status {code}"


#: A run's stderr lines logged at most (the rest are counted): a chatty run must not drown
#: the daemon's own lines in the journal, or stall the daemon on a slow log.
_LOGGED_LINES = 200
#: Longer lines are cut (journald splits lines past 48 KiB; an error line is far shorter).
_LINE_MAX = 4096


async def _lines(stream: asyncio.StreamReader) -> AsyncIterator[str]:
    """The stream's non-empty lines, stripped, each cut at _LINE_MAX bytes: however long a
    line, no more of it is held."""
    current = bytearray()
    while chunk := await stream.read(1 << 16):
        parts = chunk.split(b"\n")
        for i, part in enumerate(parts):
            current += part[: max(0, _LINE_MAX - len(current))]
            if i < len(parts) - 1:  # a newline ends this part's line
                line = current.decode("utf-8", "replace").strip()
                current.clear()
                if line:
                    yield line
    line = current.decode("utf-8", "replace").strip()
    if line:
        yield line


def cancel(child: Child, sig: int = signal.SIGTERM) -> None:
    """``sig`` to the run's process group. SIGTERM: its crawl stops gracefully, its state
    kept; SIGKILL when it would not."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.proc.pid, sig)


async def _read_progress(fd: int, run: Run) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            while line := await reader.readline():
                with contextlib.suppress(msgspec.DecodeError):
                    run.progress = msgspec.json.decode(line, type=Progress)
        finally:
            transport.close()
