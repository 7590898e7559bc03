"""scms-ee successor-enroll against a fake RA running the real RA and ECA use cases (``tests.unit.ra.test_successor``).

The transport answers ``POST /v3/successor-enrollment-certificate`` with ``successor_enroll`` and the
``GET`` with ``successor_download`` (after ``not_ready`` 404s with ``Retry-After: 0``); a refusal is a
400 with the Table 8 code, as the RA app sends it.
"""

from __future__ import annotations

import json
import stat
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from scms_ee.client import ERROR_HEADER, Client, HttpError, Response
from scms_ee.enroll import VerificationFailed
from scms_ee.fetch_chain import certificate_role
from scms_ee.main import EXIT_OK, EXIT_REFUSED, main
from scms_ee.state import DeviceState
from scms_ee.successor import successor_enroll
from scms_ee.trace import Trace
from scms_service.errors import BadRequest
from scms_service.hierarchy import Hierarchy
from scms_service.lifecycle import DeviceState as Lifecycle

from scms_codec import time32
from scms_codec.cert.certificate import Certificate
from scms_codec.errors import ErrorCode
from scms_codec.spdu import RaEeCertInfo, build_ra_ee_enrollment_cert_ack
from tests.unit.ra.test_successor import NOW, World, make_world
from tests.unit.ra.test_successor import hierarchy as hierarchy  # the module-scoped fixture

PATH = "/v3/successor-enrollment-certificate"


@dataclass
class FakeRa:
    """The RA's successor routes over a ``Transport`` (module docstring)."""

    world: World
    clock: Callable[[], int]
    not_ready: int = 1
    gets: int = 0
    mutate_ack: Callable[[bytes], bytes] | None = None
    mutate_file: Callable[[bytes], bytes] | None = None

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Response:
        split = urllib.parse.urlsplit(url)
        try:
            if method == "POST" and split.path == PATH:
                assert body is not None
                ack = self.world.enroll(body, now=self.clock())
                return Response(202, {}, ack if self.mutate_ack is None else self.mutate_ack(ack))
            if method == "GET" and split.path == PATH:
                self.gets += 1
                if self.gets <= self.not_ready:
                    return Response(404, {"retry-after": "0"}, b"")
                filename = dict(urllib.parse.parse_qsl(split.query)).get("filename")
                data = self.world.download(headers["Ieee-1609.2.1-Authorization"], filename, now=self.clock())
                return Response(200, {}, data if self.mutate_file is None else self.mutate_file(data))
        except BadRequest as exc:
            assert exc.code is not None
            return Response(400, {ERROR_HEADER.lower(): exc.code.value}, exc.message.encode())
        return Response(404, {}, b"no route")


def device_state(world: World, root: Path) -> DeviceState:
    """A state directory as init, register, enroll and fetch-chain leave it."""
    state = DeviceState(root)
    state.ensure()
    ca = world.hierarchy
    state.save_canonical_key(world.holder.ee.canonical)
    state.save_enrollment_key(world.holder.ee.enrollment)
    chain = (ca.certificate("eca"), ca.certificate("ica"), ca.certificate("root"))
    state.save_enrollment(world.holder.certificate, chain)
    state.save_root(ca.certificate("root"))
    others = [ca.certificate(role) for role in ("ica", "eca", "ra")]
    (root / "ccf").mkdir(mode=0o700)
    for cert in others:
        (root / "ccf" / f"{cert.hashed_id8.hex()}.oer").write_bytes(cert.encoded)
    state.update_json(
        permissions=[{"psid": 32}],
        enrollment={"type": "explicit", "hashed_id8": world.holder.certificate.hashed_id8.hex()},
        ccf={"certificates": [{"hashed_id8": c.hashed_id8.hex(), "role": certificate_role(c)} for c in others]},
    )
    return state


@pytest.fixture
def world(hierarchy: Hierarchy) -> World:
    return make_world(hierarchy)


def _run(state: DeviceState, ra: FakeRa, trace: Trace | None = None, *, at: int = NOW) -> Any:
    sleeps: list[float] = []
    result = successor_enroll(state, Client("http://scms", transport=ra), trace or Trace(None), now=at,
                              clock=lambda: 0.0, sleep=sleeps.append)  # fmt: skip
    return result, sleeps


def _current(state: DeviceState) -> Certificate:
    cert = state.enrollment_certificate()
    assert cert is not None
    return cert


