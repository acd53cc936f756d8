"""Process plumbing shared by the supervisor, its workers and their parse pools."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
from typing import NoReturn

__all__ = [
    "die_with_parent",
    "exit_now",
    "ignore_stop_signals",
    "start_quiet_resource_tracker",
    "worker_entry",
]

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies.

    A worker whose supervisor was killed with ``kill -9`` (or a parse process whose worker was)
    must not live on as an orphan holding sockets and memory. Elsewhere this is a no-op and the
    orphan notices the closed channel instead.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        # The parent died before prctl took effect.
        os._exit(1)


def ignore_stop_signals() -> None:
    """Leave SIGINT/SIGTERM to the supervisor, which stops workers in order.

    Ctrl-C and ``kill -TERM -PGID`` reach every process of the group; a worker that died on its
    own would lose the requests it held instead of handing them back.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


_TRACKER_FILTER = "ignore::UserWarning:multiprocessing.resource_tracker"


def start_quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker without its leak warning.

    Workers and their parse pools share the supervisor's tracker. When a worker is killed (a
    crash, or a second Ctrl-C), the tracker cleans up the semaphores of its pool, rightly, and
    warns about "leaked semaphore objects" on the user's terminal, which is only noise. The
    tracker is its own process and takes its warning filters from its environment at start;
    the supervisor's environment is restored at once. If a tracker already runs (the host
    program started one), it is left as it is.
    """
    from multiprocessing import resource_tracker

    saved = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = f"{saved},{_TRACKER_FILTER}" if saved else _TRACKER_FILTER
    try:
        resource_tracker.ensure_running()
    finally:
        if saved is None:
            del os.environ["PYTHONWARNINGS"]
        else:
            os.environ["PYTHONWARNINGS"] = saved


def worker_entry(config: bytes, sock: socket.socket) -> None:
    """A worker process's target. It lives in this module, which imports next to nothing, so
    that a spawned worker loads what it runs and not the supervisor's modules.

    The parse processes are forked from here, after the plugin's module is imported (they
    parse with it) and before aiohttp is (they never need it), while this process still has
    one thread.
    """
    import msgspec

    from ..ipc.messages import WorkerConfig
    from ._parsepool import fork_parse_processes
    from ._plugins import plugin_class

    die_with_parent()
    ignore_stop_signals()
    decoded = msgspec.msgpack.decode(config, type=WorkerConfig)
    plugin_class(decoded.plugin)
    parse_pool = fork_parse_processes(decoded.parse_processes, close_fds=(sock.fileno(),))
    from ._worker import worker_main

    worker_main(decoded, sock, parse_pool)
    exit_now(0)


def exit_now(code: int) -> NoReturn:
    """End this process without the interpreter's teardown.

    Only for a process that closed everything in order first (its channel, HTTP session and
    parse processes; the supervisor its state and output, its workers reaped): what is left
    is freeing every module's objects one by one, measured at 50-100 ms for a worker and about
    50 ms for the supervisor, which every short crawl waits for. Streams are flushed first;
    nothing else buffers.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
