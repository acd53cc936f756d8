"""`shoal daemon`'s configuration file: what loads, and how each mistake is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal.engine._daemon_config import ConfigError, keep_running_settings, load_config

GOOD = """
[daemon]
api = "127.0.0.1:8799"
max_runs = 3

[[jobs]]
name = "news"
plugin = "rss"
args = ["feeds.txt", "--db", "news.sqlite"]
options = { limit = 50 }
every = "15m"
jitter = "30s"

[[jobs]]
name = "docs-nightly"
plugin = "docs"
args = ["https://docs.example.org/", "-o", "docs.md"]
cron = "0 3 * * *"
timezone = "Europe/Berlin"
overlap = "queue"
missed = "skip"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shoal.toml"
    path.write_text(text)
    return path


def test_a_good_file_loads_with_its_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD), environ={"XDG_STATE_HOME": str(tmp_path)})
    assert config.daemon.api == "127.0.0.1:8799" and config.daemon.max_runs == 3
    assert config.daemon.state_dir == str(tmp_path / "shoal")
    news, docs = config.jobs
    assert (news.name, news.every, news.options, news.overlap, news.missed) == (
        "news", "15m", {"limit": 50}, "skip", "run_once",
    )  # fmt: skip
    assert (docs.cron, docs.timezone, docs.overlap) == ("0 3 * * *", "Europe/Berlin", "queue")


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    env = {"SHOAL_API": "0.0.0.0:9000", "SHOAL_TOKEN": "s3cret", "SHOAL_MAX_RUNS": "5",
           "STATE_DIRECTORY": "/var/lib/shoal"}  # fmt: skip
    config = load_config(_write(tmp_path, GOOD), environ=env)
    assert config.daemon.api == "0.0.0.0:9000" and config.daemon.token == "s3cret"
    assert config.daemon.max_runs == 5 and config.daemon.state_dir == "/var/lib/shoal"


@pytest.mark.parametrize(
    ("edit", "env", "message"),
    [
        (('every = "15m"', 'every = "15 minutes"'), {}, "jobs[0].every: "),
        (('cron = "0 3 * * *"', 'cron = "0 25 * * *"'), {}, "jobs[1].cron: "),
        (('max_runs = 3', 'max_runs = "three"'), {}, "daemon.max_runs: expected `int`"),
        (('overlap = "queue"', 'overlap = "later"'), {}, "jobs[1].overlap: "),
        (('jitter = "30s"', 'jitter = "soon"'), {}, "jobs[0].jitter: "),
        (('name = "news"', 'name = "News Feed"'), {}, "jobs[0].name: "),
        (('name = "docs-nightly"', 'name = "news"'), {}, "jobs[1].name: a second job"),
        (('plugin = "rss"', 'plugin = "rss"\ncolour = "red"'), {}, "jobs[0]: object contains"),
        (('api = "127.0.0.1:8799"', 'api = "0.0.0.0:8799"'), {}, "needs a token"),
        (('api = "127.0.0.1:8799"', 'api = "nowhere"'), {}, "daemon.api: expected HOST:PORT"),
        (("", ""), {"SHOAL_MAX_RUNS": "many"}, "SHOAL_MAX_RUNS: expected `int`"),
        (('[daemon]', '[daemon\n'), {}, "not valid TOML"),
    ],
)  # fmt: skip
def test_each_mistake_names_its_key_path(
    tmp_path: Path, edit: tuple[str, str], env: dict[str, str], message: str
) -> None:
    text = GOOD.replace(*edit, 1) if edit[0] else GOOD
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=env)
    assert message in str(caught.value), str(caught.value)
    assert str(caught.value).startswith(str(path) if not message.startswith("SHOAL_") else "SHOAL_")
    assert "\n" not in str(caught.value)


def test_a_long_lived_daemon_forgets_its_oldest_finished_runs(tmp_path: Path) -> None:
    from shoal.engine._daemon import _KEPT_RUNS, Daemon
    from shoal.engine._daemon_config import Config, DaemonSettings
    from shoal.engine._runs import Run
    from shoal.engine._sdnotify import Notifier

    config = Config(daemon=DaemonSettings(state_dir=str(tmp_path)))
    daemon = Daemon(config, tmp_path / "shoal.toml", notifier=Notifier(None))
    running = Run(id="still-running", job=None, plugin="crawl", args=[], state="running")
    daemon.runs[running.id] = running
    for i in range(_KEPT_RUNS + 100):
        run = Run(id=f"r{i}", job=None, plugin="crawl", args=[], state="succeeded")
        run.ended_at = float(i)
        daemon.runs[run.id] = run
        daemon._forget_old_runs()
    assert len(daemon.runs) == _KEPT_RUNS
    assert "still-running" in daemon.runs and "r0" not in daemon.runs
    assert f"r{_KEPT_RUNS + 99}" in daemon.runs


def test_a_reload_keeps_the_running_address_and_its_token_rule(tmp_path: Path) -> None:
    running = load_config(
        _write(tmp_path, '[daemon]\napi = "0.0.0.0:8787"\ntoken = "old"\nmax_runs = 2\n')
    ).daemon
    # The token changes at once; the address, state directory and run slots at a restart.
    path = _write(tmp_path, '[daemon]\napi = "127.0.0.1:9999"\ntoken = "new"\nmax_runs = 5\n')
    kept, waiting = keep_running_settings(path, load_config(path).daemon, running)
    assert (kept.api, kept.token, kept.max_runs) == ("0.0.0.0:8787", "new", 2)
    assert waiting == ["api", "max_runs"]
    # Moving the address to loopback and dropping the token in one edit: the running API
    # still listens off loopback, so the edit is refused, not applied without a token.
    path = _write(tmp_path, '[daemon]\napi = "127.0.0.1:8787"\n')
    with pytest.raises(ConfigError, match=r"binding to 0\.0\.0\.0 needs a token"):
        keep_running_settings(path, load_config(path).daemon, running)
