"""The /metrics exposition: our text must read back, through prometheus_client's parser, as written.

prometheus_client is a test-only dependency; the registry under test writes the format itself.
"""

from __future__ import annotations

import itertools
import math
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from shoal.engine._metrics import CONTENT_TYPE, Metrics, collect_process


def _parse(text: str) -> dict[str, Metric]:
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # Every line we write belongs to a family the parser recognised: nothing fell through to an
    # "untyped" singleton because of a bad HELP/TYPE/name.
    assert all(f.type != "untyped" for f in families.values()), families
    return families


def _samples(family: Metric) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value for s in family.samples}


def test_content_type() -> None:
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


def test_empty_registry_renders_nothing() -> None:
    assert Metrics().render() == ""


def test_golden_small_registry() -> None:
    m = Metrics()
    pages = m.counter("shoal_pages_total", "Pages fetched.", ("job",))
    queue = m.gauge("shoal_queue_size", "URLs waiting.\nPer job, \\ included.", ("job",))
    lag = m.histogram("shoal_loop_lag_seconds", "Event-loop lag.", [0.005, 0.05, 1])
    restarts = m.counter("shoal_worker_restarts_total", "Workers restarted.")
    pages.inc(job="docs")
    pages.inc(41, job="docs")
    pages.inc(job='we"ird\\job\n')
    queue.set(12, job="docs")
    queue.set(0.25, job="blog")
    for lag_s in (0.001, 0.005, 0.02, 2.0):
        lag.observe(lag_s)
    restarts.set_total(3)
    assert m.render() == (
        "# HELP shoal_loop_lag_seconds Event-loop lag.\n"
        "# TYPE shoal_loop_lag_seconds histogram\n"
        'shoal_loop_lag_seconds_bucket{le="0.005"} 2\n'
        'shoal_loop_lag_seconds_bucket{le="0.05"} 3\n'
        'shoal_loop_lag_seconds_bucket{le="1.0"} 3\n'
        'shoal_loop_lag_seconds_bucket{le="+Inf"} 4\n'
        "shoal_loop_lag_seconds_sum 2.026\n"
        "shoal_loop_lag_seconds_count 4\n"
        "# HELP shoal_pages_total Pages fetched.\n"
        "# TYPE shoal_pages_total counter\n"
        'shoal_pages_total{job="docs"} 42\n'
        'shoal_pages_total{job="we\\"ird\\\\job\\n"} 1\n'
        "# HELP shoal_queue_size URLs waiting.\\nPer job, \\\\ included.\n"
        "# TYPE shoal_queue_size gauge\n"
        'shoal_queue_size{job="blog"} 0.25\n'
        'shoal_queue_size{job="docs"} 12\n'
        "# HELP shoal_worker_restarts_total Workers restarted.\n"
        "# TYPE shoal_worker_restarts_total counter\n"
        "shoal_worker_restarts_total 3\n"
    )


def test_families_sorted_and_declared_before_first_sample() -> None:
    m = Metrics()
    for name in ("zz", "aa", "mm:sub", "b_total"):
        if name.endswith("_total"):
            m.counter(name, "h", ("x",))
        else:
            m.gauge(name, "h", ("x",))
    text = m.render()
    help_names = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP")]
    assert help_names == ["aa", "b_total", "mm:sub", "zz"]
    # A labelled family with no sample yet still has HELP and TYPE and parses.
    families = _parse(text)
    assert families["aa"].type == "gauge" and families["aa"].samples == []
    assert families["b"].type == "counter"


def test_unlabelled_families_start_at_zero() -> None:
    m = Metrics()
    m.counter("c_total", "c")
    m.gauge("g", "g")
    m.histogram("h", "h", [1])
    families = _parse(m.render())
    assert _samples(families["c"]) == {("c_total", frozenset()): 0.0}
    assert _samples(families["g"]) == {("g", frozenset()): 0.0}
    assert _samples(families["h"]) == {
        ("h_bucket", frozenset({("le", "1.0")})): 0.0,
        ("h_bucket", frozenset({("le", "+Inf")})): 0.0,
        ("h_sum", frozenset()): 0.0,
        ("h_count", frozenset()): 0.0,
    }


