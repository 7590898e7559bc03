"""CPU profile of ``scms serve``'s main process for ``python -m bench --profile-stack`` only.

On the stack's PYTHONPATH, with ``SCMS_BENCH_PROFILE_OUT`` set, this runs every thread under a ``cProfile``
measuring thread CPU time (``time.thread_time``, so a thread waiting for the GIL, a lock or a socket
counts nothing) and, at exit, writes ``<out>`` (pstats) and ``<out>.txt``: CPU seconds by package
(``moto.dynamodb``, ``werkzeug``, ``scms_ra``, stdlib modules, ...) by tottime, and the top functions.
The variable is removed from the environment at once, so the pool's workers (spawned later, with this
process's environment) are not profiled. cProfile roughly doubles the cost of Python calls: the
figures of a profiled run are shares, not timings.
"""

from __future__ import annotations

import atexit
import cProfile
import os
import pstats
import sys
import sysconfig
import threading
import time
from collections import defaultdict
from typing import Any

_OUT = os.environ.pop("SCMS_BENCH_PROFILE_OUT", None)
_STDLIB = sysconfig.get_paths()["stdlib"]


def category(filename: str) -> str:
    """``moto.dynamodb``, ``werkzeug``, ``scms_ra``, ``stdlib:json``, ``builtins`` ... for a code file."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C functions)"
    parts = filename.replace("\\", "/").split("/")
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        package = rest[0].removesuffix(".py")
        if package in ("moto", "botocore", "boto3", "cryptography") and len(rest) > 2:
            return f"{package}.{rest[1].removesuffix('.py')}"
        return package
    for marker in ("functions", "layers"):
        if marker in parts:
            rest = parts[parts.index(marker) + 1 :]
            for piece in rest:
                if piece.startswith("scms_"):
                    return piece.removesuffix(".py")
            return "/".join(rest[:2])
    if filename.startswith(_STDLIB):
        module = filename[len(_STDLIB) :].lstrip("/").split("/")[0].removesuffix(".py")
        return f"stdlib:{module}"
    return "other"


def summarise(stats: pstats.Stats, *, top: int = 30) -> str:
    """CPU seconds by category (tottime) and the functions with the most tottime."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    by_category: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        by_category[category(filename)] += tottime
    total = sum(by_category.values()) or 1.0
    lines = [f"CPU seconds of scms serve's main process (all threads, cProfile, thread time): {total:.1f}", ""]
    for name, seconds in sorted(by_category.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{seconds:9.2f} s  {100 * seconds / total:5.1f} %  {name}")
    lines += ["", "functions by tottime:"]
    ranked = sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]
    for (filename, line, name), (_cc, nc, tottime, _cumtime, _callers) in ranked:
        where = f"{category(filename)}:{os.path.basename(filename)}:{line}"
        lines.append(f"{tottime:9.2f} s  {nc:9d} calls  {name}  ({where})")
    return "\n".join(lines) + "\n"


def _install(out: str) -> None:
    # One profiler per running thread, reused: the server starts a thread per HTTP request, and
    # merging thousands of per-thread profiles at exit would take minutes.
    free: list[cProfile.Profile] = []
    every: list[cProfile.Profile] = []
    lock = threading.Lock()
    original_run = threading.Thread.run

    def take() -> cProfile.Profile:
        with lock:
            if free:
                return free.pop()
            profile = cProfile.Profile(time.thread_time)
            every.append(profile)
            return profile

    def run(self: threading.Thread) -> None:
        profile = take()
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()
            with lock:
                free.append(profile)

    def dump() -> None:
        main.disable()
        stats: pstats.Stats | None = None
        with lock:
            idle = list(free)  # profiles of threads still running are left out
        for profile in [main, *idle]:
            try:
                if stats is None:
                    stats = pstats.Stats(profile)
                else:
                    stats.add(profile)
            except (TypeError, ValueError):  # never enabled: no data
                continue
        if stats is None:
            return
        stats.dump_stats(out)
        with open(out + ".txt", "w", encoding="utf-8") as f:
            f.write(summarise(stats))

    threading.Thread.run = run  # type: ignore[method-assign]
    main = cProfile.Profile(time.thread_time)
    main.enable()
    atexit.register(dump)


if _OUT and "multiprocessing" not in " ".join(getattr(sys, "argv", [])):
    _install(_OUT)
