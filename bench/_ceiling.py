"""The site server's own ceiling: the requests/s a load generator gets with nothing else running.

wrk when it is installed (``make bench`` installs it when it can); otherwise a tight aiohttp loop,
which is itself CPU-bound on one core and so gives a lower figure: the report says which was used.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time

import aiohttp


def ceiling(url: str, seconds: float = 3.0, connections: int = 32) -> tuple[float, str]:
    """Requests per second ``url`` sustains, and the tool that measured it."""
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run(
            [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found = re.search(r"Requests/sec:\s*([\d.]+)", out)
        if found:
            return float(found.group(1)), "wrk -t1 -c32"
    return asyncio.run(_aiohttp_loop(url, seconds, connections)), "aiohttp loop (wrk not found)"


async def _aiohttp_loop(url: str, seconds: float, connections: int) -> float:
    done = 0
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                async with session.get(url) as response:
                    await response.read()
                done += 1

        await asyncio.gather(*(one() for _ in range(connections)))
    return done / seconds
