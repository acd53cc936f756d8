"""``shoal daemon``'s configuration: a TOML file, validated with msgspec, overridden by
``SHOAL_*`` environment variables.

A mistake names its key path (``jobs[1].every: ...``) and is a :class:`ConfigError` (exit 2).
Every daemon setting can be set from the environment as ``SHOAL_`` + its name in capitals
(``SHOAL_API=0.0.0.0:8787``, ``SHOAL_STATE_DIR``, ``SHOAL_TOKEN`` ...), which wins over the
file: what a systemd unit or a container sets without editing the file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from ._schedule import Schedule, parse_duration, parse_schedule
from .errors import UsageError

__all__ = [
    "Config",
    "ConfigError",
    "DaemonSettings",
    "Job",
    "jitter_seconds",
    "job_schedule",
    "load_config",
    "parse_bind",
]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# The commands a job may run; any other plugin runs as `shoal crawl --plugin NAME`.
COMMANDS = frozenset({"crawl", "docs", "rss"})
# Those whose state carries from one run to the next: a second `shoal docs` against its
# state is a conditional refresh. The others start from an empty state unless they resume.
KEEPS_STATE = frozenset({"docs"})


class ConfigError(UsageError):
    """The configuration cannot be used; the message names the file and the key path."""


class Job(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: Letters, digits, "-" and "_": it is part of URLs (/jobs/NAME) and file names.
    name: str
    #: rss, docs, crawl, or an installed plugin's name (run by `shoal crawl --plugin`).
    plugin: str
    #: The command's arguments, as on its command line: ["feeds.txt", "--db", "news.sqlite"].
    args: list[str] = msgspec.field(default_factory=list)
    #: Options by name, added to ``args``: {limit = 50, ignore_robots = true}.
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    every: str | None = None
    cron: str | None = None
    timezone: str | None = None
    #: A run due while the last one still runs: skipped, or queued to start after it.
    overlap: Literal["skip", "queue"] = "skip"
    #: Up to this long after the scheduled time (deterministic per job and time).
    jitter: str = "0s"
    #: Runs the daemon missed while it was down: none, one now, or each of them.
    missed: Literal["skip", "run_once", "run_all"] = "run_once"
    enabled: bool = True


class DaemonSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: HOST:PORT of the HTTP API. Anything but loopback needs a token.
    api: str = "127.0.0.1:8787"
    #: Where jobs' crawl states, the last-run records and the daemon's own files live.
    state_dir: str = ""
    #: The API's bearer token (prefer SHOAL_TOKEN or token_file to writing it here).
    token: str | None = None
    token_file: str | None = None
    #: auto: human-readable on a terminal, one JSON object per line otherwise (journald).
    log_format: Literal["auto", "text", "json"] = "auto"
    #: Job runs at once; more wait their turn.
    max_runs: int = 2


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    daemon: DaemonSettings = msgspec.field(default_factory=DaemonSettings)
    jobs: list[Job] = msgspec.field(default_factory=list)


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, override from the environment, and check a configuration file."""
    path = Path(path)
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        config = msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {_with_key_path(str(exc))}") from exc
    config.daemon = _override(config.daemon, environ)
    if not config.daemon.state_dir:
        config.daemon.state_dir = _default_state_dir(environ)
    if config.daemon.token is None and config.daemon.token_file:
        config.daemon.token = _read_token(path, config.daemon.token_file)
    _check(path, config)
    return config


def job_schedule(job: Job) -> Schedule:
    return parse_schedule(job.every, job.cron, job.timezone)


def jitter_seconds(job: Job) -> float:
    """The job's jitter; "0" and "0s" are no jitter (a duration is otherwise more than 0)."""
    return 0.0 if job.jitter in ("0", "0s") else parse_duration(job.jitter)


