"""Crawl options: one typed record shared by the CLI, the Python API and the workers."""

from __future__ import annotations

import os
from typing import Any

import msgspec

__all__ = ["CrawlOptions", "default_parse_processes", "default_workers"]

DEFAULT_USER_AGENT = "shoal/0.1 (+robots: shoal)"
#: The ports a crawl may connect to unless ``--ports`` says otherwise: the web's own, and the
#: unprivileged range where development and intranet servers live. Below 1024 sit mail, SSH,
#: DNS and the like, which an HTTP request must never reach (cross-protocol attacks).
DEFAULT_PORTS = "80,443,1024-65535"


class CrawlOptions(msgspec.Struct, kw_only=True):
    """Every knob of a crawl, each with a safe default. Sizes in bytes, times in seconds."""

    urls: list[str]
    output: str | None = None
    plugin: str = "links"
    plugin_options: dict[str, Any] = msgspec.field(default_factory=dict)
    scope: str | None = None
    max_pages: int = 100_000
    max_depth: int = 50
    # Crawler traps (engine/_traps.py); 0 turns a limit off.
    max_url_length: int = 2048  # characters, normalised; sitemaps allow less than 2,048
    max_path_repeats: int = 3  # times one path segment may occur (/a/b/a/b/a/b/...)
    max_pages_per_host: int = 0  # URLs admitted per host; 0: only --max-pages applies
    max_pages_per_pattern: int = 10_000  # per host + path with digits as 0 (+ "?" if a query)
    workers: int = 0  # 0: chosen from the CPUs this process may use
    parse_processes: int = 0  # per worker; 0: (CPUs - workers) / workers, at least 1
    concurrency: int = 16  # requests in flight per worker
    per_host_concurrency: int = 8  # requests in flight per host, all workers together
    rate: float = 0.0  # requests per second per host; 0: limited by concurrency only
    state: str | None = None
    resume: bool = False
    refresh: bool = False  # re-fetch every page of --state conditionally (implies resume)
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_bytes: int = 10_000_000
    min_rate: float = 100.0  # bytes/s a body must keep up (over 5 s windows); 0: no minimum
    max_redirects: int = 10
    retries: int = 3
    allow_private: list[str] = msgspec.field(default_factory=list)
    ports: str = DEFAULT_PORTS
    ignore_robots: bool = False
    robots_cache: float = 86_400.0  # seconds robots.txt rules are used before a re-fetch
    robots_retry: float = 10.0  # seconds before an unavailable robots.txt is tried again (x2 each)
    stats_json: str | None = None
    shutdown_grace: float = 3.0


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    """Half the usable CPUs (at least one, at most eight): each worker also runs parse processes."""
    return max(1, min(8, _usable_cpus() // 2))


def default_parse_processes(workers: int) -> int:
    """The CPUs the workers' own loops leave, shared among them (at least one each).

    A worker's loop takes about as much CPU per page as its parsing does (bench, scenario A):
    on 2 cores one parse process per worker crawled as fast as two, with less CPU and memory.
    """
    workers = max(1, workers)
    return max(1, (_usable_cpus() - workers) // workers)
