"""Turn the benchmark's figures into results.json, results.md and two PNG charts."""

from __future__ import annotations

import datetime
import os
import platform
import textwrap
from pathlib import Path
from typing import Any

import orjson
import psutil

_COLUMNS = [
    ("pages", "pages", "{:,.0f}"),
    ("pages/s", "pages_per_s", "{:,.0f}"),
    ("pages/s while crawling", "served_per_s", "{:,.0f}"),
    ("CPU ms/page", "cpu_ms_per_page", "{:.2f}"),
    ("peak RSS MB (all processes)", "peak_rss_mb", "{:,.0f}"),
    ("max in flight/host", "max_in_flight_per_host", "{:.0f}"),
    ("max req in 1 s/host", "max_per_second_per_host", "{:.0f}"),
    ("duplicates", "duplicates", "{:.0f}"),
]


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": psutil.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")


def write_markdown(results: dict[str, Any], path: Path, charts: list[str]) -> None:
    m = results["machine"]
    lines = [
        "# shoal benchmark results",
        "",
        f"Measured {m['date']} on {m['cpus']} CPUs ({m['cpu_model'] or 'unknown model'}), "
        f"{m['memory_gb']} GB, Python {m['python']}, {m['platform']}.",
        f"Mode: {results['mode']}; every figure is the median of the runs each heading gives, "
        "competitors taking turns (each round starting with the next); politeness columns are "
        "the worst run. pages/s is by the wall clock, process start and exit included; "
        "pages/s while crawling is requests over the span from the first request to the last "
        "response, as the server saw it. The site server runs on the same machine and its CPU "
        "is part of the load. Produced by `make bench` (`python bench/run.py`); raw figures in "
        "results.json.",
        "",
        "## Targets",
        "",
        "| scenario | target | measured | met |",
        "|---|---|---|---|",
    ]
    for check in results["checks"]:
        ok = "yes" if check["ok"] else "**no**"
        lines.append(f"| {check['scenario']} | {check['target']} | {check['measured']} | {ok} |")
    for key, scenario in results["scenarios"].items():
        runs = scenario.get("runs", results["runs"])
        lines += ["", f"## {key}: {scenario['title']} ({runs} run{'s' if runs > 1 else ''})", ""]
        if scenario.get("ceiling"):
            rate, tool = scenario["ceiling"]
            lines += [f"Server ceiling (one page, {tool}): {rate:,.0f} requests/s.", ""]
        lines.append("| competitor | " + " | ".join(c[0] for c in _COLUMNS) + " | vs shoal |")
        lines.append("|---" * (len(_COLUMNS) + 2) + "|")
        competitors = scenario["competitors"]
        shoal_rate = competitors.get("shoal", {}).get("median", {}).get("pages_per_s")
        for competitor in competitors.values():
            med = competitor["median"]
            cells = [fmt.format(med[k]) for _, k, fmt in _COLUMNS]
            versus = f"{shoal_rate / med['pages_per_s']:.2f}x" if shoal_rate else ""
            lines.append(f"| {competitor['name']} | " + " | ".join(cells) + f" | {versus} |")
        if key == "A" and "shoal" in competitors:
            med = competitors["shoal"]["median"]
            lines += [
                "",
                f"C (CPU use): shoal used {med['cpu_s']:.1f} CPU-s in {med['wall_s']:.1f} s; the "
                f"site server used {med['server_cpu_s']:.1f}; shoal's share of the CPU left free: "
                f"{med['cpu_share_of_free']:.0%}.",
            ]
    if charts:
        lines += ["", "## Charts", ""] + [f"![{name}]({name})" for name in charts]
    path.write_text("\n".join(lines) + "\n")


def write_charts(results: dict[str, Any], out: Path) -> list[str]:
    """Bar chart of pages/s per competitor and scenario; memory and pages/s over time for D."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    bars = [(k, s) for k, s in results["scenarios"].items() if len(s["competitors"]) > 1]
    if bars:
        fig, axes = plt.subplots(1, len(bars), figsize=(6 * len(bars), 4.2), squeeze=False)
        for ax, (key, scenario) in zip(axes[0], bars, strict=True):
            names = [c["name"].split(" (")[0] for c in scenario["competitors"].values()]
            rates = [c["median"]["pages_per_s"] for c in scenario["competitors"].values()]
            colours = ["#1f77b4" if n.startswith("shoal") else "#999999" for n in names]
            ax.barh(names, rates, color=colours)
            for y, rate in enumerate(rates):
                ax.text(rate, y, f" {rate:,.0f}", va="center", fontsize=8)
            ax.set_title(textwrap.fill(f"{key}: {scenario['title']}", 55), fontsize=9)
            ax.set_xlabel("pages/s (median)")
            ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(out / "pages_per_s.png", dpi=100)
        plt.close(fig)
        written.append("pages_per_s.png")
    d = results["scenarios"].get("D", {}).get("competitors", {}).get("shoal")
    if d and d["runs"][0]["timeline"]:
        timeline = d["runs"][0]["timeline"]
        t = [row[0] for row in timeline]
        rss = [row[1] / 2**20 for row in timeline]
        done = [row[2] for row in timeline]
        rate = [0.0] + [
            (done[i] - done[i - 1]) / max(t[i] - t[i - 1], 1e-9) for i in range(1, len(t))
        ]
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.plot(done, rss, color="#1f77b4", label="summed RSS (MB)")
        ax.set_xlabel("requests served")
        ax.set_ylabel("summed RSS, MB", color="#1f77b4")
        ax.set_ylim(bottom=0)
        ax2 = ax.twinx()
        ax2.plot(done, rate, color="#ff7f0e", alpha=0.7, label="pages/s")
        ax2.set_ylabel("requests/s", color="#ff7f0e")
        ax2.set_ylim(bottom=0)
        ax.set_title("D: shoal memory and speed over a long crawl")
        fig.tight_layout()
        fig.savefig(out / "memory_over_time.png", dpi=100)
        plt.close(fig)
        written.append("memory_over_time.png")
    return written
