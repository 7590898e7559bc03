"""End to end: misbehaviour report, revocation, CRLs and trust downloads through ``scms serve`` (issue #6 §5).

Two devices A and B (PSIDs 32 and 38) enroll and provision three periods of butterfly pseudonyms. A signs a
message with one of its pseudonyms (``scms-ee sign-message``); B reports it to the MA (``scms-ee report``,
signed by a PSID 38 pseudonym of B, encrypted to the MA certificate). The operator lists the reports and
revokes by the report (``scms reports``, ``scms revoke --report``); the MA walks ACA → RA → LA1/LA2 and has
the CRL generator publish. Then, from the CRLs alone (``scms-ee fetch-trust`` verifies them, ``check-revoked``
evolves the seeds), A finds every one of its current and future pseudonyms revoked and B none; A's next
requests are refused with 400-20. A third device C is revoked by its enrollment certificate
(``scms revoke --enrollment``): its HashedId10 is on the hash CRL and its requests are refused. A fourth, E,
holding a plain (non-butterfly) certificate, is revoked by its device id: that certificate's HashedId10 is on
the hash CRL (the RA names it to the ACA by its ACA request only), F's is not. CTL, CCF
and info status verify to the root (``fetch-trust``). Successor enrollment twice in a row is covered by
``tests/e2e/test_successor_e2e.py::test_successor_enrollment_twice_in_a_row_through_the_eca_task``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scms_ee.client import Client, HttpError
from scms_ee.pseudonym_files import own_pseudonyms
from scms_ee.report import REPORT_PATH, ma_certificate
from scms_ee.state import DeviceState
from scms_ee.trace import Trace

from scms_codec import time32
from scms_codec.cert.certificate import Certificate
from scms_codec.crypto.hashing import hashed_id10
from scms_codec.spdu.crl import parse_secured_crl
from scms_codec.spdu.misbehavior import build_misbehavior_report
from tests.e2e.conftest import RunningStack, start_stack
from tests.e2e.ee_helpers import REPO, Run, Stack, manage, scms_ee

CERTS_PER_PERIOD = 4
PERIODS = 3
PSIDS = ("--psid", "32", "--psid", "38")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """``scms serve`` with small batches (4 certificates per period)."""
    env = {"SCMS_CERTS_PER_PERIOD": str(CERTS_PER_PERIOD)}
    running = start_stack(tmp_path_factory.mktemp("scms-state"), "--snapshot-seconds", "0", env=env)
    try:
        yield running
    finally:
        status = running.stop()
        assert status == 0, f"scms serve exited with {status}:\n{running.output}"


@pytest.fixture(scope="module")
def stack(served: Stack) -> Stack:
    """The stack as the ``scms-ee`` helpers see it (gateway URL and management key)."""
    return served


def scms(stack: Stack, *args: str) -> Run:
    """The operator's ``scms`` command against the stack (URL and key from the environment, as documented)."""
    env = {**os.environ, "SCMS_URL": stack.url, "SCMS_API_KEY": stack.api_key}
    done = subprocess.run([sys.executable, "-m", "scms_cli.main", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=env, check=False)  # fmt: skip
    return Run(done.returncode, done.stdout, done.stderr)


def scms_local(stack: RunningStack, *args: str) -> Run:
    """``scms`` commands that talk to the stack's AWS (moto) directly, as docs/local.md says: ``scms crl ...``."""
    env = {
        **os.environ, "AWS_ENDPOINT_URL": stack.endpoint, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1", "SCMS_SECRET_PREFIX": "scms/local/",
    }  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "scms_cli.main", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=env, check=False)  # fmt: skip
    return Run(done.returncode, done.stdout, done.stderr)


def _ok(run: Run) -> Run:
    assert run.code == 0, run.out + run.err
    return run


@dataclass(frozen=True)
class Device:
    name: str
    state: Path
    first_i: int

    def enrollment(self) -> Certificate:
        return Certificate.from_bytes((self.state / "enrollment.oer").read_bytes())


