"""Prometheus metrics for ``shoal daemon``: a small registry and the text exposition format 0.0.4.

The daemon's ``GET /metrics`` serves :meth:`Metrics.render` with :data:`CONTENT_TYPE`. The format
is written here rather than with ``prometheus_client``, which stays a test-only dependency (the
tests parse our output with its parser): the daemon needs three metric kinds, one event loop and
no global default registry, which is a couple of hundred lines, not a dependency.

What :meth:`Metrics.render` writes, per family (families sorted by name):

* ``# HELP name text`` (backslash and newline escaped) and ``# TYPE name kind``, even before the
  family has any sample, so a scrape shows every metric the daemon can report;
* one line per label combination, sorted by label values; label values escape backslash,
  double quote and newline (the only three escapes the format has), everything else, unicode
  included, is written as UTF-8;
* values as Prometheus writes them: ``+Inf``, ``-Inf``, ``NaN``; integral values without
  ``.0``; others as Python's shortest round-trip ``repr`` (which Go's ``ParseFloat`` reads);
  histogram bounds always as floats (``le="1.0"``), the form Prometheus 3 stores them in.

Rules the registry enforces, each with ``ValueError``:

* metric names match ``[a-zA-Z_:][a-zA-Z0-9_:]*``; label names ``[a-zA-Z_][a-zA-Z0-9_]*``,
  not starting with ``__`` (reserved for Prometheus), not repeated;
* a counter's name must end in ``_total``: it is *not* appended, so the name in the code is the
  name on the dashboard, grep finds both;
* ``amount``, ``value`` and ``self`` cannot be label names (they are parameters of ``inc``,
  ``set`` and ``observe``, so such a label could not be passed), nor ``le`` on a histogram;
* every update names exactly the family's labels, as keyword arguments (a value that is not a
  ``str`` is a ``TypeError``, as is a label tuple written as a bare string);
* registering a name again returns the same metric if kind, help, labels (and buckets) agree,
  so code that runs per scrape (:func:`collect_process`) can simply register; any disagreement,
  or a name clashing with another family's samples (``x_count`` vs. histogram ``x``), raises.

A family without labels has its one sample from registration on (at 0), as in the official
clients; a labelled one has a sample per combination used since.

The registry is not thread-safe on purpose: the daemon updates and renders it from its one
event loop, where a lock would only cost.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import sys
from collections.abc import Sequence
from typing import ClassVar, TypeVar

import psutil

__all__ = ["CONTENT_TYPE", "Counter", "Gauge", "Histogram", "Metrics", "collect_process"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# The parameters of the update methods: a label so named could not be passed as **labels.
_RESERVED_LABELS = frozenset({"amount", "self", "value"})

_LabelKey = tuple[str, ...]
_F = TypeVar("_F", bound="_Family")


def _format_value(value: float) -> str:
    """A sample value the way Prometheus writes one."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    # Below 2**53 every integral float is an exact integer; above, repr's exponent form is
    # shorter and still exact ("1e+16").
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _format_bound(bound: float) -> str:
    """A histogram ``le`` value: always with a fraction or exponent (``1.0``, not ``1``).

    ``le`` is a label, compared as a string: Prometheus 3 normalises it to this float form on
    ingestion, and the Python client writes it so; writing the same keeps ``le="1.0"`` in a
    query matching on Prometheus 2 as well.
    """
    return _format_value(bound) if math.isinf(bound) else repr(bound)