def test_many_label_combinations_round_trip() -> None:
    m = Metrics()
    errors = m.counter("shoal_errors_total", "Errors.", ("job", "kind", "status"))
    jobs, kinds, statuses = ["a", "b", "c"], ["dns", "tls", "http", "timeout"], ["0", "429", "503"]
    expected: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for n, (job, kind, status) in enumerate(itertools.product(jobs, kinds, statuses)):
        errors.inc(n, job=job, kind=kind, status=status)
        errors.inc(0.5, status=status, kind=kind, job=job)  # keyword order is irrelevant
        labels = frozenset({("job", job), ("kind", kind), ("status", status)})
        expected[("shoal_errors_total", labels)] = n + 0.5
    text = m.render()
    family = _parse(text)["shoal_errors"]
    assert family.type == "counter" and family.documentation == "Errors."
    assert _samples(family) == expected
    # Declared label order on every line; lines sorted by label values.
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines[0] == 'shoal_errors_total{job="a",kind="dns",status="0"} 0.5'
    assert lines == sorted(lines, key=lambda line: line.split(" ")[0].replace('"', ""))
    assert len(lines) == 36


TRICKY = [
    "",
    " ",
    'say "hi"',
    "back\\slash",
    "ends with backslash\\",
    "\\",
    '\\"',
    "\\n is not a newline",
    "two\nlines\n",
    "\n",
    "tab\there",
    "curly } and { and , and = and #",
    'job="x",other="y"',
    "unicode: é 中文 🐟 ‽",
    "\u2028 line separator and \x85 NEL",
]


@pytest.mark.parametrize("value", TRICKY)
def test_tricky_label_values_round_trip(value: str) -> None:
    m = Metrics()
    m.gauge("shoal_g", "g", ("job", "other")).set(7, job=value, other="plain")
    text = m.render()
    assert text.count("\n") == 3, "a newline in a label value must be escaped"
    text.encode("utf-8")  # what the daemon will send
    sample = _parse(text)["shoal_g"].samples[0]
    assert sample.labels == {"job": value, "other": "plain"}
    assert sample.value == 7


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.text(st.characters(exclude_categories=("Cs",))), min_size=1))
def test_arbitrary_label_values_round_trip(values: list[str]) -> None:
    m = Metrics()
    gauge = m.gauge("g", "g", ("v",))
    for i, value in enumerate(values):
        gauge.set(i, v=value)
    got = {s.labels["v"]: s.value for s in _parse(m.render())["g"].samples}
    want = {value: float(i) for i, value in enumerate(values)}  # later sets win, as in a dict
    assert got == want


@pytest.mark.parametrize(
    "text",
    ["plain", "multi\nline\nhelp", "back\\slash \\n literal", 'quotes " stay', "ünï 🐟", ""],
)
def test_help_round_trips(text: str) -> None:
    m = Metrics()
    m.gauge("g", text)
    assert m.render().count("\n") == 3
    assert _parse(m.render())["g"].documentation == text


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
        (0, "0"),
        (-0.0, "0"),
        (3, "3"),
        (-2, "-2"),
        (2.5, "2.5"),
        (1e-9, "1e-09"),
        (1 / 3, "0.3333333333333333"),
        (2.0**53, "9007199254740992.0"),
        (1e22, "1e+22"),
        (1_700_000_000.123, "1700000000.123"),
    ],
)
def test_values_written_as_prometheus_does(value: float, written: str) -> None:
    m = Metrics()
    m.gauge("g", "g").set(value)
    assert m.render().splitlines()[-1] == f"g {written}"
    parsed = _parse(m.render())["g"].samples[0].value
    assert parsed == value or (math.isnan(parsed) and math.isnan(value))


def test_histogram_buckets_cumulative_with_inf() -> None:
    m = Metrics()
    h = m.histogram("shoal_fetch_seconds", "Fetch time.", [0.1, 0.5, 1, 10], ("job",))
    for v in (0.05, 0.1, 0.3, 0.5, 0.7, 1.0, 5, 50, 1e9):
        h.observe(v, job="a")
    h.observe(-1, job="b")  # below every bound: counted in all of them
    h.observe(math.inf, job="b")  # only +Inf holds it
    families = _parse(m.render())
    assert set(families) == {"shoal_fetch_seconds"}
    family = families["shoal_fetch_seconds"]
    assert family.type == "histogram"
    samples = _samples(family)

    def bucket(job: str, le: str) -> float:
        return samples[("shoal_fetch_seconds_bucket", frozenset({("job", job), ("le", le)}))]

    # le is "less than or equal": 0.1, 0.5 and 1.0 land in their own buckets.
    assert [bucket("a", le) for le in ("0.1", "0.5", "1.0", "10.0", "+Inf")] == [2, 4, 6, 7, 9]
    assert [bucket("b", le) for le in ("0.1", "0.5", "1.0", "10.0", "+Inf")] == [1, 1, 1, 1, 2]
    assert samples[("shoal_fetch_seconds_count", frozenset({("job", "a")}))] == 9
    assert samples[("shoal_fetch_seconds_sum", frozenset({("job", "a")}))] == pytest.approx(
        0.05 + 0.1 + 0.3 + 0.5 + 0.7 + 1.0 + 5 + 50 + 1e9
    )
    assert samples[("shoal_fetch_seconds_sum", frozenset({("job", "b")}))] == math.inf
    assert len(samples) == 2 * (5 + 2)


