"""The local SCMS for the provisioning benchmarks: ``scms serve`` in a subprocess, and its memory from /proc.

``start_stack`` runs ``python -m scms_cli.main serve`` (what ``make serve`` runs) on free ports with its
own state directory, as ``tests/e2e/conftest.py`` does, and waits for "SCMS ready". ``RssSampler``
follows the resident memory of the stack's whole process tree (the server and its worker pool) by
reading ``/proc/<pid>/status`` (psutil is not a dependency).
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

__all__ = [
    "RssSampler",
    "RunningStack",
    "children_by_parent",
    "parse_ppid",
    "parse_rss_kib",
    "process_tree",
    "start_stack",
    "tree_rss_kib",
]

REPO = Path(__file__).resolve().parents[1]
READY = re.compile(r"^SCMS ready: (http://\S+)")
MOTO = re.compile(r"^moto \(.*\): (http://\S+)")
MACHINE = re.compile(r"^state machine (\S+): (arn:\S+)")
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
_KEEP_LINES = 2000


@dataclass
class RunningStack:
    """A ``scms serve`` subprocess and what it printed (the last lines only: its log is long)."""

    process: subprocess.Popen[str]
    state_dir: Path
    url: str = ""
    endpoint: str = ""
    state_machines: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    log_path: Path | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def api_key(self) -> str:
        """The management API key the first start wrote (``<state_dir>/management-api-key``)."""
        return (self.state_dir / "management-api-key").read_text(encoding="utf-8").strip()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def _read(self) -> None:
        assert self.process.stdout is not None
        log = self.log_path.open("a", encoding="utf-8") if self.log_path is not None else None
        try:
            self._follow(log)
        finally:
            if log is not None:
                log.close()
        self._ready.set()  # the process ended: wake a waiting start

    def _follow(self, log: TextIO | None) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            if log is not None:
                log.write(raw)
            line = raw.rstrip("\n")
            self.lines.append(line)
            if len(self.lines) > _KEEP_LINES:
                del self.lines[: _KEEP_LINES // 2]
            if match := MOTO.match(line):
                self.endpoint = match.group(1)
            if match := MACHINE.match(line):
                self.state_machines[match.group(1)] = match.group(2)
            if match := READY.match(line):
                self.url = match.group(1)
                self._ready.set()

    def stop(self, sig: int = signal.SIGTERM, *, timeout: float = STOP_TIMEOUT) -> int:
        """Signal the stack and wait for it to exit (killed after ``timeout`` seconds); its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_stack(
    state_dir: Path, *extra: str, log_path: Path | None = None, env: Mapping[str, str] | None = None
) -> RunningStack:
    """Start ``scms serve`` on free ports with ``state_dir`` (fresh hierarchy); wait until it is ready.

    Its whole output (the functions' JSON logs) goes to ``log_path`` when given; ``env`` adds variables.
    """
    environment = {**os.environ, **(env or {})}
    environment.pop("AWS_ENDPOINT_URL", None)
    environment["PYTHONUNBUFFERED"] = "1"
    command = [
        sys.executable, "-m", "scms_cli.main", "serve",
        "--port", "0", "--moto-port", "0", "--state-dir", str(state_dir), "--snapshot-seconds", "0", *extra,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # a Ctrl-C of the bench reaches it once, through stop()
    )  # fmt: skip
    stack = RunningStack(process=process, state_dir=state_dir, log_path=log_path)
    threading.Thread(target=stack._read, name="scms-serve-output", daemon=True).start()
    if not stack._ready.wait(START_TIMEOUT) or not stack.url:
        stack.stop(signal.SIGKILL)
        tail = "\n".join(stack.lines[-40:])
        raise RuntimeError(f"scms serve did not become ready:\n{tail}")
    return stack


# --- memory of the process tree (/proc) ---------------------------------------------------------


def parse_rss_kib(status: str) -> int:
    """``VmRSS`` of a ``/proc/<pid>/status`` text, in KiB (0 when absent, e.g. a zombie)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def parse_ppid(stat: str) -> int:
    """The parent pid from a ``/proc/<pid>/stat`` line (the command name may hold spaces and parentheses)."""
    after_name = stat[stat.rindex(")") + 2 :]
    return int(after_name.split()[1])


def children_by_parent(parents: Mapping[int, int]) -> dict[int, list[int]]:
    """Invert pid → ppid."""
    out: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        out.setdefault(ppid, []).append(pid)
    return out


def process_tree(root: int, parents: Mapping[int, int]) -> list[int]:
    """``root`` and every descendant of it, from a pid → ppid map."""
    children = children_by_parent(parents)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:  # the process ended between listing and reading
        return None


def _parents() -> dict[int, int]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _read(f"/proc/{name}/stat")) is not None:
            out[int(name)] = parse_ppid(stat)
    return out


def tree_rss_kib(root: int, pids: Iterable[int] | None = None) -> int:
    """The summed VmRSS of ``root``'s process tree now, in KiB."""
    total = 0
    for pid in pids if pids is not None else process_tree(root, _parents()):
        if (status := _read(f"/proc/{pid}/status")) is not None:
            total += parse_rss_kib(status)
    return total


def parse_cpu_ticks(stat: str) -> int:
    """utime + stime of a ``/proc/<pid>/stat`` line, in clock ticks."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), counted from the state (3)


def tree_cpu_seconds(root: int) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each live process of ``root``'s tree."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in process_tree(root, _parents()):
        if (stat := _read(f"/proc/{pid}/stat")) is not None:
            out[pid] = parse_cpu_ticks(stat) / tick
    return out


class CpuMeter:
    """CPU seconds spent during a ``with`` block: the stack's main process, the rest of its tree, this process.

    ``device_s`` is this (the bench's) process and the children it reaped meanwhile (the device's
    verifying workers); the stack's own processes are read from /proc (its workers live on, so a
    difference of their counters is theirs). ``wall_s`` lets a reader see how many cores were busy.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self.figures: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self._stack = tree_cpu_seconds(self.root)
        self._self = self._own()
        self._wall = time.monotonic()
        return self

    def __exit__(self, *_exc: object) -> None:
        after = tree_cpu_seconds(self.root)
        main = after.get(self.root, 0.0) - self._stack.get(self.root, 0.0)
        rest = sum(t - self._stack.get(pid, 0.0) for pid, t in after.items() if pid != self.root)
        self.figures = {
            "wall_s": time.monotonic() - self._wall, "stack_main_s": main, "stack_workers_s": rest,
            "device_s": self._own() - self._self,
        }  # fmt: skip

    @staticmethod
    def _own() -> float:
        me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


class RssSampler:
    """Samples a process tree's summed RSS every ``interval`` seconds on a thread; ``peak_kib`` the highest."""

    def __init__(self, root: int, *, interval: float = 0.25) -> None:
        self.root = root
        self.interval = interval
        self.peak_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self.peak_kib = max(self.peak_kib, tree_rss_kib(self.root))
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, tree_rss_kib(self.root))

    def _run(self) -> None:
        pids: list[int] = []
        refreshed = 0.0
        while not self._stop.wait(self.interval):
            if time.monotonic() - refreshed > 2.0:  # the tree changes rarely: re-list /proc every 2 s
                pids, refreshed = process_tree(self.root, _parents()), time.monotonic()
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.root, pids))
            self.samples += 1
