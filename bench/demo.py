"""`make demo`: serve the bundled sample sites on loopback and run shoal on them.

1. `shoal crawl` on tests/testsite.py (the generator the tests and benchmarks use): a few
   hundred pages of documentation-like HTML with robots.txt, a sitemap and links in every form.
2. `shoal rss` on the bundled demo feeds, tests/feedsite.py: twelve feeds in every format
   (RSS 0.91/1.0/2.0, Atom 0.3/1.0, JSON Feed) whose articles are spread over three loopback
   hosts; a database, a Markdown report and every article as JSON.

Output goes to demo-out/ (not committed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-out"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))

from testsite import serve_in_subprocess  # noqa: E402 - the site generator lives with the tests

FEED_HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


def main() -> int:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    with serve_in_subprocess("--pages", "500", "--latency-ms", "5", "--jitter-ms", "5") as urls:
        url = urls[0]
        print(f"demo: sample site serving on {url}", flush=True)
        command = [
            str(BIN / "shoal"), "crawl", url,
            "-o", str(OUT / "pages.jsonl"),
            "--state", str(OUT / "crawl.sqlite"),
            "--stats-json", str(OUT / "stats.json"),
            "--allow-private", "127.0.0.1",
            "--workers", "2",
        ]  # fmt: skip
        print("demo: " + " ".join(command[1:]), flush=True)
        code = subprocess.call(command)
        if code != 0:
            return code
        lines = (OUT / "pages.jsonl").read_text().splitlines()
        print(f"demo: {len(lines)} pages in demo-out/pages.jsonl; the first three:")
        for line in lines[:3]:
            print("  " + line)
    return _feeds_demo()


def _feeds_demo() -> int:
    site = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "feedsite.py"), "--feeds", "12", "--entries", "5",
         "--hosts", ",".join(FEED_HOSTS)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert site.stdout is not None
        feeds = json.loads(site.stdout.readline())["feeds"]
        (OUT / "feeds.txt").write_text("# the bundled demo feeds\n" + "\n".join(feeds) + "\n")
        command = [
            str(BIN / "shoal"), "rss", str(OUT / "feeds.txt"),
            "--db", str(OUT / "news.sqlite"),
            "--report", str(OUT / "report.md"),
            "--json", str(OUT / "articles.json"),
            *(f"--allow-private={h}" for h in FEED_HOSTS),
        ]  # fmt: skip
        print("demo: " + " ".join(command[1:]), flush=True)
        code = subprocess.call(command)
    finally:
        site.terminate()
        site.wait(10)
    if code != 0:
        return code
    report = (OUT / "report.md").read_text().splitlines()
    print("demo: demo-out/report.md begins:")
    for line in report[:16]:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
