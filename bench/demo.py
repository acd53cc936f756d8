"""`make demo`: serve the bundled sample site on loopback and crawl it with `shoal crawl`.

The site is tests/testsite.py (the generator the tests and benchmarks use): a few hundred pages
of documentation-like HTML with robots.txt, a sitemap and links in every form. Output goes to
demo-out/ (not committed).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-out"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))

from testsite import serve_in_subprocess  # noqa: E402 - the site generator lives with the tests


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
        return 0


if __name__ == "__main__":
    sys.exit(main())
