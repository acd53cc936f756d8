"""Event-loop lag: how late a timer fires tells how long the loop was blocked."""

from __future__ import annotations

import asyncio

__all__ = ["LoopLagMonitor"]


class LoopLagMonitor:
    """Samples the loop every ``interval`` seconds; ``max_ms`` is the worst lateness seen.

    A timer that should fire at *t* but fires at *t + d* means some callback held the loop for
    about *d*; that is the figure the engine promises to keep under 50 ms in workers.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.max_ms = 0.0
        self.samples = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            lag_ms = max(0.0, (loop.time() - expected) * 1000.0)
            self.samples += 1
            if lag_ms > self.max_ms:
                self.max_ms = lag_ms