def _enroll(stack: Stack, state: Path, device_id: str) -> None:
    _ok(scms_ee(stack, state, "init"))
    _ok(scms_ee(stack, state, "register", f"--api-key={stack.api_key}", "--device-id", device_id, *PSIDS))
    _ok(scms_ee(stack, state, "enroll", "--type", "explicit"))
    _ok(scms_ee(stack, state, "fetch-chain"))


def _provision(stack: Stack, state: Path, *, periods: int = PERIODS) -> int:
    run = _ok(scms_ee(stack, state, "provision", "--variant", "ubk", "--cert", "explicit", "--periods", str(periods),
                      "--workers", "1", "--wait", "120"))  # fmt: skip
    match = re.search(r"^periods ([0-9a-f]+)\.\.([0-9a-f]+)", run.out, re.MULTILINE)
    assert match, run.out
    return int(match.group(1), 16)


@pytest.fixture(scope="module")
def devices(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Device]:
    """A and B enrolled and provisioned (three periods each), C enrolled only."""
    root = tmp_path_factory.mktemp("devices")
    out = {}
    for name in ("a", "b"):
        state = root / f"obu-{name}"
        _enroll(stack, state, f"e2e-rev-{name}")
        out[name] = Device(name, state, _provision(stack, state))
    _enroll(stack, root / "obu-c", "e2e-rev-c")
    out["c"] = Device("c", root / "obu-c", 0)
    return out


