"""The one exception tree of shoal, grouped by who has to react.

::

    ShoalError                      root: catch this to catch anything shoal raises on purpose
    ├── UsageError                  the user must fix a command line, option or input (exit 2)
    │   ├── BadURLError             a start URL that is not an absolute http(s) URL
    │   ├── OutputError             the output file cannot be opened or written
    │   └── StateError              the state file is corrupt, locked, or holds another crawl
    ├── StorageError                the state or output file could not be written mid-crawl
    │                               (disk full, I/O error); the state stays consistent (exit 1)
    ├── FetchError                  one request failed; recorded on the page, the crawl goes on
    │   ├── ForbiddenAddressError   the SSRF rule refused the address (also an OSError, see below)
    │   │   └── ForbiddenPortError      ... or the port: not in --ports
    │   ├── ResponseTooLargeError   the body went past --max-bytes while streaming
    │   ├── TooSlowError            the body came slower than --min-rate
    │   ├── RedirectError           too many redirects, or a hop left the scope
    │   └── RobotsDisallowedError   robots.txt forbids the URL for our user agent
    ├── PluginError                 a plugin could not be loaded or failed in its own code
    │   └── NotConfigured           a plugin declines to run with the given options (logged)
    └── IPCError                    a channel between processes broke or carried garbage
        └── WorkerCrashedError      a worker process died while it held leases

Third-party errors (aiohttp, sqlite3, lxml, msgspec) are mapped to these at the boundary where
they are caught, with ``raise ... from exc`` so the cause stays visible with ``-v``.
"""

from __future__ import annotations

__all__ = [
    "BadURLError",
    "FetchError",
    "ForbiddenAddressError",
    "ForbiddenPortError",
    "IPCError",
    "NotConfigured",
    "OutputError",
    "PluginError",
    "RedirectError",
    "ResponseTooLargeError",
    "RobotsDisallowedError",
    "ShoalError",
    "StateError",
    "StorageError",
    "TooSlowError",
    "UsageError",
    "WorkerCrashedError",
]


class ShoalError(Exception):
    """Root of every error shoal raises on purpose."""


class UsageError(ShoalError):
    """A mistake the user must fix; the CLI prints it on one line and exits with status 2."""


class BadURLError(UsageError, ValueError):
    """A start URL that is not an absolute http(s) URL."""


class OutputError(UsageError):
    """The output file cannot be opened or written."""


class StateError(UsageError):
    """The state file is corrupt, locked by another crawl, or holds a different crawl."""


class StorageError(ShoalError):
    """Writing the state or the output failed during the crawl (a full disk, an I/O error).

    Every change to the state is a transaction, so the state is consistent at the last
    commit; once the cause is fixed, ``--resume`` continues.
    """


class FetchError(ShoalError):
    """One request failed. ``kind`` is the short name written to the page record's ``error``."""

    kind = "fetch"


class ForbiddenAddressError(FetchError, OSError):
    """The SSRF rule refused to connect to an address.

    It is also an ``OSError`` because it is raised from inside the connector's socket factory,
    where aiohttp expects connection errors to be ``OSError``.
    """

    kind = "forbidden_address"


class ForbiddenPortError(ForbiddenAddressError):
    """The SSRF rule refused the port: it is not in ``--ports`` (mail, SSH, DNS ...)."""

    kind = "forbidden_port"


class ResponseTooLargeError(FetchError):
    """The body grew past ``--max-bytes`` while it was being streamed.

    ``response`` carries the status and headers that were received (with an empty body).
    """

    kind = "too_large"
    response: object = None


class TooSlowError(FetchError):
    """The body arrived slower than ``--min-rate`` bytes/s (a trickle that would hold a
    connection until the total timeout)."""

    kind = "too_slow"


class RedirectError(FetchError):
    """Too many redirects, or a redirect hop that left the scope."""

    kind = "redirect"


class RobotsDisallowedError(FetchError):
    """robots.txt disallows the URL for our user agent."""

    kind = "robots_disallowed"


class PluginError(ShoalError):
    """A plugin could not be loaded, or its own code failed."""


class NotConfigured(PluginError):
    """Raised by a plugin's constructor to decline running with the given options.

    The engine logs the message and stops with a usage error instead of a traceback.
    """


class IPCError(ShoalError):
    """A channel between processes broke or carried a message that does not decode."""


class WorkerCrashedError(IPCError):
    """A worker process died while it held leases; they go back to the queue."""
