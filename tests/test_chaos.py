"""Chaos: workers and then the whole process group are killed with SIGKILL at random moments,
the crawl is resumed each time, and at the end every page is in the output exactly once.

Re-fetches are bounded too: each kill may cost at most the pages that were in flight at that
moment: the pages whose request had reached the site by then, or within 50 ms after (a
request already on its way when the crawler died is still served), minus the records
already in the output (an over-count: a page committed but not yet written counts as in
flight). The site server runs in this process, on the same clock.

``make test`` runs a short version (a few seconds). ``make chaos`` runs a long one, with
``SHOAL_CHAOS_PAGES``, ``SHOAL_CHAOS_ROUNDS`` and ``SHOAL_CHAOS_SEED`` (printed by every run,
so a failure can be replayed).
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit

from conftest import (
    ShoalProcess,
    allow,
    complete_lines,
    read_jsonl,
    start_shoal,
    worker_processes,
)
from testsite import SiteServer, SiteSpec

PAGES = int(os.environ.get("SHOAL_CHAOS_PAGES", "1200"))  # over two hosts
ROUNDS = int(os.environ.get("SHOAL_CHAOS_ROUNDS", "2"))  # runs ended by a group kill
SEED = int(os.environ.get("SHOAL_CHAOS_SEED", str(random.SystemRandom().randrange(1 << 32))))


#: Seconds: a request sent just before a kill reaches the site (whose loop is this test's) this
#: late. After a worker kill the other worker goes on sending, so the window stays short; after
#: a group kill nothing is sent until the resumed crawl has started, which takes longer than
#: this, so the window can allow for the test's loop being held up.
_IN_TRANSIT = {"worker": 0.05, "group": 0.2}


def _in_flight(site: SiteServer, what: str, killed_at: float, written: int) -> int:
    """Pages requested by ``killed_at`` (plus requests then in transit) that were not in the
    output then: what that kill may make the crawl fetch again."""
    started = {
        (r.host, r.path)
        for r in site.log
        if r.path != "/robots.txt" and r.start <= killed_at + _IN_TRANSIT[what]
    }
    return len(started) - written


async def _pause(proc: ShoalProcess, seconds: float) -> bool:
    """Sleep, but return False at once if the crawl ends meanwhile."""
    try:
        await asyncio.wait_for(asyncio.shield(proc.proc.wait()), seconds)
    except TimeoutError:
        return True
    return False


async def test_random_kills_then_resume_give_every_page_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    print(f"chaos: SHOAL_CHAOS_SEED={SEED} pages={PAGES} rounds={ROUNDS}")
    spec = SiteSpec(pages=PAGES // 2, seed=SEED % 1000, latency_ms=15, jitter_ms=10)
    out, state = tmp_path / "out.jsonl", tmp_path / "state.sqlite"
    kills: list[tuple[str, float, int]] = []  # (what, when, output records then)
    async with SiteServer(spec, hosts=["127.0.0.10", "127.0.0.11"]) as site:
        args = ["crawl", *site.urls, "-o", str(out), "--state", str(state), "--workers", "2"]
        args += [*allow(*site.urls), "--per-host-concurrency", "8", "--quiet"]
        run = 0
        while True:
            proc = await start_shoal(*args, *(["--resume"] if run else []))
            alive = True
            for _ in range(rng.randint(1, 2)):
                alive = await _pause(proc, rng.uniform(0.15, 0.6))
                victims = worker_processes(proc) if alive else []
                if victims:
                    written = len(complete_lines(out))
                    rng.choice(victims).kill()
                    kills.append(("worker", time.monotonic(), written))
            if run < ROUNDS and alive and await _pause(proc, rng.uniform(0.1, 0.5)):
                written = len(complete_lines(out))
                proc.signal_group(signal.SIGKILL)
                kills.append(("group", time.monotonic(), written))
                killed = await proc.wait()
                assert killed.returncode == -signal.SIGKILL
                run += 1
                continue
            done = await proc.wait(180)
            assert done.returncode == 0, done.stderr
            break
        # A request in transit at a kill is logged when its response ends.
        await asyncio.sleep(max(_IN_TRANSIT.values()))

    pages = [urlsplit(str(r["url"]))[1:3] for r in read_jsonl(out)]
    duplicates = [p for p, n in collections.Counter(pages).items() if n > 1]
    assert not duplicates, duplicates[:5]
    for host in site.urls:
        netloc = urlsplit(host).netloc
        assert {p for h, p in pages if h == netloc} == spec.expected_paths()
    fetched = collections.Counter((r.host, r.path) for r in site.log if r.path != "/robots.txt")
    refetches = sum(n - 1 for n in fetched.values())
    in_flight = [(what, _in_flight(site, what, when, written)) for what, when, written in kills]
    bound = sum(n for _, n in in_flight)
    print(f"chaos: {len(kills)} kills {in_flight}; {refetches} re-fetches, bound {bound}")
    assert kills, "the crawl ended before any kill: make the site slower"
    assert refetches <= bound, (refetches, kills)
