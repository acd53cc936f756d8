"""`make demo`: serve the bundled sample site on loopback and crawl it with `shoal crawl`.

The site is tests/testsite.py (the generator the tests and benchmarks use): a few hundred pages
of documentation-like HTML with robots.txt, a sitemap and links in every form. Output goes to
demo-out/ (not committed).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-out"
BIN = Path(sys.executable).parent


def main() -> int:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    site = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "testsite.py"),
            "--pages",
            "500",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--latency-ms",
            "5",
            "--jitter-ms",
            "5",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert site.stdout is not None
        url = json.loads(site.stdout.readline())["urls"][0]
        print(f"demo: sample site serving on {url}", flush=True)
        command = [
            str(BIN / "shoal"),
            "crawl",
            url,
            "-o",
            str(OUT / "pages.jsonl"),
            "--state",
            str(OUT / "crawl.sqlite"),
            "--stats-json",
            str(OUT / "stats.json"),
            "--allow-private",
            "127.0.0.1",
            "--workers",
            "2",
        ]
        print("demo: " + " ".join(command[1:]), flush=True)
        code = subprocess.call(command)
        if code != 0:
            return code
        lines = (OUT / "pages.jsonl").read_text().splitlines()
        print(f"demo: {len(lines)} pages in demo-out/pages.jsonl; the first three:")
        for line in lines[:3]:
            print("  " + line)
        return 0
    finally:
        site.send_signal(signal.SIGTERM)
        try:
            site.wait(10)
        except subprocess.TimeoutExpired:
            site.kill()


if __name__ == "__main__":
    sys.exit(main())
