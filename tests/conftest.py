"""Shared fixtures: the real `shoal` command run as a subprocess against real loopback sites."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import psutil
from aiohttp import web

# The test site generator lives beside the tests (bench/ and the demo reuse it).
sys.path.insert(0, str(Path(__file__).parent))

SHOAL = str(Path(sys.executable).parent / "shoal")


@dataclass
class Completed:
    returncode: int
    stdout: bytes
    stderr: str

    def records(self) -> list[dict[str, object]]:
        return [orjson.loads(line) for line in self.stdout.splitlines() if line.strip()]


class ShoalProcess:
    """A running `shoal` command in its own process group (so tests can kill the whole group)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal_group(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)

    async def wait(self, timeout: float = 120.0) -> Completed:
        try:
            async with asyncio.timeout(timeout):
                stdout, stderr = await self.proc.communicate()
        except TimeoutError:
            self.signal_group(signal.SIGKILL)
            await self.proc.wait()
            raise
        assert self.proc.returncode is not None
        return Completed(self.proc.returncode, stdout, stderr.decode(errors="replace"))


async def start_shoal(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> ShoalProcess:
    proc = await asyncio.create_subprocess_exec(
        SHOAL,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
    )
    return ShoalProcess(proc)


async def run_shoal(
    *args: str, timeout: float = 120.0, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Completed:
    proc = await start_shoal(*args, cwd=cwd, env=env)
    return await proc.wait(timeout)


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def allow(*urls: str) -> list[str]:
    """`--allow-private` arguments for the hosts of these loopback URLs."""
    from urllib.parse import urlsplit

    args: list[str] = []
    for url in urls:
        host = urlsplit(url).hostname
        assert host is not None
        if f"--allow-private={host}" not in args:
            args.append(f"--allow-private={host}")
    return args


def paths_of(records: Sequence[dict[str, object]]) -> list[str]:
    from urllib.parse import urlsplit

    return [urlsplit(str(r["url"])).path for r in records]


def complete_lines(path: Path) -> list[bytes]:
    """The output's complete lines so far (a line being written is not one yet)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].splitlines()


def worker_processes(proc: ShoalProcess) -> list[psutil.Process]:
    """Live worker processes of a shoal command (a killed one is a zombie until reaped)."""
    workers = []
    for child in psutil.Process(proc.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(child.cmdline()):
                workers.append(child)
        except psutil.Error:
            continue
    return workers


@contextlib.asynccontextmanager
async def serve(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]], host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    """A site of one handler (every GET) on a loopback port; yields ``http://host:port``."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, 0).start()
        yield f"http://{host}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