def parse_bind(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) -> (host, port); ValueError with a reason."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    host = host.removeprefix("[").removesuffix("]")
    if not host:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _with_key_path(message: str) -> str:
    """msgspec says "Expected `int`, got `str` - at `$.jobs[0].every`": the path first."""
    text, sep, where = message.rpartition(" - at `")
    if not sep:
        return message
    key = where.rstrip("`").removeprefix("$").removeprefix(".")
    return f"{key}: {text[0].lower()}{text[1:]}"


def _override(settings: DaemonSettings, environ: Mapping[str, str]) -> DaemonSettings:
    values = msgspec.structs.asdict(settings)
    for field in msgspec.structs.fields(DaemonSettings):
        variable = "SHOAL_" + field.name.upper()
        if variable not in environ:
            continue
        try:
            converted = msgspec.convert(
                {field.name: environ[variable]}, DaemonSettings, strict=False
            )
            values[field.name] = getattr(converted, field.name)
        except msgspec.ValidationError as exc:
            reason = _with_key_path(str(exc)).partition(": ")[2]
            raise ConfigError(f"{variable}: {reason}") from exc
    return DaemonSettings(**values)


def _default_state_dir(environ: Mapping[str, str]) -> str:
    # systemd's StateDirectory= sets STATE_DIRECTORY; otherwise the XDG place.
    if environ.get("STATE_DIRECTORY"):
        return environ["STATE_DIRECTORY"].split(":")[0]
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(base) / "shoal")


def _read_token(path: Path, token_file: str) -> str:
    file = (path.parent / token_file) if not os.path.isabs(token_file) else Path(token_file)
    try:
        token = file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: daemon.token_file: cannot read {file}: {exc.strerror}") from exc
    if not token:
        raise ConfigError(f"{path}: daemon.token_file: {file} is empty")
    return token


#: Settings a reload cannot change in a running daemon: they take effect at its next start.
RESTART_SETTINGS = ("api", "state_dir", "log_format", "max_runs")


def keep_running_settings(
    path: Path, new: DaemonSettings, running: DaemonSettings
) -> tuple[DaemonSettings, list[str]]:
    """A reloaded ``[daemon]`` section as the running daemon can apply it: the
    RESTART_SETTINGS of ``running`` with the rest (the token) of ``new``, checked again (a
    token removed while the API listens off loopback is refused); and the names of the
    settings whose change waits for a restart."""
    waiting = [f for f in RESTART_SETTINGS if getattr(new, f) != getattr(running, f)]
    kept = msgspec.structs.replace(new, **{f: getattr(running, f) for f in RESTART_SETTINGS})
    _check_address(path, kept)
    return kept, waiting


def _check_address(path: Path, d: DaemonSettings) -> None:
    try:
        host, _ = parse_bind(d.api)
    except ValueError as exc:
        raise ConfigError(f"{path}: daemon.api: {exc}") from None
    if not is_loopback(host) and not d.token:
        raise ConfigError(
            f"{path}: daemon.api: binding to {host} needs a token (daemon.token_file or "
            "SHOAL_TOKEN): the API can start crawls"
        )


def _check(path: Path, config: Config) -> None:
    """What the types cannot say: names, schedules, durations, the address and its token."""
    d = config.daemon
    _check_address(path, d)
    if d.max_runs < 1:
        raise ConfigError(f"{path}: daemon.max_runs: must be at least 1")
    seen: set[str] = set()
    for i, job in enumerate(config.jobs):
        where = f"{path}: jobs[{i}]"
        if not _NAME.fullmatch(job.name):
            raise ConfigError(
                f"{where}.name: {job.name!r} must be lower-case letters, digits, - and _"
            )
        if job.name in seen:
            raise ConfigError(f"{where}.name: a second job named {job.name!r}")
        seen.add(job.name)
        try:
            job_schedule(job)
        except ValueError as exc:
            key = "cron" if job.cron else "every"
            raise ConfigError(f"{where}.{key}: {exc}") from None
        try:
            jitter_seconds(job)
        except ValueError as exc:
            raise ConfigError(f"{where}.jitter: {exc}") from None
