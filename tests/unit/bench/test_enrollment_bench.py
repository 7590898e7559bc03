"""The enrollment figures of the many-devices run (bench/provision.py, bench/report.py): pure parts."""

from __future__ import annotations

import pytest

from bench import provision, report


def test_enrollment_figures_are_rate_over_the_whole_and_percentiles_of_each() -> None:
    runs = [provision.Enrollment(100.0, 101.0), provision.Enrollment(100.5, 103.5), provision.Enrollment(101.0, 102.0)]
    figures = provision.enrollment_figures(runs, errors=1)
    assert figures["enrolled"] == 3 and figures["enroll_error_count"] == 1
    assert figures["enroll_wall_s"] == pytest.approx(3.5)  # first start 100.0 -> last end 103.5
    assert figures["enrollments_per_s"] == pytest.approx(3 / 3.5)
    assert figures["enroll_p50_s"] == pytest.approx(1.0) and figures["enroll_max_s"] == pytest.approx(3.0)
    assert figures["enroll_p99_s"] == pytest.approx(provision.percentile([1.0, 3.0, 1.0], 99))
    # Twin: no enrollment at all gives no rate and no percentiles, and counts the failures.
    empty = provision.enrollment_figures([], errors=2)
    assert empty["enrollments_per_s"] is None and empty["enroll_p50_s"] is None and empty["enroll_error_count"] == 2


DEVICES = {"devices": 4, "periods_per_device": 1, "variant": "cubk", "cert_type": "explicit", "completed": 4,
           "errors": [], "error_count": 0, "certificates_expected": 80, "certificates_verified": 80, "wall_s": 8.0,
           "certs_per_s": 10.0, "latency_p50_s": 5.0, "latency_p99_s": 7.0, "latency_max_s": 7.0, "ack_p50_s": 1.0,
           "ack_p99_s": 1.5, "gets": 8, "peak_rss_mib": 300.0}  # fmt: skip


def test_the_report_has_an_enrollment_table_when_the_run_measured_one() -> None:
    enrollment = provision.enrollment_figures([provision.Enrollment(0.0, 2.0), provision.Enrollment(0.0, 4.0)], 0)
    titles = [
        t for t, _, _ in report.provision_sections({"provisioning": {"devices": {**DEVICES, "enrollment": enrollment}}})
    ]
    assert titles == [
        "Many devices enrolling at once (enrollment certificate + CCF)",
        "Many devices requesting at once",
    ]
    _headers, rows = report.enrollment_table({**DEVICES, "enrollment": enrollment})
    assert rows[0][0] == 4 and rows[0][1] == 2 and rows[0][2] == pytest.approx(0.5)
    # Twin: results saved before enrollment was measured (no "enrollment") render the provisioning table only.
    old = [t for t, _, _ in report.provision_sections({"provisioning": {"devices": DEVICES}})]
    assert old == ["Many devices requesting at once"]