def _escape_label_value(value: str) -> str:
    # Backslash first, or the backslashes the other two escapes add would be doubled.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    # HELP has no quotes to end, so the format escapes only backslash and newline there.
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _label_text(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{_escape_label_value(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


class _Family:
    """What every metric kind shares: name, help, label names, and turning labels into a key."""

    kind: ClassVar[str]

    def __init__(self, name: str, help: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.help = help
        self.labelnames = labels
        self._labelset = frozenset(labels)

    def _key(self, labels: dict[str, str]) -> _LabelKey:
        if labels.keys() != self._labelset:
            want = ", ".join(self.labelnames) or "none"
            got = ", ".join(sorted(labels)) or "none"
            raise ValueError(f"{self.name} takes labels ({want}), got ({got})")
        key = tuple(labels[n] for n in self.labelnames)
        for name, value in zip(self.labelnames, key, strict=True):
            if not isinstance(value, str):
                raise TypeError(f"{self.name}: label {name} must be a str, got {value!r}")
        return key

    def _sample_names(self) -> tuple[str, ...]:
        """Every name this family's sample lines use: no two families may share one."""
        return (self.name,)

    def _same_shape(self, other: _Family) -> bool:
        return (
            type(self) is type(other)
            and self.help == other.help
            and self.labelnames == other.labelnames
        )

    def _render_samples(self, out: list[str]) -> None:
        raise NotImplementedError


class _ScalarFamily(_Family):
    """A family with one float per label combination: counters and gauges."""

    def __init__(self, name: str, help: str, labels: tuple[str, ...]) -> None:
        super().__init__(name, help, labels)
        self._values: dict[_LabelKey, float] = {}
        if not labels:
            self._values[()] = 0.0

    def value(self, **labels: str) -> float:
        """The current value for these labels; 0 for a combination not yet used."""
        return self._values.get(self._key(labels), 0.0)

    def _render_samples(self, out: list[str]) -> None:
        for key in sorted(self._values):
            labels = _label_text(self.labelnames, key)
            out.append(f"{self.name}{labels} {_format_value(self._values[key])}")


class Counter(_ScalarFamily):
    """A count that only goes up (per label combination); its name ends in ``_total``."""

    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` (>= 0; a negative or NaN amount raises ``ValueError``)."""
        if not amount >= 0:  # written so that NaN fails too
            raise ValueError(f"{self.name}: a counter cannot change by {amount!r}")
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + float(amount)

    def set_total(self, value: float, **labels: str) -> None:
        """Set the count outright, to mirror a count kept elsewhere (a crawl's stats).

        A value below the current one raises ``ValueError`` and leaves the counter as it was: a
        counter that goes down reads to Prometheus as a restart of the process, and ``rate()``
        would count the whole new value again. To follow a source that restarts from zero (a
        job's next run), add its increments with :meth:`inc` instead.
        """
        if math.isnan(value):
            raise ValueError(f"{self.name}: a counter cannot be NaN")
        key = self._key(labels)
        current = self._values.get(key, 0.0)
        if value < current:
            raise ValueError(f"{self.name}: a counter cannot go down ({current!r} -> {value!r})")
        self._values[key] = float(value)


class Gauge(_ScalarFamily):
    """A value that goes up and down: sizes, times, the last time something happened."""

    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        self._values[self._key(labels)] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + float(amount)

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self.inc(-amount, **labels)

    def remove(self, **labels: str) -> None:
        """Stop exposing this label combination (a job that was deleted); absent is fine."""
        key = self._key(labels)
        if self.labelnames:
            self._values.pop(key, None)
        else:
            # The unlabelled sample always exists; "removing" it resets it.
            self._values[key] = 0.0


class _HistogramChild:
    __slots__ = ("count", "counts", "sum")

    def __init__(self, buckets: int) -> None:
        # Per bucket, not cumulative: observe touches one slot; render accumulates.
        self.counts = [0] * buckets
        self.count = 0
        self.sum = 0.0


class Histogram(_Family):
    """Observations counted into buckets: ``_bucket{le=...}`` (cumulative), ``_sum``, ``_count``."""

    kind = "histogram"

    def __init__(
        self, name: str, help: str, buckets: Sequence[float], labels: tuple[str, ...]
    ) -> None:
        super().__init__(name, help, labels)
        bounds = [float(b) for b in buckets]
        if any(math.isnan(b) for b in bounds):
            raise ValueError(f"{name}: a bucket bound cannot be NaN")
        if any(a >= b for a, b in itertools.pairwise(bounds)):
            raise ValueError(f"{name}: bucket bounds must be strictly increasing: {bounds}")
        # Prometheus requires the +Inf bucket (it equals _count); add it when not given.
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)
        self.buckets = tuple(bounds)
        self._children: dict[_LabelKey, _HistogramChild] = {}
        if not labels:
            self._children[()] = _HistogramChild(len(self.buckets))

    def observe(self, value: float, **labels: str) -> None:
        """Count ``value`` (NaN raises ``ValueError``: it belongs in no bucket)."""
        if math.isnan(value):
            raise ValueError(f"{self.name}: cannot observe NaN")
        key = self._key(labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = _HistogramChild(len(self.buckets))
        # bisect_left: the first bound >= value, as ``le`` means "less than or equal".
        child.counts[bisect.bisect_left(self.buckets, value)] += 1
        child.count += 1
        child.sum += float(value)

    def _sample_names(self) -> tuple[str, ...]:
        return (self.name, f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")

    def _same_shape(self, other: _Family) -> bool:
        return (
            super()._same_shape(other)
            and isinstance(other, Histogram)
            and self.buckets == other.buckets
        )

    def _render_samples(self, out: list[str]) -> None:
        names = (*self.labelnames, "le")
        for key in sorted(self._children):
            child = self._children[key]
            running = 0
            for bound, count in zip(self.buckets, child.counts, strict=True):
                running += count
                labels = _label_text(names, (*key, _format_bound(bound)))
                out.append(f"{self.name}_bucket{labels} {running}")
            labels = _label_text(self.labelnames, key)
            out.append(f"{self.name}_sum{labels} {_format_value(child.sum)}")
            out.append(f"{self.name}_count{labels} {child.count}")


class Metrics:
    """A small registry: counters, gauges and histograms with labels.

    Thread-unsafe by design: the daemon touches it from one event loop only.
    """

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self._claimed: dict[str, str] = {}  # sample name -> name of the family that uses it

    def counter(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Counter:
        if not name.endswith("_total"):
            raise ValueError(f"counter name {name!r} must end in _total")
        return self._register(Counter(name, help, _check_labels(name, labels)), Counter)

    def gauge(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Gauge:
        return self._register(Gauge(name, help, _check_labels(name, labels)), Gauge)

    def histogram(
        self, name: str, help: str, buckets: Sequence[float], labels: tuple[str, ...] = ()
    ) -> Histogram:
        checked = _check_labels(name, labels)
        if "le" in checked:
            raise ValueError(f"{name}: 'le' is the histogram's own label")
        return self._register(Histogram(name, help, buckets, checked), Histogram)

    def _register(self, family: _F, kind: type[_F]) -> _F:
        name = family.name
        if not _METRIC_NAME.fullmatch(name):
            raise ValueError(f"invalid metric name {name!r}")
        existing = self._families.get(name)
        if existing is not None:
            if isinstance(existing, kind) and existing._same_shape(family):
                return existing
            raise ValueError(f"metric {name!r} is already registered with another definition")
        for sample in family._sample_names():
            owner = self._claimed.get(sample)
            if owner is not None:
                raise ValueError(f"metric {name!r} would write {sample!r}, as {owner!r} does")
        for sample in family._sample_names():
            self._claimed[sample] = name
        self._families[name] = family
        return family

    def render(self) -> str:
        """The text exposition (format 0.0.4) of every family, sorted by name."""
        out: list[str] = []
        for name in sorted(self._families):
            family = self._families[name]
            out.append(f"# HELP {name} {_escape_help(family.help)}")
            out.append(f"# TYPE {name} {family.kind}")
            family._render_samples(out)
        return "".join(line + "\n" for line in out)


def _check_labels(metric: str, labels: Sequence[str]) -> tuple[str, ...]:
    # ("job") is a str, not a tuple: without this it would become labels j, o and b.
    if isinstance(labels, str):
        raise TypeError(f"{metric}: labels must be a tuple of names, not the string {labels!r}")
    names = tuple(labels)
    for label in names:
        if not isinstance(label, str) or not _LABEL_NAME.fullmatch(label):
            raise ValueError(f"{metric}: invalid label name {label!r}")
        if label.startswith("__"):
            raise ValueError(f"{metric}: label names starting with __ are reserved: {label!r}")
        if label in _RESERVED_LABELS:
            raise ValueError(f"{metric}: {label!r} cannot be a label name (it is a parameter)")
    if len(set(names)) != len(names):
        raise ValueError(f"{metric}: repeated label name in {names}")
    return names


def collect_process(metrics: Metrics, prefix: str = "shoal_") -> None:
    """Set this process's figures, read with psutil; call it before each :meth:`Metrics.render`.

    Names follow the official clients' process collector, under ``prefix``:
    ``process_resident_memory_bytes``, ``process_cpu_seconds_total`` (a counter, as ``_total``
    says: user + system time, children excluded), ``process_open_fds`` (not on Windows),
    ``process_threads`` and ``process_start_time_seconds``.
    """
    proc = psutil.Process()
    with proc.oneshot():
        rss = proc.memory_info().rss
        times = proc.cpu_times()
        threads = proc.num_threads()
        started = proc.create_time()
        fds = proc.num_fds() if sys.platform != "win32" else None
    metrics.gauge(f"{prefix}process_resident_memory_bytes", "Resident memory size in bytes.").set(
        rss
    )
    cpu = metrics.counter(
        f"{prefix}process_cpu_seconds_total", "Total user and system CPU time spent in seconds."
    )
    # CPU time only grows, but set_total raises on a decrease and a scrape must not fail over
    # a rounding wobble in what the kernel reports.
    cpu.set_total(max(times.user + times.system, cpu.value()))
    metrics.gauge(f"{prefix}process_threads", "Number of OS threads in the process.").set(threads)
    metrics.gauge(
        f"{prefix}process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
    ).set(started)
    if fds is not None:
        metrics.gauge(f"{prefix}process_open_fds", "Number of open file descriptors.").set(fds)
