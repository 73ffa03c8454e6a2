"""Summaries of the measured times, the verdict and the time breakdowns."""

import math
import re
import statistics
from collections import defaultdict

from bench.measure import epoch

# Short names for the deployment log's lines, in the order they appear.
MARKS = (
    (re.compile(r"^(deploy|rollback|promotion) of "), "plan logged"),
    (re.compile(r"^stopping "), "stop asked"),
    (re.compile(r"^stopped container "), "container stopped"),
    (re.compile(r"^container .* let go of port "), "port released"),
    (re.compile(r"^image .* is present"), "image inspected"),
    (re.compile(r"^pulling "), "pull started"),
    (re.compile(r"^creating container "), "create asked"),
    (re.compile(r"^starting container "), "start asked"),
    (re.compile(r"^waiting up to "), "container running"),
    (re.compile(r"^healthy: "), "gate passed"),
    (re.compile(r"^traffic: "), "nginx reloaded"),
    (re.compile(r"^canary step: "), "canary step watched"),
    (re.compile(r"^v\d+: "), "promoted"),
    (re.compile(r"^stopped the previous release "), "retired"),
    (re.compile(r"^failed: "), "failed"),
)


def percentile(values, fraction):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(values):
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p90": percentile(values, 0.9),
        "min": min(values),
        "max": max(values),
    }


class Results:
    """Samples in seconds per measurement, and log breakdowns per kind."""

    def __init__(self):
        self.samples = defaultdict(list)
        self.breakdowns = defaultdict(lambda: defaultdict(list))
        self.failures = []

    def add(self, name, seconds):
        if seconds is not None:
            self.samples[name].append(seconds)

    def add_breakdown(self, kind, followed):
        for label, seconds in segments(followed):
            self.breakdowns[kind][label].append(seconds)

    def median(self, name):
        values = self.samples.get(name)
        return statistics.median(values) if values else None


def mark_name(message):
    for pattern, name in MARKS:
        if pattern.match(message):
            return name
    return " ".join(message.split()[:3])


def marks(followed):
    """``(name, epoch seconds)`` from the request to the last log line."""
    detail = followed.detail
    found = [
        ("POST sent", followed.sent_at),
        ("row created", epoch(detail["createdAt"])),
    ]
    if detail.get("startedAt"):
        found.append(("worker claimed", epoch(detail["startedAt"])))
    seen = defaultdict(int)
    for line in followed.log:
        name = mark_name(line["message"])
        seen[name] += 1
        if seen[name] > 1:
            name = f"{name} {seen[name]}"
        found.append((name, epoch(line["at"])))
    return found


def segments(followed):
    """``("a → b", seconds)`` between each pair of consecutive marks."""
    found = marks(followed)
    return [
        (f"{before} → {after}", at_after - at_before)
        for (before, at_before), (after, at_after) in zip(
            found, found[1:], strict=False
        )
    ]


def ms(seconds):
    return "-" if seconds is None else f"{seconds * 1000:,.0f}"


def print_table(results, order):
    width = max((len(name) for name in order), default=20) + 2
    print(f"{'measurement':<{width}}{'n':>4}{'median':>10}{'p90':>10}{'min':>10}")
    for name in order:
        values = results.samples.get(name)
        if not values:
            continue
        stats = summary(values)
        print(
            f"{name:<{width}}{stats['n']:>4}{ms(stats['median']):>10}"
            f"{ms(stats['p90']):>10}{ms(stats['min']):>10}"
        )
    print("(milliseconds)")


def print_breakdown(results, kind):
    rows = results.breakdowns.get(kind)
    if not rows:
        return
    print(f"\n{kind}: where the time goes (median of each step, ms)")
    width = max(len(label) for label in rows) + 2
    for label, values in rows.items():
        print(f"  {label:<{width}}{ms(statistics.median(values)):>8}")


def verdict_line(label, value, target, passed, unit=""):
    mark = "PASS" if passed else "MISS"
    print(f"  {label}: {value}{unit} (target {target}) ... {mark}")
