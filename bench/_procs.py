"""Run one crawler as a subprocess and measure it: wall time, CPU, summed RSS over time.

CPU comes from ``wait4``: the kernel's count for the process and every descendant it reaped
(workers, parse processes), so short-lived children are not missed between samples. Peak RSS
is sampled: the sum over the whole process tree, every ``every`` seconds.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass
class Sample:
    t: float  # seconds since start
    rss: int  # bytes, summed over the process tree
    extra: int = 0  # what the caller's probe returned (e.g. requests served so far)


@dataclass
class Measured:
    returncode: int
    wall: float
    cpu: float  # user + system seconds, the process and its reaped descendants
    peak_rss: int
    stdout: str
    stderr: str
    samples: list[Sample] = field(default_factory=list)


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def measure(
    command: Sequence[str],
    *,
    workdir: Path,
    every: float = 0.1,
    probe: Callable[[], int] | None = None,
    probe_every: float = 1.0,
    timeout: float = 3600.0,
) -> Measured:
    """Run ``command`` to completion; ``probe`` is called about every ``probe_every`` seconds."""
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        began = time.perf_counter()
        popen = subprocess.Popen(list(command), stdout=stdout, stderr=stderr)
        proc = psutil.Process(popen.pid)
        # Readable when the process exits: the wall time is taken then, not at the next sample.
        exited = os.pidfd_open(popen.pid)
        samples: list[Sample] = []
        peak = 0
        next_probe = 0.0
        while True:
            pid, status, usage = os.wait4(popen.pid, os.WNOHANG)
            now = time.perf_counter() - began
            if pid:
                wall = now
                break
            rss = tree_rss(proc)
            peak = max(peak, rss)
            extra = 0
            if probe is not None and now >= next_probe:
                extra = probe()
                next_probe = now + probe_every
                samples.append(Sample(now, rss, extra))
            if now > timeout:
                popen.kill()
            select.select([exited], [], [], every)
        os.close(exited)
        popen.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        returncode=popen.returncode,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss=peak,
        stdout=out.read_text(errors="replace"),
        stderr=err.read_text(errors="replace"),
        samples=samples,
    )
