"""``bench/results/``: each run's JSON and Markdown, with the machine, versions, git revision and date.

A full run writes ``latest.json`` and ``latest.md`` and refreshes the README's "Performance" section
(between ``README_START`` and ``README_END``) from that Markdown; a ``--quick`` run writes
``quick.json`` and ``quick.md`` only, so a rough check never replaces the figures of a real run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from . import report

__all__ = [
    "PACKAGES",
    "README_END",
    "README_START",
    "RESULTS_DIR",
    "cpu_model",
    "environment",
    "render_saved",
    "replace_section",
    "write_results",
]

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"
README = REPO / "README.md"
README_START = "<!-- bench:performance:start (python -m bench writes this part) -->"
README_END = "<!-- bench:performance:end -->"
PACKAGES = ("cryptography", "asn1tools", "moto", "boto3", "chalice", "openscms-py")


def cpu_model(cpuinfo: str) -> str:
    """The ``model name`` of ``/proc/cpuinfo`` (x86) or its ``Hardware``/``CPU part`` (arm); else the machine."""
    for key in ("model name", "Hardware", "Processor", "CPU part"):
        for line in cpuinfo.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key and value.strip():
                return value.strip()
    return platform.machine() or "unknown CPU"


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Where and with what the run was made (recorded at its start)."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        cpuinfo = ""
    revision = _git("rev-parse", "--short=12", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    try:
        from cryptography.hazmat.backends.openssl.backend import backend

        openssl = backend.openssl_version_text()
    except Exception:  # only a label: any failure leaves it unknown
        openssl = "OpenSSL ?"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu_model": cpu_model(cpuinfo),
        "cores": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "openssl": openssl,
        "packages": {name: v for name in PACKAGES if (v := _version(name)) is not None},
        "git_revision": None if revision is None else revision + (" (uncommitted changes)" if dirty else ""),
    }


def replace_section(text: str, body: str) -> str:
    """``text`` with what lies between the README markers replaced by ``body``; ``ValueError`` without them."""
    start = text.find(README_START)
    end = text.find(README_END)
    if start < 0 or end < start:
        raise ValueError("README: the Performance markers are missing or out of order")
    head = text[: start + len(README_START)]
    return f"{head}\n{body.strip()}\n{text[end:]}"


def write_results(results: dict[str, Any], *, quick: bool, directory: Path = RESULTS_DIR,
                  readme: Path | None = README) -> list[Path]:  # fmt: skip
    """Write ``<stem>.json`` and ``<stem>.md`` (stem ``latest`` or ``quick``); a full run also updates ``readme``."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = "quick" if quick else "latest"
    markdown = report.render_markdown(results)
    written = [directory / f"{stem}.json", directory / f"{stem}.md"]
    report.save_json(written[0], results)
    written[1].write_text(markdown, encoding="utf-8")
    if not quick and readme is not None and readme.exists():
        text = readme.read_text(encoding="utf-8")
        if README_START in text:
            readme.write_text(replace_section(text, report.render_markdown(results, brief=True)), encoding="utf-8")
            written.append(readme)
    return written


def render_saved(path: Path, *, directory: Path = RESULTS_DIR, readme: Path | None = README) -> list[Path]:
    """Write the Markdown and the README section again from a saved ``latest.json`` (no measurement)."""
    results = json.loads(path.read_text(encoding="utf-8"))
    return write_results(results, quick=False, directory=directory, readme=readme)
