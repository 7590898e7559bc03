"""Helpers for the end-to-end tests: run the real ``scms-ee`` command in a subprocess against a live stack."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scms_ee.client import Client

REPO = Path(__file__).resolve().parents[2]


class Stack(Protocol):
    """What ``tests/e2e/conftest.py``'s ``local_stack`` fixture yields."""

    url: str
    api_key: str


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def scms_ee(stack: Stack, state: Path, *args: str, trace: Path | None = None) -> Run:
    """``python -m scms_ee.main --url URL --state DIR [--trace DIR] ARGS`` as a separate process, over HTTP."""
    extra = ["--trace", str(trace)] if trace is not None else []
    command = [sys.executable, "-m", "scms_ee.main", "--url", stack.url, "--state", str(state), *extra, *args]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, cwd=REPO, env=os.environ.copy(), check=False
    )
    return Run(done.returncode, done.stdout, done.stderr)


def canonical_id(run: Run) -> str:
    """The canonical id ``scms-ee init`` printed."""
    for line in run.out.splitlines():
        if line.startswith("canonical id: "):
            return line.removeprefix("canonical id: ").strip()
    raise AssertionError(f"no canonical id in: {run.out!r}")


def manage(stack: Stack, method: str, path: str, body: Any = None) -> Any:
    """A management API call with the stack's key (as `scms device ...` would make it)."""
    return Client(stack.url, timeout=30).manage(method, path, stack.api_key, body)
