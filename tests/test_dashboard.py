"""The daemon's dashboard in a real headless browser: Debian's chromium driven by Playwright
(no browser download: ``executable_path``). `make test` installs chromium when it is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import read_jsonl
from test_daemon import _SLOW, Daemon, _job, _site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def chromium() -> str:
    if CHROMIUM is None:
        pytest.fail("the dashboard test needs chromium: apt-get install chromium (make test does)")
    return CHROMIUM


async def test_the_dashboard_lists_jobs_runs_one_and_cancels_it(
    tmp_path: Path, chromium: str
) -> None:
    from playwright.async_api import async_playwright

    token = "s3cret"
    async with _site(150, latency_ms=60) as site:
        config = f'[daemon]\ntoken = "{token}"\n' + _job(
            "docs-site",
            site.url,
            tmp_path / "out.jsonl",
            'cron = "0 0 1 1 *"',
            'missed = "skip"',
            _SLOW,  # so that Cancel, clicked at 10 pages, lands seconds before the end
        )
        async with Daemon(tmp_path, config) as d, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                page = await browser.new_page(viewport={"width": 1200, "height": 700})
                elsewhere: list[str] = []
                page.on(
                    "request",
                    lambda r: None if r.url.startswith(d.base) else elsewhere.append(r.url),
                )
                await page.goto(d.base + "/")
                row = page.locator('#jobs tr[data-job="docs-site"]')
                await row.wait_for()
                assert "0 0 1 1 *" in await row.inner_text()
                # Without the token the API refuses, and the page says why.
                await row.get_by_role("button", name="Run now").click()
                await page.get_by_role("alert").get_by_text("bearer token").wait_for()
                # With it, the run starts and its progress shows.
                await page.fill("#token", token)
                await page.dispatch_event("#token", "change")
                await row.get_by_role("button", name="Run now").click()
                crawl = page.locator("#crawls tbody tr").first
                await crawl.get_by_text("running").wait_for()
                await page.wait_for_function(
                    "() => Number(document.querySelector('#crawls tbody tr td:nth-child(4)')"
                    ".textContent) >= 10",
                    timeout=20_000,
                )
                await page.screenshot(path=str(tmp_path / "dashboard-running.png"), full_page=True)
                await crawl.get_by_role("button", name="Cancel").click()
                await crawl.get_by_text("cancelled").wait_for(timeout=20_000)
                await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            finally:
                await browser.close()
            assert await d.stop() == 0
    assert 10 <= len(read_jsonl(tmp_path / "out.jsonl")) < 150  # stopped partway
    assert elsewhere == []  # no external assets: every request went to the daemon
    assert (tmp_path / "dashboard-running.png").stat().st_size > 10_000
