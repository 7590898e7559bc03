"""Per-core scaling: one variant's certificates in one process against a fork pool of workers.

performance.md §2 and §7: the GIL makes threads slower than one core for the whole ACA loop,
so the ACA scales with processes; with fork the workers inherit the compiled ASN.1.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from dataclasses import dataclass
from typing import Any

from .aca_core import AcaCore, Variant

_core: AcaCore | None = None


def _init_worker(variant: Variant) -> None:
    global _core
    _core = AcaCore(variant)


def _issue_range(bounds: tuple[int, int]) -> int:
    assert _core is not None
    for j in range(*bounds):
        _core.issue(1, j)
    return bounds[1] - bounds[0]


@dataclass(frozen=True)
class Scaling:
    """Wall seconds for ``certificates`` certificates in 1 process and in ``workers`` processes."""

    variant: str
    certificates: int
    workers: int
    one_process_s: float
    pool_s: float

    @property
    def speedup(self) -> float:
        """How many times faster the pool finished the same batch."""
        return self.one_process_s / self.pool_s

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "variant": self.variant,
            "certificates": self.certificates,
            "workers": self.workers,
            "one_process_s": self.one_process_s,
            "pool_s": self.pool_s,
            "one_process_certs_per_s": self.certificates / self.one_process_s,
            "pool_certs_per_s": self.certificates / self.pool_s,
            "speedup": self.speedup,
        }


def measure_scaling(variant: Variant, *, certificates: int, workers: int = 2, repeat: int = 3) -> Scaling:
    """Median wall time of ``certificates`` issues alone and split over a fork pool (start-up excluded)."""
    if certificates < workers:
        raise ValueError("certificates: need at least one per worker")
    chunks = [(w * certificates // workers, (w + 1) * certificates // workers) for w in range(workers)]
    _init_worker(variant)
    _issue_range((0, min(10, certificates)))  # Warm-up, as the pool's warm-up below.
    alone = []
    for _ in range(repeat):
        start = time.perf_counter()
        _issue_range((0, certificates))
        alone.append(time.perf_counter() - start)
    pooled = []
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, initargs=(variant,)) as pool:
        pool.map(_issue_range, [(0, 2)] * workers, chunksize=1)  # Start every worker before timing.
        for _ in range(repeat):
            start = time.perf_counter()
            done = sum(pool.map(_issue_range, chunks, chunksize=1))
            pooled.append(time.perf_counter() - start)
            if done != certificates:
                raise AssertionError(f"pool issued {done} of {certificates} certificates")
    return Scaling(variant.name, certificates, workers, statistics.median(alone), statistics.median(pooled))
