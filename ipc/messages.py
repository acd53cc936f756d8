"""Every message that crosses a process boundary in shoal, in one place.

Supervisor and workers speak a tagged union of ``msgspec.Struct`` messages, encoded with msgpack
(see :mod:`shoal.ipc.channel` for the framing). Rules that keep old and new processes compatible:
new fields get defaults, field types never change, tags never get reused.

Flow (numbers match docs/architecture.md):

1. worker → supervisor ``Hello`` once its HTTP session and parse pool are up ("ready").
2. supervisor → worker ``Lease``: a batch of requests the worker now holds.
3. worker → supervisor ``Acquire`` / supervisor → worker ``Grant`` / worker → ``Release``:
   per-host permits from the rate-limit broker, batched per event-loop tick.
4. worker → supervisor ``RobotsWanted``; supervisor → worker ``RobotsAssign`` (you fetch it) or
   ``RobotsRules`` (broadcast once known); worker → supervisor ``RobotsFetched``.
5. worker → supervisor ``Results``: outcomes of finished requests, with emitted items and
   discovered links; the supervisor commits them, and only then are the leases done.
6. worker → supervisor ``WorkerStats`` now and then; supervisor → worker ``Shutdown``;
   worker → supervisor ``Bye`` after handing back what it still held.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "Acquire",
    "Bye",
    "FromSupervisor",
    "FromWorker",
    "Grant",
    "Hello",
    "Lease",
    "Outcome",
    "Release",
    "Request",
    "Results",
    "RobotsAssign",
    "RobotsFetched",
    "RobotsRules",
    "RobotsWanted",
    "Shutdown",
    "WorkerConfig",
    "WorkerStats",
]


class Request(msgspec.Struct, frozen=True, array_like=True):
    """One URL to fetch. ``url`` is already normalised; ``attempt`` counts earlier tries."""

    url: str
    depth: int = 0
    attempt: int = 0
    meta: dict[str, Any] | None = None
    #: What an earlier fetch of this URL returned (``--refresh``): its validators, sent as
    #: If-None-Match / If-Modified-Since, and the hash of its body.
    etag: str | None = None
    last_modified: str | None = None
    body_hash: bytes | None = None


class Outcome(msgspec.Struct, array_like=True):
    """What became of one leased request.

    ``retry_at`` set (a ``time.time()`` stamp) means "not done: queue it again then"; otherwise
    the request is finished, successfully or with ``error``. ``items`` are the plugin's emitted
    records (already JSON-encoded), ``links`` the requests it enqueued.
    """

    url: str
    status: int = 0
    error: str | None = None
    retry_at: float | None = None
    items: list[bytes] = msgspec.field(default_factory=list)
    links: list[Request] = msgspec.field(default_factory=list)
    nbytes: int = 0
    #: Seconds the server asked us to wait (Retry-After), so the broker pauses the whole host.
    retry_after: float | None = None
    #: Links of this page not followed, by reason (crawler-trap limits), for the summary.
    skipped: dict[str, int] | None = None
    #: The response's validators and body hash, kept for the next ``--refresh``.
    etag: str | None = None
    last_modified: str | None = None
    body_hash: bytes | None = None
    #: The page is as it was at the last fetch (a 304, or the same body hash).
    unchanged: bool = False


class WorkerConfig(msgspec.Struct, frozen=True):
    """Everything a worker needs to start, sent as its first argument (not over the channel)."""

    worker_id: int
    plugin: str
    plugin_options: dict[str, Any]
    scope: list[str]
    allow_private: list[str]
    user_agent: str
    concurrency: int
    per_host_concurrency: int
    timeout: float
    connect_timeout: float
    max_bytes: int
    max_redirects: int
    max_attempts: int
    max_depth: int
    ignore_robots: bool
    parse_processes: int
    log_level: int
    min_rate: float = 0.0
    max_url_length: int = 0
    max_path_repeats: int = 0
    ports: str = ""  # --ports; the supervisor always sets it
    #: Note each page's validators and body hash (only a kept --state can use them later).
    remember_pages: bool = True


# --- worker → supervisor -------------------------------------------------------------------


class Hello(msgspec.Struct, tag=True):
    worker_id: int
    pid: int


class Acquire(msgspec.Struct, tag=True):
    """Ask the broker for one permit per entry; ``tokens[i]`` names the permit for ``hosts[i]``."""

    tokens: list[int]
    hosts: list[str]


class Release(msgspec.Struct, tag=True):
    tokens: list[int]


class RobotsWanted(msgspec.Struct, tag=True):
    origin: str


class RobotsFetched(msgspec.Struct, tag=True):
    """``status`` is the HTTP status, 0 when the host was unreachable; ``body`` is capped."""

    origin: str
    status: int
    body: bytes = b""
    crawl_delay: float | None = None
    #: The SSRF rule refused the host: there are no rules, and every fetch will be refused too.
    refused: bool = False
    #: Why there are no rules when the status is 0 or 5xx (the last error seen).
    reason: str = ""


class Results(msgspec.Struct, tag=True):
    outcomes: list[Outcome]


class WorkerStats(msgspec.Struct, tag=True):
    worker_id: int
    loop_lag_max_ms: float = 0.0
    in_flight: int = 0
    parse_pool_restarts: int = 0


class Bye(msgspec.Struct, tag=True):
    """Last word of a worker: it has sent every result and handed back ``returned``."""

    worker_id: int
    returned: list[Request] = msgspec.field(default_factory=list)


# --- supervisor → worker -------------------------------------------------------------------


class Lease(msgspec.Struct, tag=True):
    requests: list[Request]


class Grant(msgspec.Struct, tag=True):
    tokens: list[int]


class RobotsAssign(msgspec.Struct, tag=True):
    origin: str


class RobotsRules(msgspec.Struct, tag=True):
    """robots.txt of ``origin`` as the supervisor decided it; fields as in ``RobotsFetched``."""

    origin: str
    status: int
    body: bytes = b""
    refused: bool = False
    reason: str = ""
    #: ``time.time()`` after which these rules are stale and robots.txt is fetched again: at
    #: most a day later (RFC 9309), sooner when it was unavailable (retried with backoff).
    expires_at: float = 0.0


class Shutdown(msgspec.Struct, tag=True):
    """Stop taking work; finish what is in flight within ``grace`` seconds, hand back the rest."""

    grace: float = 3.0


FromWorker = Hello | Acquire | Release | RobotsWanted | RobotsFetched | Results | WorkerStats | Bye
FromSupervisor = Lease | Grant | RobotsAssign | RobotsRules | Shutdown
