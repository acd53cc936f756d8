"""Run several crawler commands at once, with no coordination between them; wait for all.

    python bench/_together.py CMD1 ... -- CMD2 ...

Used for "two copies of the asyncio baseline, one host each": the machine's limit for this work.
Exits non-zero when any command did.
"""

from __future__ import annotations

import subprocess
import sys


def main(argv: list[str]) -> int:
    commands: list[list[str]] = [[]]
    for arg in argv:
        if arg == "--":
            commands.append([])
        else:
            commands[-1].append(arg)
    procs = [subprocess.Popen(command) for command in commands if command]
    return max(proc.wait() for proc in procs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
