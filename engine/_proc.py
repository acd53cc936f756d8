"""Process plumbing shared by the supervisor, its workers and their parse pools."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

__all__ = ["die_with_parent", "ignore_stop_signals"]

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
