"""Median-of-repeats timing with ``time.perf_counter`` (performance.md: re-measure as ratios)."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Seconds per operation of each repeat; the figure reported is their median."""

    name: str
    number: int
    per_op: tuple[float, ...]

    @property
    def seconds(self) -> float:
        """Median seconds per operation."""
        return statistics.median(self.per_op)

    @property
    def us(self) -> float:
        """Median microseconds per operation."""
        return self.seconds * 1e6

    @property
    def per_second(self) -> float:
        """Operations per second on one core, from the median."""
        return 1.0 / self.seconds if self.seconds > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (µs, ops/s and every repeat)."""
        return {
            "name": self.name,
            "us": self.us,
            "per_second": self.per_second,
            "number": self.number,
            "repeats_us": [t * 1e6 for t in self.per_op],
        }


def measure(name: str, fn: Callable[[], object], *, number: int, repeat: int, warmup: int = 1) -> Timing:
    """Time ``number`` calls of ``fn`` ``repeat`` times, after ``warmup`` untimed calls."""
    if number < 1:
        raise ValueError("number: must be at least 1")
    if repeat < 1:
        raise ValueError("repeat: must be at least 1")
    for _ in range(warmup):
        fn()
    clock = time.perf_counter
    samples = []
    for _ in range(repeat):
        start = clock()
        for _ in range(number):
            fn()
        samples.append((clock() - start) / number)
    return Timing(name, number, tuple(samples))


def progress(message: str) -> None:
    """One line of progress on stderr, so the table on stdout stays clean."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)
