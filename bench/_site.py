"""The benchmark site: tests/testsite.py in its own process, with its control endpoints on."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

_TESTSITE = Path(__file__).resolve().parent.parent / "tests" / "testsite.py"


class BenchSite:
    """``with BenchSite(hosts, pages, ...) as site:`` serves until the block ends."""

    def __init__(
        self,
        hosts: list[str],
        pages: int,
        *,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        prerender: bool = True,
        seed: int = 1,
    ) -> None:
        self._args = [
            "--hosts", ",".join(hosts),
            "--pages", str(pages),
            "--latency-ms", str(latency_ms),
            "--jitter-ms", str(jitter_ms),
            "--seed", str(seed),
            "--control",
        ]  # fmt: skip
        if prerender:
            self._args.append("--prerender")
        self.urls: list[str] = []
        self._popen: subprocess.Popen[str] | None = None

    def __enter__(self) -> BenchSite:
        self._popen = subprocess.Popen(
            [sys.executable, str(_TESTSITE), *self._args], stdout=subprocess.PIPE, text=True
        )
        assert self._popen.stdout is not None
        line = self._popen.stdout.readline()
        if not line:
            self.__exit__(None, None, None)
            raise RuntimeError("the benchmark site did not start")
        self.urls = list(json.loads(line)["urls"])
        self.process = psutil.Process(self._popen.pid)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._popen is not None:
            self._popen.terminate()
            try:
                self._popen.wait(10)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()

    @property
    def hosts(self) -> list[str]:
        return [url.split("/")[2].rsplit(":", 1)[0] for url in self.urls]

    def _control(self, command: str) -> Any:
        base = self.urls[0].split("/docs/")[0]
        with urllib.request.urlopen(f"{base}/__site/{command}", timeout=30) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        self._control("reset")

    def stats(self) -> dict[str, Any]:
        return dict(self._control("stats"))

    def requests(self) -> int:
        return int(self._control("count")["requests"])

    def cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)
