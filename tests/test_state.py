"""The SQLite state backend: the queued/leased/done invariant and the crash-safe output."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from shoal.engine._sqlite_state import SQLiteState
from shoal.engine.errors import StateError
from shoal.ipc.messages import Outcome, Request

CONFIG = {"plugin": "links", "scope": ["prefix"]}


async def _open(tmp: Path, *, resume: bool = False) -> SQLiteState:
    return await SQLiteState.open(
        tmp / "s.sqlite", output=tmp / "out.jsonl", resume=resume, config=CONFIG
    )


def _done(url: str, *links: str) -> Outcome:
    return Outcome(
        url=url,
        status=200,
        items=[orjson.dumps({"url": url})],
        links=[Request(link, 1) for link in links],
    )


async def test_seen_set_lease_commit_and_breadth_first(tmp_path: Path) -> None:
    state = await _open(tmp_path)
    try:
        assert await state.add([Request("http://a/", 0), Request("http://a/", 0)]) == 1
        [root] = await state.lease(1, 10, {}, 10)
        assert root.url == "http://a/"
        summary = await state.commit(
            1, [_done("http://a/", "http://a/x", "http://a/y", "http://a/")]
        )
        assert (summary.done, summary.new_urls, summary.items) == (1, 2, 1)
        assert await state.flush_output() == 1
        # host_room limits how many one host may have leased.
        batch = await state.lease(1, 10, {"a": 1}, 10)
        assert [r.url for r in batch] == ["http://a/x"]
        counts = state.counts_nowait()
        assert (counts.queued, counts.leased, counts.done) == (1, 1, 1)
        # A lease handed back after a crash counts as an attempt.
        await state.hand_back(batch, crashed=True)
        again = await state.lease(2, 10, {}, 10)
        assert {r.url: r.attempt for r in again} == {"http://a/x": 1, "http://a/y": 0}
        # A commit from a worker that no longer holds the lease is dropped, records and all.
        stale = await state.commit(1, [_done("http://a/x")])
        assert stale.done == 0 and stale.tally.pages == 0
        assert await state.flush_output() == 0
        assert state.totals_nowait().pages == 1
    finally:
        await state.aclose()


async def test_retry_waits_until_due(tmp_path: Path) -> None:
    state = await _open(tmp_path)
    try:
        await state.add([Request("http://a/", 0)])
        await state.lease(1, 1, {}, 1)
        await state.commit(1, [Outcome(url="http://a/", status=503, retry_at=time.time() + 60)])
        assert await state.lease(1, 1, {}, 1) == []
        due = await state.next_due()
        assert due is not None and due > time.time() + 50
    finally:
        await state.aclose()


async def test_output_is_exactly_once_after_a_torn_write(tmp_path: Path) -> None:
    state = await _open(tmp_path)
    await state.add([Request(f"http://a/{i}", 0) for i in range(3)])
    await state.lease(1, 3, {}, 3)
    await state.commit(1, [_done("http://a/0")])
    await state.flush_output()
    await state.commit(1, [_done("http://a/1"), _done("http://a/2")])
    await state.aclose()
    # Simulate a crash after the records were written but before the outbox was cleared:
    # one record complete, the next torn mid-line.
    out = tmp_path / "out.jsonl"
    with out.open("ab") as f:
        f.write(orjson.dumps({"url": "http://a/1"}) + b"\n" + b'{"url": "http://a/')
    state = await _open(tmp_path, resume=True)
    try:
        await state.flush_output()
    finally:
        await state.aclose()
    urls = [orjson.loads(line)["url"] for line in out.read_bytes().splitlines()]
    assert urls == ["http://a/0", "http://a/1", "http://a/2"]


async def test_refuses_a_different_plugin_and_a_second_opener(tmp_path: Path) -> None:
    state = await _open(tmp_path)
    try:
        with pytest.raises(StateError, match="in use"):
            await _open(tmp_path, resume=True)
    finally:
        await state.aclose()
    with pytest.raises(StateError, match="'links' crawl"):
        await SQLiteState.open(
            tmp_path / "s.sqlite", output=None, resume=True, config={"plugin": "docs"}
        )


async def test_totals_survive_reopening(tmp_path: Path) -> None:
    state = await _open(tmp_path)
    await state.add([Request("http://a/", 0), Request("http://a/b", 0)])
    await state.lease(1, 2, {}, 2)
    failed = Outcome(url="http://a/b", status=404, error="http")
    summary = await state.commit(1, [_done("http://a/"), failed])
    assert summary.tally.pages == 2
    await state.aclose()
    state = await _open(tmp_path, resume=True)
    try:
        totals = state.totals_nowait()
        assert (totals.pages, totals.status_counts, totals.errors) == (
            2,
            {"200": 1, "404": 1},
            {"http": 1},
        )
    finally:
        await state.aclose()
