"""The pure parts of the provisioning benchmark (bench/provision.py, local_stack.py, record.py, report.py).

No timing is asserted anywhere: the figures are made up, the code that summarises them is what is tested.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scms_ee.client import Response
from scms_service.iperiod import IPeriods

from bench import local_stack, provision, record, report

# --- percentile ---------------------------------------------------------------------------------


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert provision.percentile(values, 50) == pytest.approx(2.5)
    assert provision.percentile(values, 0) == 1.0
    assert provision.percentile(values, 100) == 4.0
    assert provision.percentile(list(map(float, range(1, 101))), 99) == pytest.approx(99.01)


def test_percentile_of_nothing_or_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        provision.percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        provision.percentile([1.0], 101)


# --- the execution history ------------------------------------------------------------------------

T0 = datetime(2026, 11, 25, 18, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0.timestamp() + seconds, tz=UTC)


def lambda_task(first_id: int, resource: str, payload: dict[str, Any], start: float, end: float,
                outcome: str = "LambdaFunctionSucceeded") -> list[dict[str, Any]]:  # fmt: skip
    """Scheduled → Started → outcome, chained by previousEventId as Step Functions writes them."""
    return [
        {"id": first_id, "previousEventId": first_id - 1, "type": "LambdaFunctionScheduled", "timestamp": at(start),
         "lambdaFunctionScheduledEventDetails": {"resource": resource, "input": json.dumps(payload)}},
        {"id": first_id + 1, "previousEventId": first_id, "type": "LambdaFunctionStarted", "timestamp": at(start)},
        {"id": first_id + 2, "previousEventId": first_id + 1, "type": outcome, "timestamp": at(end)},
    ]  # fmt: skip


RA = "arn:aws:lambda:us-east-1:123456789012:function:RaBatchFunction"
ACA = "arn:aws:lambda:us-east-1:123456789012:function:AcaFunction"


def test_task_breakdown_sums_each_function_and_ra_task_and_sorts_by_time() -> None:
    events = [
        *lambda_task(10, RA, {"task": "draw", "lane": 0}, 0.0, 0.5),
        *lambda_task(20, RA, {"task": "draw", "lane": 1}, 0.2, 1.2),
        *lambda_task(30, ACA, {"requests": ["x"]}, 1.0, 4.0),
        *lambda_task(40, RA, {"task": "deliver"}, 4.0, 4.25, outcome="LambdaFunctionFailed"),
    ]

    tasks = provision.task_breakdown(events)

    assert list(tasks) == ["AcaFunction", "RaBatchFunction:draw", "RaBatchFunction:deliver"]
    draw = tasks["RaBatchFunction:draw"]
    assert draw["count"] == 2
    assert draw["seconds"] == pytest.approx(1.5)
    assert draw["max"] == pytest.approx(1.0)
    assert draw["span"] == pytest.approx(1.2)
    assert tasks["RaBatchFunction:deliver"]["count"] == 1


def test_task_breakdown_ignores_an_outcome_not_chained_to_a_schedule() -> None:
    broken = lambda_task(10, RA, {"task": "draw"}, 0.0, 0.5)
    broken[1]["previousEventId"] = 99  # Started points nowhere
    unfinished = lambda_task(20, ACA, {}, 0.0, 1.0)[:2]  # still running: no outcome

    assert provision.task_breakdown([*broken, *unfinished]) == {}


def test_rounds_counts_finish_states() -> None:
    events = [
        {"id": 1, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Finish"}},
        {"id": 2, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Draw"}},
        {"id": 3, "type": "TaskStateExited", "stateExitedEventDetails": {"name": "Finish"}},
        {"id": 4, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Finish"}},
    ]
    assert provision.rounds_of(events) == 2
    assert provision.rounds_of(events[1:3]) == 0


# --- the device's HTTP calls ----------------------------------------------------------------------


def test_recording_transport_times_every_call_and_finds_the_post() -> None:
    def fake(method: str, url: str, headers: Any, body: bytes | None, timeout: float) -> Response:
        return Response(202 if method == "POST" else 404, {}, b"")

    transport = provision.RecordingTransport(inner=fake)
    transport("GET", "http://x/v3/ccf-ctl", {}, None, 1.0)
    transport("POST", "http://x/v3/authorization-certificate", {}, b"spdu", 1.0)
    transport("GET", "http://x/v3/authorization-certificate?filename=a", {}, None, 1.0)

    post = transport.first_post()
    assert post.status == 202 and post.url.endswith("/v3/authorization-certificate")
    assert post.start <= post.end
    assert [c.status for c in transport.gets()] == [404, 404]


def test_recording_transport_without_a_post_says_so() -> None:
    transport = provision.RecordingTransport(inner=lambda *_a: Response(200, {}, b""))
    transport("GET", "http://x/", {}, None, 1.0)
    with pytest.raises(StopIteration):
        transport.first_post()


def test_next_period_start_is_the_following_boundary() -> None:
    schedule = IPeriods(length=100, epoch=1000, init=0, overlap=10, certs_per_period=20)
    assert provision.next_period_start(schedule, 1050) == 1100
    assert provision.next_period_start(schedule, 1100) == 1200  # on a boundary: that period is the current one
    assert provision.next_period_start(schedule, 1099) != 1099


# --- /proc parsing ---------------------------------------------------------------------------------


def test_rss_and_parent_pid_from_proc_texts() -> None:
    status = "Name:\tpython\nVmPeak:\t  900 kB\nVmRSS:\t  51234 kB\nThreads:\t4\n"
    assert local_stack.parse_rss_kib(status) == 51234
    assert local_stack.parse_rss_kib("Name:\tzombie\nState:\tZ\n") == 0
    # The command name may hold spaces and a ")": the ppid is the second field after the last ")".
    assert local_stack.parse_ppid("4242 (py thon) (x)) S 17 4242 4242 0 -1") == 17
    assert local_stack.parse_ppid("4242 (python) S 1 4242") != 4242


def test_cpu_ticks_are_user_plus_system_time_from_a_proc_stat_line() -> None:
    # proc(5): pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    line = "77 (scms (serve)) R 1 77 77 0 -1 4194560 900 0 3 0 1234 56 7 8 20 0 5 0"
    assert local_stack.parse_cpu_ticks(line) == 1234 + 56
    assert local_stack.parse_cpu_ticks(line) != 7 + 8  # the children's cutime/cstime are not the process's


def test_cpu_meter_counts_this_process_and_the_tree() -> None:
    with local_stack.CpuMeter(os.getpid()) as meter:
        deadline = time.process_time() + 0.05
        while time.process_time() < deadline:
            pass
    assert meter.figures["stack_main_s"] >= 0.04  # the root of the tree is this process here
    assert meter.figures["device_s"] >= 0.04
    assert meter.figures["wall_s"] >= 0.04


def test_process_tree_takes_descendants_only() -> None:
    parents = {1: 0, 10: 1, 11: 10, 12: 10, 13: 11, 20: 1, 21: 20}
    assert sorted(local_stack.process_tree(10, parents)) == [10, 11, 12, 13]
    assert 20 not in local_stack.process_tree(10, parents)
    assert local_stack.process_tree(99, parents) == [99]


# --- environment, tables, results files ---------------------------------------------------------------


def test_cpu_model_from_cpuinfo() -> None:
    cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n"
    assert record.cpu_model(cpuinfo) == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    assert record.cpu_model("processor\t: 0\nmodel name\t:\n") != ""  # empty value: falls back, never blank


def test_replace_section_rewrites_only_between_the_markers() -> None:
    text = f"# T\n\n## Performance\n{record.README_START}\nold\n{record.README_END}\n\n## After\nkept\n"
    out = record.replace_section(text, "new table\n")
    assert "old" not in out and "new table" in out
    assert out.startswith("# T\n\n## Performance\n") and out.endswith(f"{record.README_END}\n\n## After\nkept\n")
    with pytest.raises(ValueError, match="markers"):
        record.replace_section("# no markers\n", "x")


def test_markdown_table_aligns_and_escapes() -> None:
    table = report.markdown_table(["a", "b"], [["x|y", 1234.5], ["z", None]])
    assert table.splitlines() == ["| a | b |", "|:---|---:|", "| x\\|y | 1,234 |", "| z | n/a |"]


def burst_result(total: float, verified: int = 200) -> dict[str, Any]:
    run = {"total_s": total, "ack_s": 0.1, "execution_s": total - 1, "start_delay_s": 0.05, "tail_s": 0.5,
           "download_verify_s": total - 0.1, "verified": verified,
           "tasks": {"AcaFunction": {"count": 3.0, "seconds": 2.0, "max": 1.0, "span": 2.5}}}  # fmt: skip
    return {"variant": "cubk", "cert_type": "explicit", "periods": 10, "certificates_expected": 200, "runs": [run],
            "median": {k: run[k] for k in ("total_s", "ack_s", "execution_s", "start_delay_s", "tail_s",
                                           "download_verify_s")}, "peak_rss_mib": 500.0}  # fmt: skip


DEVICES = {"devices": 5, "periods_per_device": 1, "variant": "cubk", "cert_type": "explicit",
           "certificates_expected": 100, "certificates_verified": 100, "certs_per_s": 9.5, "latency_p50_s": 10.0,
           "latency_p99_s": 10.5, "ack_p50_s": 0.7, "peak_rss_mib": 549.0, "error_count": 0, "errors": []}  # fmt: skip


def test_findings_compare_the_burst_with_its_target_and_name_missing_certificates() -> None:
    slow = provision.findings({"burst": [burst_result(8.0, verified=180)], "devices": DEVICES})
    assert "misses the 3 s target" in slow[0]
    assert any("AcaFunction 2.0 s over 3" in f for f in slow)
    assert any("missing 20" in f for f in slow)

    fast = provision.findings({"burst": [burst_result(2.0)], "devices": {**DEVICES, "error_count": 0}})
    assert "meets the 3 s target" in fast[0]
    assert not any("missing" in f for f in fast)


def test_write_results_writes_json_markdown_and_the_readme_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# X\n{record.README_START}\nold\n{record.README_END}\n", encoding="utf-8")
    results = {
        "environment": {"date": "2026-11-25T18:00:00Z", "cpu_model": "CPU", "cores": 2},
        "provisioning": {"burst": [burst_result(8.0)], "devices": DEVICES, "findings": ["a finding"]},
    }

    written = record.write_results(results, quick=False, directory=tmp_path / "results", readme=readme)

    assert [p.name for p in written] == ["latest.json", "latest.md", "README.md"]
    assert json.loads((tmp_path / "results" / "latest.json").read_text())["provisioning"]["devices"]["devices"] == 5
    markdown = (tmp_path / "results" / "latest.md").read_text()
    assert "2026-11-25T18:00:00Z on CPU (2 cores" in markdown
    assert "| explicit/cubk, 10 periods | 200 / 200 | 8.00 |" in markdown
    assert "| 5 x 1 (explicit/cubk) | 100 / 100 | 9.50 | 10.00 | 10.50 |" in markdown
    assert "- a finding" in markdown
    assert "old" not in readme.read_text() and "10 periods" in readme.read_text()


def test_a_quick_run_leaves_latest_and_the_readme_alone(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    before = f"# X\n{record.README_START}\nold\n{record.README_END}\n"
    readme.write_text(before, encoding="utf-8")

    results = {"provisioning": {"devices": DEVICES}}
    written = record.write_results(results, quick=True, directory=tmp_path, readme=readme)

    assert [p.name for p in written] == ["quick.json", "quick.md"]
    assert not (tmp_path / "latest.json").exists()
    assert readme.read_text() == before


ACA_ROW = {"variant": "explicit/compact-unified", "use_case": {"us_per_cert": 364.4, "c_budget_us": 168.7}}
SLOW_ROW = {"variant": "implicit/original", "use_case": {"us_per_cert": 400.0, "c_budget_us": 150.0}}
# Both rows miss the criterion on purpose; test_the_aca_criterion_is_yes_at_twice_the_c_budget_or_less has the twin.
SCALING = {"variant": "explicit/compact-unified", "certificates": 3120, "workers": 2, "speedup": 1.9755,
           "one_process_certs_per_s": 3129.5, "pool_certs_per_s": 6182.4}  # fmt: skip


def test_the_readme_gets_the_headline_tables_and_latest_md_everything() -> None:
    results = {"provisioning": {"burst": [burst_result(8.0)], "devices": DEVICES}, "aca": [ACA_ROW, SLOW_ROW],
               "scaling": SCALING, "openssl": {"sign_per_s": 50_000.0}, "openssl_multi2": {"sign_per_s": 98_000.0,
               "error": None}}  # fmt: skip

    full = report.render_markdown(results)
    brief = report.render_markdown(results, brief=True)

    assert "Lambda tasks" in full and "Lambda tasks" not in brief
    for text in (full, brief):
        assert "Burst: one device" in text and "Many devices" in text
        # The ACA criterion (issue #5 §7: at most 2.00x the C budget) is judged per variant: a twin that misses it.
        assert "| explicit/compact-unified | 364.4 | 2,744 | 2.16x | no |" in text
        assert "| implicit/original | 400.0 | 2,500 | 2.67x | no |" in text
        assert "speed-up 1.98x (`openssl speed -multi 2` ECDSA sign: 1.96x)" in text


def test_the_aca_criterion_is_yes_at_twice_the_c_budget_or_less() -> None:
    within = {"aca": [{"variant": "v", "use_case": {"us_per_cert": 300.0, "c_budget_us": 150.0}}]}
    beyond = {"aca": [{"variant": "v", "use_case": {"us_per_cert": 300.1, "c_budget_us": 150.0}}]}
    assert "| v | 300.0 | 3,333 | 2.00x | yes |" in report.render_markdown(within)
    assert "| no |" in report.render_markdown(beyond)
    assert report.scaling_line({}) is None


def test_render_saved_rewrites_markdown_and_readme_from_the_json(tmp_path: Path) -> None:
    saved = tmp_path / "latest.json"
    saved.write_text(json.dumps({"provisioning": {"devices": DEVICES}}), encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(f"{record.README_START}\nold\n{record.README_END}\n", encoding="utf-8")

    written = record.render_saved(saved, directory=tmp_path, readme=readme)

    assert [p.name for p in written] == ["latest.json", "latest.md", "README.md"]
    assert "100 / 100" in readme.read_text() and "old" not in readme.read_text()
    with pytest.raises(FileNotFoundError):
        record.render_saved(tmp_path / "missing.json", directory=tmp_path, readme=readme)


# --- the stack profiler's summary (bench/stack_profile/sitecustomize.py, imported by path) ------------


def load_profiler() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_stack_profile", provision.PROFILER / "sitecustomize.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # SCMS_BENCH_PROFILE_OUT is not set here: nothing is installed
    return module


def test_profile_categories_name_the_package_or_stdlib_module() -> None:
    profiler = load_profiler()
    site = "/v/lib/python3.11/site-packages"
    assert profiler.category(f"{site}/moto/dynamodb/models/dynamo_type.py") == "moto.dynamodb"
    assert profiler.category(f"{site}/werkzeug/serving.py") == "werkzeug"
    assert profiler.category("/srv/checkout/functions/ra/scms_ra/download.py") == "scms_ra"
    assert profiler.category("~") == "builtins (C functions)"
    assert profiler.category(f"{profiler._STDLIB}/json/decoder.py") == "stdlib:json"
    assert profiler.category(f"{site}/moto/core/responses.py") != "moto.dynamodb"


def test_profile_summary_adds_tottime_by_category() -> None:
    profiler = load_profiler()

    fake_stats = SimpleNamespace(
        stats={
            ("/x/site-packages/moto/dynamodb/a.py", 1, "f"): (1, 10, 3.0, 3.0, {}),
            ("/x/site-packages/moto/dynamodb/b.py", 2, "g"): (1, 5, 1.0, 4.0, {}),
            ("~", 0, "<built-in method len>"): (1, 99, 1.0, 1.0, {}),
        }
    )

    text = profiler.summarise(fake_stats)
    assert "5.0" in text.splitlines()[0]
    assert "4.00 s   80.0 %  moto.dynamodb" in text
    assert "1.00 s   20.0 %  builtins (C functions)" in text
    functions = text.split("functions by tottime:")[1].strip().splitlines()
    assert "  f  (moto.dynamodb:a.py:1)" in functions[0]
    assert "  g  " not in functions[0]


def test_the_burst_table_gives_median_cpu_per_part_and_nothing_for_runs_without_it() -> None:
    run = {"verified": 3120, "total_s": 10.0}
    cpu = [{"stack_main_s": m, "stack_workers_s": 5.0, "device_s": 2.0} for m in (8.0, 9.0, 20.0)]
    burst = {"cert_type": "explicit", "variant": "cubk", "periods": 156, "certificates_expected": 3120,
             "median": {k: 1.0 for k in ("total_s", "ack_s", "execution_s", "download_verify_s", "tail_s")},
             "runs": [{**run, "cpu": c} for c in cpu], "peak_rss_mib": 500.0}  # fmt: skip
    headers, rows = report.burst_table([burst])
    assert rows[0][headers.index("CPU s: stack main / workers / device")] == "9.0 / 5.0 / 2.0"  # medians
    older = {**burst, "runs": [run]}  # a results file from before the CPU meter
    assert report.burst_table([older])[1][0][headers.index("CPU s: stack main / workers / device")] is None
