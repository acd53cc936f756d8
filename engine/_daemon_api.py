"""The daemon's HTTP API (aiohttp server, JSON), on the daemon's own loop.

``GET /`` (the dashboard page), ``GET /healthz`` (alive), ``GET /readyz`` (ready to run
jobs), ``GET /metrics`` (Prometheus text), ``GET /jobs``, ``GET /jobs/{name}``,
``POST /jobs/{name}/run``, ``GET /crawls``, ``POST /crawls``, ``GET /crawls/{id}``,
``DELETE /crawls/{id}``. Every answer but the page and the metrics is JSON, errors too
(``{"error": "..."}``). With a token configured, mutating requests need
``Authorization: Bearer TOKEN``; bound to anything but loopback, every request does but the
page and /healthz (the configuration refuses such an address without a token).
"""

from __future__ import annotations

import functools
import hmac
import os
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

import msgspec
import orjson
from aiohttp import web

from ._daemon import Daemon
from ._daemon_config import COMMANDS, is_loopback, parse_bind
from ._metrics import CONTENT_TYPE, Metrics, collect_process
from ._runs import Run, command_for
from .errors import UsageError

__all__ = ["build_app", "serve"]

_DAEMON = web.AppKey("daemon", Daemon)
_METRICS = web.AppKey("metrics", Metrics)
_TOTALS = {
    "pages": "Pages of finished runs (job empty for ad-hoc crawls)",
    "bytes": "Bytes fetched by finished runs",
    "errors": "Pages that failed for good in finished runs",
    "retries": "Retries in finished runs",
    "worker_restarts": "Crawl workers restarted after a crash, in finished runs",
    "cache_hits": "Cache hits (feeds, pages, analyses) of finished rss runs",
    "llm_calls": "LLM calls made by finished rss runs",
    "llm_tokens": "LLM tokens used by finished rss runs",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _AdHoc(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /crawls``: a plugin (rss, docs, crawl or an installed plugin) and its arguments."""

    plugin: str
    args: list[str] = msgspec.field(default_factory=list)
    options: dict[str, Any] = msgspec.field(default_factory=dict)


def _json(data: Any, status: int = 200) -> web.Response:
    body = orjson.dumps(data, default=msgspec.to_builtins)
    return web.Response(body=body, status=status, content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


def build_app(daemon: Daemon, *, public: bool) -> web.Application:
    app = web.Application(middlewares=[_errors_as_json, _auth(daemon, public=public)])
    app[_DAEMON] = daemon
    app[_METRICS] = Metrics()
    app.router.add_get("/", _dashboard)
    app.router.add_get("/crawls", _crawls)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/jobs", _jobs)
    app.router.add_get("/jobs/{name}", _job)
    app.router.add_post("/jobs/{name}/run", _run_job)
    app.router.add_post("/crawls", _new_crawl)
    app.router.add_get("/crawls/{id}", _crawl)
    app.router.add_delete("/crawls/{id}", _cancel_crawl)
    return app


async def serve(daemon: Daemon) -> Callable[[], Awaitable[None]]:
    """Bind the API where the configuration says; a cleanup coroutine function back."""
    where = daemon.config.daemon.api
    host, port = parse_bind(where)
    runner = web.AppRunner(
        build_app(daemon, public=not is_loopback(host)), access_log=None, handle_signals=False
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        # uvloop's text repeats the address; a name that does not resolve has a negative errno
        # (getaddrinfo's), and its own text.
        errno = exc.errno or 0
        reason = os.strerror(errno) if errno > 0 else (exc.strerror or str(exc))
        raise UsageError(f"the API cannot listen on {where}: {reason.lower()}") from exc
    return runner.cleanup


@web.middleware
async def _errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json":
            raise
        return _error(exc.status, exc.reason)


def _auth(daemon: Daemon, *, public: bool) -> Any:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        token = daemon.config.daemon.token
        needed = token is not None and (public or request.method not in ("GET", "HEAD"))
        # The page itself holds no data: its requests carry the token.
        if needed and request.path not in ("/healthz", "/"):
            given = request.headers.get("Authorization", "")
            expected = f"Bearer {token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return _error(401, "a bearer token is needed (Authorization: Bearer TOKEN)")
        return await handler(request)

    return check


@functools.cache
def _dashboard_html() -> bytes:
    return (resources.files("shoal.engine") / "dashboard.html").read_bytes()


async def _dashboard(request: web.Request) -> web.Response:
    """One light page, no external assets: jobs, runs, live progress, refreshing itself."""
    return web.Response(body=_dashboard_html(), content_type="text/html", charset="utf-8")


async def _crawls(request: web.Request) -> web.Response:
    """The runs this daemon knows, newest first (at most 100)."""
    daemon = request.app[_DAEMON]
    runs = sorted(daemon.runs.values(), key=lambda r: r.created_at, reverse=True)[:100]
    return _json({"crawls": [_run_view(r) for r in runs]})


async def _healthz(request: web.Request) -> web.Response:
    return _json({"status": "alive"})


async def _readyz(request: web.Request) -> web.Response:
    daemon = request.app[_DAEMON]
    if not daemon.ready:
        return _error(503, "not ready")
    return _json({"status": "ready", "jobs": len(daemon.jobs)})


def _job_summary(daemon: Daemon, name: str) -> dict[str, Any]:
    job = daemon.jobs[name]
    record = daemon.record(name)
    active = daemon.running(name)
    return {
        "name": name,
        "plugin": job.plugin,
        "schedule": {"every": job.every} if job.every else {"cron": job.cron, "tz": job.timezone},
        "overlap": job.overlap,
        "next_run": daemon.next_due(job),
        "last_success": record.last_success,
        "last_duration_s": record.last_duration_s,
        "last_state": record.last_state,
        "runs": record.runs,
        "running": active.id if active is not None else None,
    }


async def _jobs(request: web.Request) -> web.Response:
    daemon = request.app[_DAEMON]
    return _json({"jobs": [_job_summary(daemon, name) for name in sorted(daemon.jobs)]})


def _find_job(request: web.Request) -> tuple[Daemon, str]:
    daemon = request.app[_DAEMON]
    name = request.match_info["name"]
    if name not in daemon.jobs:
        raise web.HTTPNotFound(
            text=orjson.dumps({"error": f"no job named {name!r}"}).decode(),
            content_type="application/json",
        )
    return daemon, name


async def _job(request: web.Request) -> web.Response:
    daemon, name = _find_job(request)
    recent = list(daemon.recent.get(name, ()))
    return _json({**_job_summary(daemon, name), "recent_runs": [_run_view(r) for r in recent]})


async def _run_job(request: web.Request) -> web.Response:
    daemon, name = _find_job(request)
    run = daemon.trigger(daemon.jobs[name], "api")
    if run is None:
        active = daemon.running(name)
        return _error(409, f"job {name!r} is running ({active.id if active else '?'}); "
                           "its overlap policy is skip")  # fmt: skip
    return _json(_run_view(run), 202)


async def _new_crawl(request: web.Request) -> web.Response:
    daemon = request.app[_DAEMON]
    try:
        body = msgspec.json.decode(await request.read(), type=_AdHoc)
    except msgspec.DecodeError as exc:
        return _error(400, f"bad request body: {exc}")
    if not body.args:
        return _error(400, "args: give the command's arguments (a start URL, a feed list ...)")
    if body.plugin not in COMMANDS and not body.plugin.replace("_", "").isalnum():
        return _error(400, f"plugin: {body.plugin!r} is not a plugin name")
    run = daemon.start(
        None, body.plugin, command_for(body.plugin, body.args, body.options), "adhoc"
    )
    return _json(_run_view(run), 202)


def _find_run(request: web.Request) -> tuple[Daemon, Run]:
    daemon = request.app[_DAEMON]
    run = daemon.runs.get(request.match_info["id"])
    if run is None:
        raise web.HTTPNotFound(
            text=orjson.dumps({"error": "no such crawl"}).decode(),
            content_type="application/json",
        )
    return daemon, run


async def _crawl(request: web.Request) -> web.Response:
    _, run = _find_run(request)
    return _json(_run_view(run))


async def _cancel_crawl(request: web.Request) -> web.Response:
    daemon, run = _find_run(request)
    if not daemon.cancel(run.id):
        return _error(409, f"crawl {run.id} is {run.state}: nothing to cancel")
    return _json({"id": run.id, "state": "cancelling", "state_kept": True}, 202)


def _run_view(run: Run) -> dict[str, Any]:
    view = msgspec.to_builtins(run)
    view["duration_s"] = run.duration_s
    return dict(view)


async def _metrics(request: web.Request) -> web.Response:
    daemon = request.app[_DAEMON]
    metrics = request.app[_METRICS]
    _update_metrics(daemon, metrics)
    collect_process(metrics)
    return web.Response(text=metrics.render(), headers={"Content-Type": CONTENT_TYPE}, charset=None)


def _update_metrics(daemon: Daemon, m: Metrics) -> None:
    """The figures, read fresh at each scrape from the runs and the job records."""
    pages = m.gauge("shoal_run_pages", "Pages committed by the run so far", ("job", "crawl"))
    rate = m.gauge("shoal_run_pages_per_second", "The run's pages per second", ("job", "crawl"))
    errors = m.gauge("shoal_run_errors", "Pages failed for good in the run", ("job", "crawl"))
    queued = m.gauge("shoal_run_queue_size", "URLs queued in the run", ("job", "crawl"))
    inflight = m.gauge("shoal_run_in_flight", "Requests in flight in the run", ("job", "crawl"))
    running = m.gauge("shoal_runs_running", "Runs running now")
    success = m.gauge(
        "shoal_job_last_success_timestamp_seconds", "When the job last succeeded", ("job",)
    )
    duration = m.gauge(
        "shoal_job_last_duration_seconds", "How long the job's last success took", ("job",)
    )
    job_runs = m.gauge("shoal_job_runs", "Runs of the job since its records began", ("job",))
    lag = m.gauge("shoal_daemon_loop_healthy", "1 while the daemon's event loop keeps up")
    reloads = m.gauge("shoal_daemon_reloads", "Configuration reloads since start")
    uptime = m.gauge("shoal_daemon_uptime_seconds", "Seconds since the daemon started")
    active = 0
    for run in daemon.runs.values():
        if run.state != "running":
            for gauge in (pages, rate, errors, queued, inflight):
                gauge.remove(job=run.job or "", crawl=run.id)
            continue
        active += 1
        labels = {"job": run.job or "", "crawl": run.id}
        pages.set(run.progress.pages, **labels)
        rate.set(run.progress.pages_per_s, **labels)
        errors.set(run.progress.errors, **labels)
        queued.set(run.progress.queued, **labels)
        inflight.set(run.progress.in_flight, **labels)
    running.set(active)
    for name in daemon.jobs:
        record = daemon.record(name)
        if record.last_success is not None:
            success.set(record.last_success, job=name)
        if record.last_duration_s is not None:
            duration.set(record.last_duration_s, job=name)
        job_runs.set(record.runs, job=name)
    for key, help_text in _TOTALS.items():
        counter = m.counter(f"shoal_{key}_total", help_text, ("job",))
        for job, totals in daemon.totals.items():
            counter.set_total(totals.get(key, 0.0), job=job)
    lag.set(1 if daemon.health.healthy() else 0)
    m.gauge("shoal_daemon_loop_lag_seconds", "The daemon loop's last measured lag").set(
        daemon.health.lag
    )
    m.gauge("shoal_daemon_loop_lag_max_seconds", "The daemon loop's largest lag so far").set(
        daemon.health.max_lag
    )
    reloads.set(daemon.reloads)
    uptime.set(time.time() - daemon.started_at)
