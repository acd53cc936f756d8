"""``shoal daemon --config FILE [--check] [--api HOST:PORT]``: run jobs as a service."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import sys
import time
from pathlib import Path
from typing import Any

import orjson

__all__ = ["add_parser"]


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "daemon",
        help="run scheduled jobs and an HTTP API (a systemd service)",
        description="Run the configured jobs on their schedules, serve the HTTP API "
        "(/healthz, /readyz, /metrics, /jobs, /crawls), and speak systemd's notify protocol.",
    )
    p.add_argument("--config", required=True, metavar="FILE", help="the TOML configuration")
    p.add_argument("--check", action="store_true", help="validate the configuration and exit")
    p.add_argument("--api", metavar="HOST:PORT", help="bind the API here (overrides the file)")
    p.add_argument(
        "--paused",
        action="store_true",
        help="run no job on its schedule, only when asked (POST /jobs/NAME/run)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ._daemon_config import load_config

    environ = None
    if args.api:
        import os

        environ = {**os.environ, "SHOAL_API": args.api}
    config = load_config(args.config, environ)
    if args.check:
        print(
            f"shoal daemon: {args.config}: ok, {len(config.jobs)} jobs, API on {config.daemon.api}"
        )
        return 0
    _configure_logging(config.daemon.log_format)
    import uvloop

    from ._daemon import Daemon
    from ._daemon_api import serve
    from ._sdnotify import Notifier

    # A watchdog timeout is a SIGABRT from systemd: leave a Python traceback in the journal.
    faulthandler.enable()
    # unset: the crawls it starts must not talk to systemd in its name.
    notifier = Notifier.from_environment(unset=True)
    daemon = Daemon(
        config, Path(args.config), notifier=notifier, paused=args.paused, environ=environ
    )
    try:
        uvloop.run(daemon.run(serve))
    finally:
        notifier.close()
    return 0


class _JsonLines(logging.Formatter):
    """One JSON object per line (journald and log shippers), with the job and crawl ids."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("job", "crawl"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def _configure_logging(log_format: str) -> None:
    """The daemon's own line format; the level is the one cli.main set from -v/-q."""
    json_lines = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(_JsonLines())
    else:
        handler.setFormatter(logging.Formatter("shoal: %(asctime)s %(message)s", "%H:%M:%S"))
    logging.getLogger().handlers[:] = [handler]
