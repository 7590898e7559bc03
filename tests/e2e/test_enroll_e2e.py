"""End to end: the real ``scms-ee`` over HTTP against the local stack started as ``make serve`` does (issue #4 §7).

Every positive path has its refusal: re-enrollment, an unregistered device (400-21) and a blocked one (400-20).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scms_codec.cert.certificate import Certificate
from scms_codec.inspect import detect
from tests.e2e.ee_helpers import Stack, canonical_id, manage, scms_ee


@pytest.fixture
def stack(local_stack: Stack) -> Stack:
    """The local stack of tests/e2e/conftest.py, started as `make serve` does, over real HTTP."""
    return local_stack


def registered_device(stack: Stack, state: Path, device_id: str) -> str:
    init = scms_ee(stack, state, "init")
    assert init.code == 0, init.err
    reg = scms_ee(stack, state, "register", f"--api-key={stack.api_key}", "--device-id", device_id, "--psid", "32")
    assert reg.code == 0, reg.err
    return canonical_id(init)


def test_explicit_enrollment_end_to_end_with_trace(stack: Stack, tmp_path: Path) -> None:
    # Given a device that made its keys and registered itself
    state, trace = tmp_path / "obu-1", tmp_path / "trace"
    cid = registered_device(stack, state, "e2e-explicit")

    # When it enrolls for an explicit certificate
    run = scms_ee(stack, state, "enroll", "--type", "explicit", trace=trace)

    # Then it verified and stored the certificate, the RA records it Enrolled, and the trace is complete
    assert run.code == 0, run.err
    assert "trusted on first use" in run.out
    cert = Certificate.from_bytes((state / "enrollment.oer").read_bytes())
    assert not cert.is_implicit
    device = manage(stack, "GET", "/manage/v1/devices/e2e-explicit")
    assert device["state"] == "Enrolled" and device["canonical_id"] == cid
    show = scms_ee(stack, state, "show")
    assert show.code == 0 and cert.hashed_id8.hex() in show.out
    index = json.loads((trace / "trace.json").read_text())["files"]
    assert [e["file"] for e in index if e["kind"] == "message"] == [
        "001-EeEcaCertRequestSpdu.oer",
        "002-EcaEeCertResponseSpdu.oer",
    ]
    assert f"certs/enrollment-{cert.hashed_id8.hex()}.oer" in {e["file"] for e in index}
    for entry in index:
        detect((trace / entry["file"]).read_bytes())


def test_implicit_enrollment_end_to_end(stack: Stack, tmp_path: Path) -> None:
    state = tmp_path / "obu-2"
    registered_device(stack, state, "e2e-implicit")

    run = scms_ee(stack, state, "enroll", "--type", "implicit")

    assert run.code == 0, run.err
    assert Certificate.from_bytes((state / "enrollment.oer").read_bytes()).is_implicit


def test_reenrollment_is_refused_with_400_and_its_header(stack: Stack, tmp_path: Path) -> None:
    state = tmp_path / "obu-3"
    registered_device(stack, state, "e2e-again")
    assert scms_ee(stack, state, "enroll").code == 0
    first = (state / "enrollment.oer").read_bytes()

    again = scms_ee(stack, state, "enroll")

    assert again.code == 1
    assert "HTTP 400" in again.err and "Ieee-1609.2.1-Error: 400-" in again.err
    assert (state / "enrollment.oer").read_bytes() == first


def test_unregistered_device_is_refused_400_21(stack: Stack, tmp_path: Path) -> None:
    state = tmp_path / "stranger"
    assert scms_ee(stack, state, "init").code == 0

    run = scms_ee(stack, state, "enroll")

    assert run.code == 1
    assert "HTTP 400" in run.err and "Ieee-1609.2.1-Error: 400-21" in run.err
    assert not (state / "enrollment.oer").exists()


def test_blocked_device_is_refused_400_20(stack: Stack, tmp_path: Path) -> None:
    state = tmp_path / "obu-blocked"
    registered_device(stack, state, "e2e-blocked")
    manage(stack, "POST", "/manage/v1/devices/e2e-blocked/block", {"cause": "e2e test"})

    run = scms_ee(stack, state, "enroll")

    assert run.code == 1
    assert "HTTP 400" in run.err and "Ieee-1609.2.1-Error: 400-20" in run.err
    assert manage(stack, "GET", "/manage/v1/devices/e2e-blocked")["state"] == "Blocked"
