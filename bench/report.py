"""Plain-text tables for ``make bench`` and the JSON file of ``--json``."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A left-aligned first column and right-aligned others, sized to their contents."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        first, *rest = row
        return "  ".join([first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))])

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def ratio(python_us: float | None, c_us: float | None) -> str | None:
    """``python / C`` as ``1.85x``, or None when either side is missing."""
    if not python_us or not c_us:
        return None
    return f"{python_us / c_us:.2f}x"


def per_second(us: float | None) -> float | None:
    """Operations per second from µs per operation."""
    return None if not us else 1e6 / us


def section(title: str) -> str:
    """A heading line with a rule under it."""
    return f"\n{title}\n{'=' * len(title)}"


def save_json(path: Path, results: dict[str, Any]) -> None:
    """Write the results with stable key order."""
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


# --- the provisioning sections (bench/provision.py), as text on stdout and as Markdown -------------

Rows = list[list[object]]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; the first column left-aligned, the others right-aligned."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join([":---", *["---:"] * (len(headers) - 1)]) + "|"]
    out.extend("| " + " | ".join(_cell(v).replace("|", "\\|") for v in row) + " |" for row in rows)
    return "\n".join(out)


def _mib(value: float | None) -> str | None:
    return None if value is None else f"{value:,.0f}"


def _s(value: float | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def burst_table(bursts: Sequence[dict[str, Any]]) -> tuple[list[str], Rows]:
    """One row per variant: medians of the runs (seconds) and what was verified."""
    headers = [
        "variant",
        "certificates verified",
        "POST → all verified s",
        "POST → ack s",
        "state machine s",
        "ack → all verified s",
        "after the stop s",
        "CPU s: stack main / workers / device",
        "runs",
        "peak RSS MiB",
    ]
    rows: Rows = []
    for b in bursts:
        median = b["median"]
        verified = min(r["verified"] for r in b["runs"])
        rows.append([f"{b['cert_type']}/{b['variant']}, {b['periods']} periods", f"{verified:,} / "
                     f"{b['certificates_expected']:,}", _s(median["total_s"]), _s(median["ack_s"]),
                     _s(median["execution_s"]), _s(median["download_verify_s"]), _s(median["tail_s"]),
                     cpu_cell(b["runs"]), len(b["runs"]), _mib(b["peak_rss_mib"])])  # fmt: skip
    return headers, rows


def cpu_cell(runs: Sequence[dict[str, Any]]) -> str | None:
    """Median CPU seconds of the timed window per part (``bench.local_stack.CpuMeter``); None before it existed."""
    measured = [r["cpu"] for r in runs if r.get("cpu")]
    if not measured:
        return None
    parts = ("stack_main_s", "stack_workers_s", "device_s")
    return " / ".join(f"{statistics.median(m[part] for m in measured):.1f}" for part in parts)


def tasks_table(burst: dict[str, Any], *, top: int = 8) -> tuple[list[str], Rows]:
    """Where the median run's execution spent its time: Lambda tasks by summed duration."""
    runs = sorted(burst["runs"], key=lambda r: r["total_s"])
    median_run = runs[len(runs) // 2]
    headers = ["task (function:task)", "count", "summed s", "longest s", "first start → last end s"]
    rows: Rows = [[label, int(t["count"]), _s(t["seconds"]), _s(t["max"]), _s(t["span"])]
                  for label, t in list(median_run["tasks"].items())[:top]]  # fmt: skip
    return headers, rows


def devices_table(devices: dict[str, Any]) -> tuple[list[str], Rows]:
    """The many-devices run in one row."""
    headers = [
        "devices x periods",
        "certificates verified",
        "certs/s",
        "p50 POST → all verified s",
        "p99 s",
        "p50 ack s",
        "peak RSS MiB",
        "failed devices",
    ]
    rows: Rows = [[f"{devices['devices']} x {devices['periods_per_device']} ({devices['cert_type']}/"
                   f"{devices['variant']})", f"{devices['certificates_verified']:,} / "
                   f"{devices['certificates_expected']:,}", devices["certs_per_s"], _s(devices["latency_p50_s"]),
                   _s(devices["latency_p99_s"]), _s(devices["ack_p50_s"]), _mib(devices["peak_rss_mib"]),
                   devices["error_count"]]]  # fmt: skip
    return headers, rows


def enrollment_table(devices: dict[str, Any]) -> tuple[list[str], Rows]:
    """The enrollment part of the many-devices run (measured since the devices enroll under load) in one row."""
    e = devices["enrollment"]
    headers = ["devices enrolling at once", "enrolled", "enrollments/s", "p50 enrollment s", "p99 s", "max s",
               "failed enrollments"]  # fmt: skip
    rows: Rows = [[devices["devices"], e["enrolled"], e["enrollments_per_s"], _s(e["enroll_p50_s"]),
                   _s(e["enroll_p99_s"]), _s(e["enroll_max_s"]), e["enroll_error_count"]]]  # fmt: skip
    return headers, rows


def environment_line(env: dict[str, Any]) -> str:
    """Machine, load, versions, revision and date in one sentence."""
    packages = ", ".join(f"{name} {version}" for name, version in sorted(env.get("packages", {}).items()))
    load = env.get("load_average")
    load_text = f", load average {load[0]:.1f} at the start" if load else ""
    return (f"{env.get('date', '?')} on {env.get('cpu_model', '?')} ({env.get('cores', '?')} cores{load_text}); "
            f"Python {env.get('python', '?')}, {env.get('openssl', 'OpenSSL ?')}; {packages}; "
            f"git {env.get('git_revision', '?')}")  # fmt: skip


def provision_sections(results: dict[str, Any]) -> list[tuple[str, list[str], Rows]]:
    """(title, headers, rows) of every provisioning table present in ``results``."""
    provisioning = results.get("provisioning") or {}
    out: list[tuple[str, list[str], Rows]] = []
    if bursts := provisioning.get("burst"):
        periods = bursts[0]["periods"]
        out.append((f"Burst: one device, {periods} i-periods x 20 (median of runs, seconds)", *burst_table(bursts)))
        for b in bursts:
            out.append((f"Burst {b['cert_type']}/{b['variant']}: Lambda tasks of the median run's execution",
                        *tasks_table(b)))  # fmt: skip
    if devices := provisioning.get("devices"):
        if devices.get("enrollment"):
            out.append(("Many devices enrolling at once (enrollment certificate + CCF)", *enrollment_table(devices)))
        out.append(("Many devices requesting at once", *devices_table(devices)))
    return out


def render_provision(results: dict[str, Any]) -> str:
    """The provisioning sections as plain-text tables."""
    out = []
    for title, headers, rows in provision_sections(results):
        out.append(section(title))
        out.append(table(headers, rows))
    for note in (results.get("provisioning") or {}).get("findings", []):
        out.append(f"- {note}")
    return "\n".join(out)


def _half_c_level(python_us: float | None, c_us: float | None) -> str | None:
    if not python_us or not c_us:
        return None
    return "yes" if python_us <= 2 * c_us else "no"


def scaling_line(results: dict[str, Any]) -> str | None:
    """The per-core scaling in one sentence, beside ``openssl speed -multi 2``'s own (None when not measured)."""
    scaling = results.get("scaling")
    if not scaling:
        return None
    line = (f"**Per-core scaling** ({scaling['variant']}, {scaling['certificates']:,} certificates): "
            f"{scaling['one_process_certs_per_s']:,.0f}/s in 1 process, {scaling['pool_certs_per_s']:,.0f}/s in "
            f"{scaling['workers']}, speed-up {scaling['speedup']:.2f}x")  # fmt: skip
    single, multi = results.get("openssl") or {}, results.get("openssl_multi2") or {}
    if single.get("sign_per_s") and multi.get("sign_per_s") and multi.get("error") is None:
        line += f" (`openssl speed -multi 2` ECDSA sign: {multi['sign_per_s'] / single['sign_per_s']:.2f}x)"
    return line + "."


def render_markdown(results: dict[str, Any], *, brief: bool = False) -> str:
    """``bench/results/latest.md``: provisioning, ACA and scaling; ``brief`` (the README) without the task tables."""
    out = [f"Measured {environment_line(results.get('environment', {}))}."]
    for title, headers, rows in provision_sections(results):
        if brief and "Lambda tasks" in title:
            continue
        out.extend(["", f"**{title}**", "", markdown_table(headers, rows)])
    if aca := results.get("aca"):
        # Issue #5 §7: at 50 % or more of the C-level speed, i.e. a ratio of at most 2.00x.
        rows = [[r["variant"], r["use_case"]["us_per_cert"], per_second(r["use_case"]["us_per_cert"]),
                 ratio(r["use_case"]["us_per_cert"], r["use_case"]["c_budget_us"]),
                 _half_c_level(r["use_case"]["us_per_cert"], r["use_case"]["c_budget_us"])] for r in aca]  # fmt: skip
        out.extend(["", "**ACA `issue_batch`, CPU µs per certificate (one core; ratio to the C-level budget of the "
                    "same run's `openssl speed`)**", "",
                    markdown_table(["variant", "µs/cert", "certs/s/core", "ratio", "≥ 50 % of C"], rows)])  # fmt: skip
    if line := scaling_line(results):
        out.extend(["", line])
    if findings := (results.get("provisioning") or {}).get("findings"):
        out.extend(["", *(f"- {note}" for note in findings)])
    return "\n".join(out) + "\n"