def test_histogram_given_inf_bound_not_repeated() -> None:
    m = Metrics()
    h = m.histogram("h", "h", [1, math.inf])
    assert h.buckets == (1.0, math.inf)
    assert m.render().count('le="+Inf"') == 1
    assert m.histogram("h2", "h", []).buckets == (math.inf,)


@pytest.mark.parametrize("buckets", [[1, 1], [2, 1], [1, math.nan], [math.inf, 1]])
def test_histogram_bad_buckets(buckets: list[float]) -> None:
    with pytest.raises(ValueError):
        Metrics().histogram("h", "h", buckets)


def test_histogram_rejects_nan_observation() -> None:
    h = Metrics().histogram("h", "h", [1])
    with pytest.raises(ValueError, match="NaN"):
        h.observe(math.nan)


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a b", "é", "a.b", "a{b}"])
def test_invalid_metric_names(name: str) -> None:
    m = Metrics()
    with pytest.raises(ValueError, match="invalid metric name"):
        m.gauge(name, "h")
    with pytest.raises(ValueError, match="invalid metric name"):
        m.histogram(name, "h", [1])


@pytest.mark.parametrize("name", ["a", "_a", ":a", "a:b_c:d", "A9_"])
def test_valid_metric_names(name: str) -> None:
    Metrics().gauge(name, "h")


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (("",), "invalid label name"),
        (("1a",), "invalid label name"),
        (("a:b",), "invalid label name"),
        (("a-b",), "invalid label name"),
        (("__name__",), "reserved"),
        (("__x",), "reserved"),
        (("a", "a"), "repeated"),
        (("amount",), "parameter"),
        (("value",), "parameter"),
        (("self",), "parameter"),
    ],
)
def test_invalid_label_names(labels: tuple[str, ...], match: str) -> None:
    m = Metrics()
    with pytest.raises(ValueError, match=match):
        m.gauge("g", "h", labels)
    with pytest.raises(ValueError, match=match):
        m.counter("c_total", "h", labels)


def test_labels_given_as_a_string_raise() -> None:
    with pytest.raises(TypeError, match="tuple"):
        Metrics().gauge("g", "h", ("job"))  # type: ignore[arg-type]  # missing comma


def test_valid_label_names() -> None:
    m = Metrics()
    m.gauge("g", "h", ("_a", "a_", "le", "class", "A9"))
    m.counter("c_total", "h", ("le",))  # only histograms own "le"
    with pytest.raises(ValueError, match="le"):
        m.histogram("h", "h", [1], ("job", "le"))


def test_counter_name_must_end_in_total() -> None:
    m = Metrics()
    with pytest.raises(ValueError, match="_total"):
        m.counter("shoal_pages", "h")
    with pytest.raises(ValueError, match="_total"):
        m.counter("shoal_total_pages", "h")
    assert m.render() == ""


def test_wrong_label_set_raises() -> None:
    m = Metrics()
    c = m.counter("c_total", "h", ("job", "kind"))
    g = m.gauge("g", "h")
    h = m.histogram("h", "h", [1], ("job",))
    with pytest.raises(ValueError, match=r"takes labels \(job, kind\), got \(job\)"):
        c.inc(job="a")
    with pytest.raises(ValueError, match="got"):
        c.inc(job="a", kind="b", extra="c")
    with pytest.raises(ValueError, match="got"):
        c.set_total(1, job="a", knd="b")
    with pytest.raises(ValueError, match=r"takes labels \(none\)"):
        g.set(1, job="a")
    with pytest.raises(ValueError):
        g.remove(job="a")
    with pytest.raises(ValueError):
        h.observe(1)
    with pytest.raises(ValueError):
        h.observe(1, job="a", le="2")
    with pytest.raises(TypeError, match="str"):
        c.inc(job="a", kind=503)  # type: ignore[arg-type]
    # Nothing half-applied.
    assert _samples(_parse(m.render())["c"]) == {}


