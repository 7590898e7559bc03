"""The whole local SCMS, started exactly as ``make serve`` starts it, in a subprocess on free ports.

``local_stack`` (module scope) yields a ``RunningStack``: the gateway ``url``, the moto
``endpoint``, the ``state_dir`` and the management ``api_key``. Teardown sends SIGTERM (what
Ctrl-C in ``make serve`` amounts to) and waits; a stack that does not stop fails the test run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
READY = re.compile(r"^SCMS ready: (http://\S+)")
MOTO = re.compile(r"^moto \(.*\): (http://\S+)")
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


@dataclass
class RunningStack:
    """A ``scms serve`` subprocess and what it printed."""

    process: subprocess.Popen[str]
    state_dir: Path
    url: str = ""
    endpoint: str = ""
    lines: list[str] = field(default_factory=list)
    _ready: threading.Event = field(default_factory=threading.Event)

    @property
    def api_key(self) -> str:
        """The management API key the first start wrote (``<state_dir>/management-api-key``)."""
        return (self.state_dir / "management-api-key").read_text(encoding="utf-8").strip()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip("\n")
            self.lines.append(line)
            if match := MOTO.match(line):
                self.endpoint = match.group(1)
            if match := READY.match(line):
                self.url = match.group(1)
                self._ready.set()
        self._ready.set()  # the process ended: wake a waiting start

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the stack and wait for it to exit; returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"scms serve did not stop within {STOP_TIMEOUT}s:\n{self.output}") from None
        return self.process.returncode


def start_stack(state_dir: Path, *extra: str, env: dict[str, str] | None = None) -> RunningStack:
    """Start ``python -m scms_cli.main serve`` (what ``make serve`` runs) on free ports; wait until it is ready."""
    environment = {**os.environ, **(env or {})}
    environment.pop("AWS_ENDPOINT_URL", None)
    environment["PYTHONUNBUFFERED"] = "1"
    command = [
        sys.executable, "-m", "scms_cli.main", "serve",
        "--port", "0", "--moto-port", "0", "--state-dir", str(state_dir), *extra,
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a Ctrl-C in the terminal running pytest must not reach it twice
    )
    stack = RunningStack(process=process, state_dir=state_dir)
    threading.Thread(target=stack._read, name="scms-serve-output", daemon=True).start()
    if not stack._ready.wait(START_TIMEOUT) or not stack.url:
        stack.stop(signal.SIGKILL)
        raise AssertionError(f"scms serve did not become ready:\n{stack.output}")
    return stack


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The local SCMS for one test module: fresh state directory, hierarchy created, stopped afterwards."""
    stack = start_stack(tmp_path_factory.mktemp("scms-state"), "--snapshot-seconds", "0")
    try:
        yield stack
    finally:
        status = stack.stop()
        assert status == 0, f"scms serve exited with {status}:\n{stack.output}"