@pytest.fixture(scope="module")
def evidence(devices: dict[str, Device], stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A message A signed with its pseudonym (first period, j 0): what B obstack."""
    a = devices["a"]
    path = tmp_path_factory.mktemp("air") / "message-from-a.oer"
    _ok(scms_ee(stack, a.state, "sign-message", "--period", f"{a.first_i:x}", "--j", "0", "--payload", "beef",
                "--out", str(path)))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def report_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trace-report")


@pytest.fixture(scope="module")
def report_id(devices: dict[str, Device], stack: Stack, evidence: Path, report_trace: Path) -> str:
    """B reports A's message; the MA's report id."""
    trace = report_trace
    run = _ok(scms_ee(stack, devices["b"].state, "report", "--evidence", str(evidence), trace=trace))
    match = re.search(r"^Scms-Report-Id: ([0-9a-f]{16})$", run.out, re.MULTILINE)
    assert match, run.out
    files = json.loads((trace / "trace.json").read_text(encoding="utf-8"))["files"]
    assert any(f["type"] == "MisbehaviorReportSpdu" and f["direction"] == "sent" for f in files)
    return match.group(1)


@pytest.fixture(scope="module")
def revoked(stack: Stack, served: RunningStack, report_id: str) -> str:
    """The operator lists the reports and revokes by B's report; the MA has the CRLs published (``scms crl``)."""
    listed = _ok(scms(stack, "reports"))
    assert report_id in listed.out
    _ok(scms(stack, "revoke", "--report", report_id, "--cause", "e2e: misbehaviour reported by B"))
    shown = _ok(scms_local(served, "crl", "publish"))  # the revocation published them: nothing new is due
    assert "fullLinkedCrl" in shown.out or "series" in shown.out, shown.out
    return report_id


def _check(stack: Stack, device: Device) -> dict[str, Any]:
    _ok(scms_ee(stack, device.state, "fetch-trust"))
    run = _ok(scms_ee(stack, device.state, "check-revoked", "--json"))
    document: dict[str, Any] = json.loads(run.out)
    return document


# --- the report ---------------------------------------------------------------------------------------------


def test_b_reports_a_message_signed_by_a_pseudonym_of_a_and_the_operator_sees_it(stack: Stack, report_id: str) -> None:
    # Given B's report of A's message (fixture), when the operator lists the reports, then it is there, NEW,
    listed = _ok(scms(stack, "reports", "--status", "NEW"))
    assert report_id in listed.out
    # and the management API shows the suspect certificate it names.
    stored = manage(stack, "GET", f"/manage/v1/reports/{report_id}")
    assert stored["status"] in ("NEW", "REVOKED") and report_id in json.dumps(stored)


def test_a_report_whose_evidence_signature_is_broken_is_refused_400_43(
    stack: Stack, devices: dict[str, Device], evidence: Path, tmp_path: Path
) -> None:
    # Twin of the above: the same message with one octet of its signature flipped.
    data = bytearray(evidence.read_bytes())
    data[-1] ^= 0x01
    broken = tmp_path / "broken.oer"
    broken.write_bytes(bytes(data))
    run = scms_ee(stack, devices["b"].state, "report", "--evidence", str(broken))
    assert run.code == 1 and "Ieee-1609.2.1-Error: 400-43" in run.err, run.err


def test_the_same_report_sent_again_gets_the_same_report_id(stack: Stack, report_id: str, report_trace: Path) -> None:
    # The SPDU B sent, as its trace recorded it, sent again (a retry after a timeout): one report, the same id.
    (sent,) = report_trace.glob("*-MisbehaviorReportSpdu.oer")
    answer = Client(stack.url).post_spdu_response(REPORT_PATH, sent.read_bytes())
    assert answer.status == 202 and answer.headers["scms-report-id"] == report_id
    listed = manage(stack, "GET", "/manage/v1/reports")
    assert [r["report_id"] for r in listed["reports"]].count(report_id) == 1


def _report_signed_by(stack: Stack, device: Device, evidence: Path, *, generation_time: int) -> HttpError | None:
    """A report built with the device's own code but chosen inputs (what a broken device could send)."""
    state = DeviceState(device.state)
    now = time32.now()
    signer = next(p for p in own_pseudonyms(state) if p.certificate.validity[0] <= now < p.certificate.validity[1])
    client = Client(stack.url)
    ma = ma_certificate(state, client, Trace(None), psid=32, now=now, say=lambda _line: None)
    spdu = build_misbehavior_report(evidence.read_bytes(), signer.signer(), ma, generation_time=generation_time)
    try:
        client.post_spdu_response(REPORT_PATH, spdu)
    except HttpError as exc:
        return exc
    return None


@pytest.mark.parametrize(("offset", "code"), [(-2000, "400-77"), (3600, "400-50")], ids=["too-old", "future"])
def test_a_report_out_of_time_is_refused(
    stack: Stack, devices: dict[str, Device], evidence: Path, offset: int, code: str
) -> None:
    refused = _report_signed_by(stack, devices["b"], evidence, generation_time=time32.now() + offset)
    assert refused is not None and refused.error_code == code


def test_a_report_signed_by_a_pseudonym_without_psid_38_is_refused_400_40(
    stack: Stack, evidence: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given device D, registered and provisioned for PSID 32 only (its own `report` refuses to sign with that),
    state = tmp_path_factory.mktemp("devices-d") / "obu-d"
    _ok(scms_ee(stack, state, "init"))
    _ok(scms_ee(stack, state, "register", f"--api-key={stack.api_key}", "--device-id", "e2e-rev-d", "--psid", "32"))
    _ok(scms_ee(stack, state, "enroll", "--type", "explicit"))
    first_i = _provision(stack, state, periods=1)
    local = scms_ee(stack, state, "report", "--evidence", str(evidence))
    assert local.code == 2 and "PSID 38" in local.err
    # when a report signed by one of its pseudonyms reaches the MA, then the MA refuses it.
    refused = _report_signed_by(stack, Device("d", state, first_i), evidence, generation_time=time32.now())
    assert refused is not None and refused.error_code == "400-40"


def test_revoking_an_unknown_report_is_refused(stack: Stack, revoked: str) -> None:
    run = scms(stack, "revoke", "--report", "00000000000000ff", "--cause", "e2e: no such report")
    assert run.code == 1, run.out + run.err


def test_evidence_that_is_not_a_signed_message_is_refused_by_the_device(
    stack: Stack, devices: dict[str, Device], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.oer"
    junk.write_bytes(b"\x03\x80\x02hi")
    run = scms_ee(stack, devices["b"].state, "report", "--evidence", str(junk))
    assert run.code == 1 and "not an Ieee1609Dot2Data signedData" in run.err


def test_check_revoked_before_any_crl_is_fetched_is_a_local_error(devices: dict[str, Device]) -> None:
    run = subprocess.run([sys.executable, "-m", "scms_ee.main", "--state", str(devices["c"].state), "check-revoked"],
                         capture_output=True, text=True, cwd=REPO, timeout=60, check=False)  # fmt: skip
    assert run.returncode == 2 and "fetch-trust" in run.stderr


# --- after the revocation ------------------------------------------------------------------------------------


def test_the_revoked_device_finds_every_current_and_future_pseudonym_revoked_from_the_crl_alone(
    stack: Stack, devices: dict[str, Device], revoked: str
) -> None:
    # Given A revoked through B's report, when A fetches the CRLs and checks its own pseudonyms,
    document = _check(stack, devices["a"])
    # then every pseudonym of every period (the current one and the future ones) is revoked.
    periods = document["periods"]
    assert [p["i"] for p in periods] == [devices["a"].first_i + k for k in range(PERIODS)]
    assert all(p["total"] == CERTS_PER_PERIOD and p["revoked"] == CERTS_PER_PERIOD for p in periods), periods
    assert document["pseudonyms_revoked"] == PERIODS * CERTS_PER_PERIOD


def test_the_other_device_finds_none_of_its_pseudonyms_revoked(
    stack: Stack, devices: dict[str, Device], revoked: str
) -> None:
    # Twin of the above, on the same CRLs.
    document = _check(stack, devices["b"])
    assert document["pseudonyms"] == PERIODS * CERTS_PER_PERIOD
    assert document["pseudonyms_revoked"] == 0 and document["enrollments_revoked"] == 0


def test_the_revoked_devices_next_requests_are_refused_400_20(
    stack: Stack, devices: dict[str, Device], revoked: str
) -> None:
    a = devices["a"]
    assert manage(stack, "GET", "/manage/v1/devices/e2e-rev-a")["state"] == "Revoked"
    for args in (
        ("provision", "--variant", "ubk", "--cert", "explicit", "--periods", "1", "--no-download"),
        ("download", "--wait", "5"),
        ("successor-enroll", "--wait", "5"),
    ):
        run = scms_ee(stack, a.state, *args)
        assert run.code == 1 and "Ieee-1609.2.1-Error: 400-20" in run.err, (args, run.err)


def test_the_other_device_still_provisions(stack: Stack, devices: dict[str, Device], revoked: str) -> None:
    # Twin of the above.
    run = scms_ee(stack, devices["b"].state, "provision", "--variant", "ubk", "--cert", "explicit", "--periods", "1",
                  "--no-download")  # fmt: skip
    assert run.code == 0, run.err


def test_revoking_an_enrollment_certificate_puts_its_hashedid10_on_the_hash_crl(
    stack: Stack, devices: dict[str, Device], revoked: str
) -> None:
    # Given C, enrolled, revoked by its enrollment certificate,
    c = devices["c"]
    cert = c.enrollment()
    _ok(scms(stack, "revoke", "--enrollment", cert.hashed_id8.hex(), "--cause", "e2e: enrollment key compromised"))
    # when C fetches the CRLs, then the hash CRL lists its enrollment certificate (HashedId10),
    document = _check(stack, c)
    assert document["enrollments"] == [{"hashed_id8": cert.hashed_id8.hex(), "current": True, "revoked": True}]
    listed: set[bytes] = set()
    for path in (c.state / "trust" / "crl").glob("*.oer"):
        contents = parse_secured_crl(path.read_bytes()).content
        if contents.type_specific[0] == "fullHashCrl":
            listed.update(bytes(e["id"]) for e in contents.type_specific[1]["entries"])
    assert hashed_id10(cert.encoded) in listed
    # and its requests are refused.
    run = scms_ee(stack, c.state, "provision", "--variant", "ubk", "--cert", "explicit", "--periods", "1",
                  "--no-download")  # fmt: skip
    assert run.code == 1 and "Ieee-1609.2.1-Error: 400-20" in run.err, run.err


def test_revoking_by_report_also_lists_the_revoked_devices_enrollment_certificate(
    stack: Stack, devices: dict[str, Device], revoked: str
) -> None:
    document = _check(stack, devices["a"])
    assert [e["revoked"] for e in document["enrollments"]] == [True]


# --- trust downloads ---------------------------------------------------------------------------------------


def test_ctl_ccf_crls_and_info_status_verify_to_the_root_and_an_unchanged_status_fetches_nothing(
    stack: Stack, devices: dict[str, Device], revoked: str, tmp_path: Path
) -> None:
    b = devices["b"]
    trace = tmp_path / "trace"
    first = _ok(scms_ee(stack, b.state, "fetch-trust", trace=trace))
    trust = json.loads((b.state / "state.json").read_text(encoding="utf-8"))["trust"]
    assert trust["info_status"]["filename"].startswith("scms-management-infostatus_")
    assert trust["ctl"]["sequence_number"] >= 1 and trust["crls"], trust
    again = _ok(scms_ee(stack, b.state, "fetch-trust"))
    assert "unchanged (304 Not Modified)" in again.out and "verified and stored" not in again.out, first.out


def test_a_new_ctl_signed_by_the_electors_is_verified_and_stored(
    stack: Stack, served: RunningStack, devices: dict[str, Device], revoked: str
) -> None:
    # Given the operator issues CTL #2 (same root and electors, quorum 1), signed by CTL #1's electors,
    b = devices["b"]
    _ok(scms_ee(stack, b.state, "fetch-trust"))
    before = json.loads((b.state / "state.json").read_text(encoding="utf-8"))["trust"]["ctl"]["sequence_number"]
    _ok(scms_local(served, "ctl", "quorum", "1"))
    # when the device fetches its trust artefacts, then the info status says so and CTL #2 is verified.
    run = _ok(scms_ee(stack, b.state, "fetch-trust"))
    after = json.loads((b.state / "state.json").read_text(encoding="utf-8"))["trust"]["ctl"]["sequence_number"]
    assert after == before + 1, run.out
    assert f"CTL sequence number(s) verified: {after}" in run.out


# --- a device's non-butterfly certificates (hash CRL) when it is revoked by its id -------------------------


def _plain_certificates(state: Path) -> list[Certificate]:
    return [Certificate.from_bytes(p.read_bytes()) for p in sorted((state / "pseudonyms").glob("*/*/*.oer"))]


def _hash_crl_ids(state: Path) -> set[bytes]:
    listed: set[bytes] = set()
    for path in (state / "trust" / "crl").glob("*.oer"):
        contents = parse_secured_crl(path.read_bytes()).content
        if contents.type_specific[0] == "fullHashCrl":
            listed.update(bytes(e["id"]) for e in contents.type_specific[1]["entries"])
    return listed


def test_revoking_a_device_by_id_puts_its_non_butterfly_certificate_on_the_hash_crl(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given E and F, each enrolled and holding one plain (non-butterfly) authorization certificate,
    root = tmp_path_factory.mktemp("plain-devices")
    held = {}
    for name in ("e", "f"):
        state = root / f"obu-{name}"
        _enroll(stack, state, f"e2e-rev-{name}")
        _ok(scms_ee(stack, state, "provision", "--variant", "plain", "--cert", "explicit", "--periods", "1",
                    "--workers", "1", "--wait", "120"))  # fmt: skip
        [held[name]] = _plain_certificates(state)
        assert held[name].tbs["id"][0] != "linkageData"
    # When the operator revokes E by its device id (the RA never sees E's certificate),
    _ok(scms(stack, "revoke", "--device", "e2e-rev-e", "--cause", "e2e: device stolen"))
    # Then the hash CRL F fetches lists E's plain certificate (HashedId10) and its enrollment certificate,
    f = root / "obu-f"
    _ok(scms_ee(stack, f, "fetch-trust"))
    listed = _hash_crl_ids(f)
    e_enrollment = Certificate.from_bytes((root / "obu-e" / "enrollment.oer").read_bytes())
    assert {hashed_id10(held["e"].encoded), hashed_id10(e_enrollment.encoded)} <= listed
    # and (twin) not F's own plain certificate.
    assert hashed_id10(held["f"].encoded) not in listed