def test_reregistering_returns_same_metric_or_raises() -> None:
    m = Metrics()
    c = m.counter("c_total", "help", ("job",))
    assert m.counter("c_total", "help", ("job",)) is c
    h = m.histogram("h", "help", [1, 2])
    assert m.histogram("h", "help", [1.0, 2.0, math.inf]) is h
    for again in (
        lambda: m.counter("c_total", "other help", ("job",)),
        lambda: m.counter("c_total", "help", ("kind",)),
        lambda: m.counter("c_total", "help", ()),
        lambda: m.gauge("c_total", "help", ("job",)),
        lambda: m.histogram("h", "help", [1, 3]),
        lambda: m.gauge("h", "help"),
    ):
        with pytest.raises(ValueError, match="already registered"):
            again()


@pytest.mark.parametrize("clash", ["x_bucket", "x_sum", "x_count"])
def test_sample_name_clashes(clash: str) -> None:
    m = Metrics()
    m.histogram("x", "h", [1])
    with pytest.raises(ValueError, match="would write"):
        m.gauge(clash, "h")
    other = Metrics()
    other.gauge(clash, "h")
    with pytest.raises(ValueError, match="would write"):
        other.histogram("x", "h", [1])


def test_counter_never_decreases() -> None:
    m = Metrics()
    c = m.counter("c_total", "h", ("job",))
    c.inc(job="a")
    c.inc(2.5, job="a")
    c.inc(0, job="a")
    assert c.value(job="a") == 3.5
    for bad in (-1, -0.001, math.nan):
        with pytest.raises(ValueError, match="cannot change"):
            c.inc(bad, job="a")
    c.set_total(10, job="a")
    c.set_total(10, job="a")  # equal is not a decrease
    with pytest.raises(ValueError, match="cannot go down"):
        c.set_total(9.99, job="a")
    with pytest.raises(ValueError, match="NaN"):
        c.set_total(math.nan, job="a")
    assert c.value(job="a") == 10  # left as it was
    c.set_total(4, job="b")  # per label combination
    assert c.value(job="b") == 4 and c.value(job="never") == 0
    assert _samples(_parse(m.render())["c"]) == {
        ("c_total", frozenset({("job", "a")})): 10.0,
        ("c_total", frozenset({("job", "b")})): 4.0,
    }


def test_gauge_set_inc_dec_remove() -> None:
    m = Metrics()
    g = m.gauge("shoal_last_success_seconds", "h", ("job",))
    g.set(5, job="a")
    g.inc(job="a")
    g.dec(10, job="a")
    g.inc(0.5, job="b")
    assert g.value(job="a") == -4 and g.value(job="b") == 0.5
    g.remove(job="a")
    g.remove(job="a")  # already gone: fine
    g.remove(job="never-set")
    assert _samples(_parse(m.render())["shoal_last_success_seconds"]) == {
        ("shoal_last_success_seconds", frozenset({("job", "b")})): 0.5
    }
    plain = m.gauge("plain", "h")
    plain.set(3)
    plain.remove()  # the unlabelled sample always exists; remove resets it
    assert plain.value() == 0


def test_collect_process() -> None:
    m = Metrics()
    collect_process(m)
    first = m.counter(
        "shoal_process_cpu_seconds_total", "Total user and system CPU time spent in seconds."
    ).value()
    sum(i * i for i in range(200_000))  # burn a little CPU
    collect_process(m)  # again: same families, updated
    families = _parse(m.render())
    values = {name: f.samples[0].value for name, f in families.items()}
    assert families["shoal_process_cpu_seconds"].type == "counter"
    assert values["shoal_process_cpu_seconds"] >= first > 0
    assert values["shoal_process_resident_memory_bytes"] > 1_000_000
    assert values["shoal_process_threads"] >= 1
    assert values["shoal_process_start_time_seconds"] > 1_000_000_000
    if sys.platform != "win32":
        assert values["shoal_process_open_fds"] >= 3
    assert all(f.type == "gauge" for n, f in families.items() if n != "shoal_process_cpu_seconds")

    other = Metrics()
    collect_process(other, prefix="w_")
    assert all(f.name.startswith("w_process_") for f in _parse(other.render()).values())