def test_successor_enroll_twice_in_a_row_keeps_the_old_certificates(world: World, tmp_path: Path) -> None:
    # Given an enrolled device and an RA that makes the file wait one poll
    state = device_state(world, tmp_path / "obu")
    first = _current(state)
    trace = Trace(tmp_path / "trace")
    ra = FakeRa(world, clock=lambda: NOW)
    # When it successor-enrolls, then again with the new certificate
    one, sleeps = _run(state, ra, trace)
    ra.gets, ra.clock = 0, lambda: NOW + 1
    two, _ = _run(state, ra, trace, at=NOW + 1)
    # Then each time the new certificate (with our new key) became current, the old one kept with its key
    second = one.enrollment.certificate
    assert one.previous.hashed_id8 == first.hashed_id8 and two.previous.hashed_id8 == second.hashed_id8
    assert _current(state).hashed_id8 == two.enrollment.certificate.hashed_id8
    assert state.enrollment_key().public_key() == two.enrollment.certificate.public_key()
    saved = state.load_json()
    assert [p["hashed_id8"] for p in saved["previous_enrollments"]] == [first.hashed_id8.hex(), second.hashed_id8.hex()]
    assert saved["enrollment"]["successor_of"] == second.hashed_id8.hex()
    key_file = tmp_path / "obu" / "previous" / f"{first.hashed_id8.hex()}.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and sleeps == [0.05]
    # and the RA links all three to the device, which is Successor Enrolled.
    device = world.device()
    assert device.state is Lifecycle.SUCCESSOR_ENROLLED and len(device.enrollments) == 3
    kinds = [e["type"] for e in json.loads((tmp_path / "trace" / "trace.json").read_text())["files"]
             if e["kind"] == "message"]  # fmt: skip
    assert kinds[:4] == ["EeRaSuccessorEnrollmentCertRequestSpdu", "RaEeEnrollmentCertAckSpdu",
                         "EeRaDownloadRequestSpdu", "EeRaDownloadRequestSpdu"]  # fmt: skip
    assert kinds[4] == "EcaEeCertResponseSpdu"


def test_an_ack_of_another_request_changes_nothing(world: World, tmp_path: Path) -> None:
    state = device_state(world, tmp_path / "obu")
    before = _current(state)
    other = build_ra_ee_enrollment_cert_ack(RaEeCertInfo(NOW, 0, b"\x00" * 8, NOW), world.hierarchy.signer("ra"))
    with pytest.raises(VerificationFailed, match="ack names request"):
        _run(state, FakeRa(world, clock=lambda: NOW, mutate_ack=lambda _ack: other))
    assert _current(state).hashed_id8 == before.hashed_id8
    assert "previous_enrollments" not in state.load_json()


def test_a_tampered_certificate_file_changes_nothing(world: World, tmp_path: Path) -> None:
    state = device_state(world, tmp_path / "obu")
    before = _current(state)

    def flip(data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1])

    with pytest.raises(VerificationFailed):
        _run(state, FakeRa(world, clock=lambda: NOW, mutate_file=flip))
    assert _current(state).hashed_id8 == before.hashed_id8
    # The new key is kept for the request in flight (0600), not lost and not current.
    (pending,) = (tmp_path / "obu" / "successor").iterdir()
    assert stat.S_IMODE((pending / "key.pem").stat().st_mode) == 0o600


def test_a_refusal_is_reported_and_changes_nothing(world: World, tmp_path: Path) -> None:
    state = device_state(world, tmp_path / "obu")
    before = _current(state)
    device = world.device()
    world.devices.transition(device.device_id, Lifecycle.BLOCKED, expected=device.state, cause="t", actor="t",
                             now_unix=1)  # fmt: skip
    with pytest.raises(HttpError) as info:
        _run(state, FakeRa(world, clock=lambda: NOW))
    assert info.value.error_code == ErrorCode.ENROLLMENT_CERT_BLOCKED.value
    assert _current(state).hashed_id8 == before.hashed_id8


class Lines:
    """A text sink for ``main(out=...)``."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def _cli(state: DeviceState, ra: FakeRa, *args: str) -> tuple[int, str]:
    out = Lines()
    code = main(["--url", "http://scms", "--state", str(state.root), *args], transport=ra, out=out)  # type: ignore[arg-type]
    return code, out.text


def test_the_cli_successor_enrolls_twice_and_reports_a_refusal(world: World, tmp_path: Path) -> None:
    # The CLI runs on the real clock, so the fake RA does too.
    state = device_state(world, tmp_path / "obu")
    ra = FakeRa(world, clock=time32.now, not_ready=0)
    first = _current(state)
    code, out = _cli(state, ra, "successor-enroll")
    assert code == EXIT_OK, out
    assert f"replaces {first.hashed_id8.hex()}" in out
    second = _current(state)
    code, out = _cli(state, ra, "successor-enroll")
    assert code == EXIT_OK and f"replaces {second.hashed_id8.hex()}" in out
    # Twin: a device blocked meanwhile is refused (exit 1) and keeps its certificate.
    device = world.device()
    world.devices.transition(device.device_id, Lifecycle.BLOCKED, expected=device.state, cause="t", actor="t",
                             now_unix=1)  # fmt: skip
    current = _current(state)
    code, _ = _cli(state, ra, "successor-enroll")
    assert code == EXIT_REFUSED and _current(state).hashed_id8 == current.hashed_id8


def test_a_successor_of_an_implicit_enrollment_is_implicit(world: World, tmp_path: Path) -> None:
    # The ECA issues the type the device asks for; the stored type decides, and keys are reconstructed.
    state = device_state(world, tmp_path / "obu")
    state.update_json(enrollment={"type": "implicit"})
    result, _ = _run(state, FakeRa(world, clock=lambda: NOW))
    cert = result.enrollment.certificate
    assert cert.is_implicit
    key: ec.EllipticCurvePrivateKey = state.enrollment_key()
    assert key.private_numbers().private_value == result.enrollment.private_key.private_numbers().private_value
    # Twin: an explicit device gets an explicit certificate.
    other = make_world(world.hierarchy)
    explicit = device_state(other, tmp_path / "obu2")
    assert not _run(explicit, FakeRa(other, clock=lambda: NOW))[0].enrollment.certificate.is_implicit
