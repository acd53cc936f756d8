"""The ``shoal`` command. Each subcommand lives in its own ``_cmd_*.py`` module.

User mistakes end with one line on stderr and exit status 2, never a traceback; an interrupted
crawl exits with 128 + the signal number, after leaving its state consistent.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import _cmd_crawl, _cmd_daemon, _cmd_docs, _cmd_rss
from ._proc import exit_now
from .errors import NotConfigured, PluginError, ShoalError, UsageError

__all__ = ["console", "main"]

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="shoal",
        description="A multi-process async crawl-and-process engine.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"shoal {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    _cmd_crawl.add_parser(commands)
    _cmd_docs.add_parser(commands)
    _cmd_rss.add_parser(commands)
    _cmd_daemon.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    # With -v each line carries the milliseconds since start, to see where time goes.
    fmt = "shoal: %(relativeCreated)6.0f ms %(message)s" if args.verbose else "shoal: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)
    try:
        code: int = args.run(args)
        return code
    except KeyboardInterrupt:
        return 130
    except (UsageError, NotConfigured, PluginError) as exc:
        _one_line(exc, args.verbose)
        return EXIT_USAGE
    except ShoalError as exc:
        _one_line(exc, args.verbose)
        return 1


def console() -> NoReturn:
    """The ``shoal`` command: :func:`main`, then exit without the interpreter's teardown.

    Everything was closed in order by then, so the teardown would only free objects (about
    50 ms, a visible part of a short crawl). An exception escaping ``main`` is a bug: it
    takes the normal way out, with its traceback.
    """
    exit_now(main())


def _one_line(exc: BaseException, verbose: bool) -> None:
    if verbose:
        logging.getLogger("shoal").exception("error")
    print(f"shoal: error: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
