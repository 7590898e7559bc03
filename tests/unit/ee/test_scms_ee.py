"""scms-ee against an in-memory SCMS: request shape, every verification failure, state files and the trace."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from scms_ee.enroll import build_request
from scms_ee.main import EXIT_LOCAL, EXIT_OK, EXIT_REFUSED, main
from scms_ee.register import default_permissions
from scms_ee.state import DeviceState, canonical_id_of

from scms_codec import time32
from scms_codec.crypto import ecqv, points
from scms_codec.errors import InvalidKey, InvalidSignature
from scms_codec.inspect import detect
from scms_codec.spdu.eca_ee import parse_ee_eca_cert_request
from scms_codec.spdu.scms_pdu import request_hash
from tests.support.pki import new_key
from tests.unit.ee.fake_scms import API_KEY, FakeScms, Hierarchy

URL = "http://scms.test"


@pytest.fixture
def scms() -> FakeScms:
    return FakeScms()


def run(scms: FakeScms, state: Path, *args: str, trace: Path | None = None) -> tuple[int, str]:
    out = io.StringIO()
    extra = ["--trace", str(trace)] if trace is not None else []
    code = main(["--url", URL, "--state", str(state), *extra, *args], transport=scms, out=out)
    return code, out.getvalue()


def registered(scms: FakeScms, state: Path) -> None:
    assert run(scms, state, "init")[0] == EXIT_OK
    assert run(scms, state, "register", "--api-key", API_KEY, "--psid", "32")[0] == EXIT_OK


# --- the request -------------------------------------------------------------------------------------


def test_request_parses_at_the_eca_with_the_registered_canonical_key() -> None:
    # Given a canonical key and the default permissions
    canonical = new_key()
    now = time32.now()

    # When the EE builds an explicit request
    prepared = build_request(canonical, "explicit", default_permissions([32]), now=now, validity_years=6)

    # Then the ECA opens it with the canonical key and sees the protocol.md §3.2 shape
    opened = parse_ee_eca_cert_request(prepared.spdu, self_key=lambda _: canonical.public_key())
    content = opened.content
    assert content.canonical_id == canonical_id_of(canonical.public_key())
    assert content.type == "explicit" and content.generation_time == now
    assert content.violations() == ()
    assert content.tbs_cert["validityPeriod"]["start"] == now
    ranges = content.tbs_cert["certRequestPermissions"][0]["subjectPermissions"][1]
    assert {r["psid"] for r in ranges} == {32, 35}
    assert opened.spdu_hash == prepared.request_hash == request_hash(prepared.spdu)


def test_request_does_not_verify_under_another_key() -> None:
    prepared = build_request(new_key(), "explicit", default_permissions([32]), now=time32.now(), validity_years=6)

    with pytest.raises(InvalidSignature):
        parse_ee_eca_cert_request(prepared.spdu, self_key=lambda _: new_key().public_key())


def test_implicit_request_carries_r_equal_k_times_g() -> None:
    canonical = new_key()
    prepared = build_request(canonical, "implicit", default_permissions([32]), now=time32.now(), validity_years=1)
    opened = parse_ee_eca_cert_request(prepared.spdu, self_key=lambda _: canonical.public_key())
    requested = opened.content.tbs_cert["verifyKeyIndicator"]
    assert opened.content.type == "implicit" and requested[0] == "verificationKey"
    assert prepared.secret.public_key() != canonical.public_key()


# --- init, register, enroll ------------------------------------------------------------------------


def test_init_makes_only_the_canonical_key_with_owner_only_permissions(tmp_path: Path, scms: FakeScms) -> None:
    code, out = run(scms, tmp_path / "ee", "init")

    assert code == EXIT_OK
    key = DeviceState(tmp_path / "ee").canonical_key()
    assert f"canonical id: {canonical_id_of(key.public_key())}" in out
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert f"public key: {point.hex()}" in out
    assert stat.S_IMODE((tmp_path / "ee" / "canonical.pem").stat().st_mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "ee").iterdir()) == ["canonical.pem", "state.json"]
    assert scms.calls == []
    # The private scalar appears nowhere in what was printed.
    assert f"{key.private_numbers().private_value:064x}" not in out


def test_register_sends_the_canonical_key_and_permissions(tmp_path: Path, scms: FakeScms) -> None:
    registered(scms, tmp_path / "ee")

    key = DeviceState(tmp_path / "ee").canonical_key()
    device = scms.devices[canonical_id_of(key.public_key())]
    assert device["permissions"] == [{"psid": 35, "ssp": "8c0002"}, {"psid": 32}]
    assert device["device_id"].startswith("ee-")


def test_register_with_a_wrong_api_key_is_refused(
    tmp_path: Path, scms: FakeScms, capsys: pytest.CaptureFixture[str]
) -> None:
    run(scms, tmp_path / "ee", "init")
    code, _ = run(scms, tmp_path / "ee", "register", "--api-key", "wrong")
    assert code == EXIT_REFUSED
    assert "HTTP 403" in capsys.readouterr().err
    assert scms.devices == {}


@pytest.mark.parametrize("cert_type", ["explicit", "implicit"])
def test_enroll_stores_a_verified_certificate_whose_key_we_hold(tmp_path: Path, scms: FakeScms, cert_type: str) -> None:
    state_dir = tmp_path / "ee"
    registered(scms, state_dir)

    code, out = run(scms, state_dir, "enroll", "--type", cert_type)

    assert code == EXIT_OK, out
    assert "trusted on first use" in out
    state = DeviceState(state_dir)
    cert = state.enrollment_certificate()
    assert cert is not None and cert.is_implicit == (cert_type == "implicit")
    eca = scms.hierarchy.cert("eca")
    assert state.enrollment_key().public_key() == cert.public_key(eca)
    assert stat.S_IMODE((state_dir / "enrollment.pem").stat().st_mode) == 0o600
    assert state.trusted_root() == scms.hierarchy.cert("root")
    code, shown = run(scms, state_dir, "show")
    assert code == EXIT_OK
    assert cert.hashed_id8.hex() in shown and eca.hashed_id8.hex() in shown and cert_type in shown


def test_second_enrollment_uses_the_stored_root(tmp_path: Path, scms: FakeScms) -> None:
    registered(scms, tmp_path / "ee")
    run(scms, tmp_path / "ee", "enroll")
    code, out = run(scms, tmp_path / "ee", "enroll")
    assert code == EXIT_OK and "earlier enrollment" in out


def test_pinned_root_is_used_and_reported(tmp_path: Path, scms: FakeScms) -> None:
    registered(scms, tmp_path / "ee")
    root_file = tmp_path / "root.oer"
    root_file.write_bytes(scms.hierarchy.cert("root").encoded)
    code, out = run(scms, tmp_path / "ee", "enroll", "--root", str(root_file))
    assert code == EXIT_OK and "pinned with --root" in out


# --- every verification failure: exit 1, a clear message, nothing stored ------------------------------


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


@pytest.mark.parametrize(
    ("setup", "cert_type", "message"),
    [
        (lambda s: setattr(s, "mutate_response", _flip_last), "explicit", "response signature does not verify"),
        (lambda s: setattr(s, "wrong_request_hash", True), "explicit", "is not our request's HashedId8"),
        (lambda s: setattr(s, "bad_private_key_info", True), "implicit", "implicit key reconstruction failed"),
        (lambda s: setattr(s, "issue_type", "implicit"), "explicit", "asked for an explicit certificate"),
        (lambda s: setattr(s, "issued_key", new_key().public_key()), "explicit", "not the key we requested"),
    ],
    ids=["tampered-signature", "wrong-request-hash", "implicit-key-mismatch", "wrong-type", "wrong-explicit-key"],
)
def test_enroll_refuses_a_response_that_does_not_verify(
    tmp_path: Path, scms: FakeScms, capsys: pytest.CaptureFixture[str], setup: object, message: str, cert_type: str
) -> None:
    registered(scms, tmp_path / "ee")
    assert callable(setup)
    setup(scms)

    code, _ = run(scms, tmp_path / "ee", "enroll", "--type", cert_type)

    assert code == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "verification failed" in err and message in err
    assert not (tmp_path / "ee" / "enrollment.oer").exists()
    assert not (tmp_path / "ee" / "enrollment.pem").exists()


def test_enroll_refuses_a_chain_to_another_root_than_the_pinned_one(
    tmp_path: Path, scms: FakeScms, capsys: pytest.CaptureFixture[str]
) -> None:
    registered(scms, tmp_path / "ee")
    root_file = tmp_path / "root.oer"
    root_file.write_bytes(Hierarchy.build().cert("root").encoded)

    code, _ = run(scms, tmp_path / "ee", "enroll", "--root", str(root_file))

    assert code == EXIT_REFUSED
    assert "not the pinned root" in capsys.readouterr().err
    assert DeviceState(tmp_path / "ee").trusted_root() is None


def test_enroll_refuses_another_scms_after_trusting_a_root(
    tmp_path: Path, scms: FakeScms, capsys: pytest.CaptureFixture[str]
) -> None:
    registered(scms, tmp_path / "ee")
    assert run(scms, tmp_path / "ee", "enroll")[0] == EXIT_OK
    scms.chain_signer = Hierarchy.build()

    code, _ = run(scms, tmp_path / "ee", "enroll")

    assert code == EXIT_REFUSED
    assert "not the stored root" in capsys.readouterr().err
    assert DeviceState(tmp_path / "ee").trusted_root() == scms.hierarchy.cert("root")


def test_unregistered_device_is_refused_with_the_table_8_code(
    tmp_path: Path, scms: FakeScms, capsys: pytest.CaptureFixture[str]
) -> None:
    run(scms, tmp_path / "ee", "init")
    code, _ = run(scms, tmp_path / "ee", "enroll")
    assert code == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "HTTP 400" in err and "Ieee-1609.2.1-Error: 400-21" in err


def test_enroll_before_init_is_a_local_error(
    tmp_path: Path, scms: FakeScms, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(scms, tmp_path / "ee", "enroll")
    assert code == EXIT_LOCAL
    assert "run `scms-ee init` first" in capsys.readouterr().err
    assert scms.calls == []


def test_enroll_without_url_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state", str(tmp_path), "enroll"]) == EXIT_LOCAL
    assert "needs --url" in capsys.readouterr().err


def test_unreachable_server_is_a_local_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--state", str(tmp_path / "ee"), "init"], out=io.StringIO())
    assert main(["--url", "http://127.0.0.1:9", "--state", str(tmp_path / "ee"), "--timeout", "2", "enroll"]) == 2
    assert "no answer" in capsys.readouterr().err


# --- the trace -------------------------------------------------------------------------------------


def test_trace_holds_every_message_and_certificate_byte_for_byte(tmp_path: Path, scms: FakeScms) -> None:
    registered(scms, tmp_path / "ee")
    trace = tmp_path / "trace"

    assert run(scms, tmp_path / "ee", "enroll", "--type", "implicit", trace=trace)[0] == EXIT_OK

    h = scms.hierarchy
    cert = DeviceState(tmp_path / "ee").enrollment_certificate()
    assert cert is not None
    names = {
        "eca": f"certs/eca-{h.cert('eca').hashed_id8.hex()}.oer",
        "ica": f"certs/ica-{h.cert('ica').hashed_id8.hex()}.oer",
        "root": f"certs/root-{h.cert('root').hashed_id8.hex()}.oer",
        "enrollment": f"certs/enrollment-{cert.hashed_id8.hex()}.oer",
    }
    files = sorted(str(p.relative_to(trace)) for p in trace.rglob("*") if p.is_file())
    expected = ["001-EeEcaCertRequestSpdu.oer", "002-EcaEeCertResponseSpdu.oer", *names.values(), "trace.json"]
    assert files == sorted(expected)
    _, _, request, response = scms.calls[-1]
    assert (trace / "001-EeEcaCertRequestSpdu.oer").read_bytes() == request
    assert (trace / "002-EcaEeCertResponseSpdu.oer").read_bytes() == response.body
    index = {e["file"]: e for e in json.loads((trace / "trace.json").read_text())["files"]}
    assert index["001-EeEcaCertRequestSpdu.oer"] | {} == {
        "file": "001-EeEcaCertRequestSpdu.oer",
        "kind": "message",
        "type": "EeEcaCertRequestSpdu",
        "direction": "sent",
        "signed_by": None,
        "signer": "self (canonical key)",
    }
    assert index["002-EcaEeCertResponseSpdu.oer"]["direction"] == "received"
    assert index["002-EcaEeCertResponseSpdu.oer"]["signed_by"] == names["eca"]
    assert index[names["enrollment"]]["issued_by"] == names["eca"]
    assert index[names["eca"]]["issued_by"] == names["ica"]
    assert index[names["ica"]]["issued_by"] == names["root"]
    assert index[names["root"]]["issued_by"] == names["root"]
    for name, entry in index.items():
        # Every file decodes strictly with `scms inspect`'s detection, as the type it is listed with.
        detected, _ = detect((trace / name).read_bytes())
        assert detected == ("Certificate" if entry["kind"] == "certificate" else "Ieee1609Dot2Data")


def test_trace_numbering_continues_across_runs(tmp_path: Path, scms: FakeScms) -> None:
    registered(scms, tmp_path / "ee")
    trace = tmp_path / "trace"
    run(scms, tmp_path / "ee", "enroll", trace=trace)
    run(scms, tmp_path / "ee", "enroll", trace=trace)
    assert (trace / "003-EeEcaCertRequestSpdu.oer").exists() and (trace / "004-EcaEeCertResponseSpdu.oer").exists()
    assert not (trace / "005-EeEcaCertRequestSpdu.oer").exists()


def test_trace_keeps_a_response_that_fails_verification(tmp_path: Path, scms: FakeScms) -> None:
    registered(scms, tmp_path / "ee")
    scms.mutate_response = _flip_last
    assert run(scms, tmp_path / "ee", "enroll", trace=tmp_path / "trace")[0] == EXIT_REFUSED
    assert (tmp_path / "trace" / "002-EcaEeCertResponseSpdu.oer").read_bytes() == scms.calls[-1][3].body


def test_implicit_private_key_is_e_k_plus_r(tmp_path: Path, scms: FakeScms) -> None:
    # An independent check of the reconstruction the EE stores: d·G = e·P_U + Q_CA.
    registered(scms, tmp_path / "ee")
    run(scms, tmp_path / "ee", "enroll", "--type", "implicit")
    state = DeviceState(tmp_path / "ee")
    cert = state.enrollment_certificate()
    assert cert is not None
    d = state.enrollment_key().private_numbers().private_value
    q = cert.public_key(scms.hierarchy.cert("eca"))
    ecqv.check_key_pair(d, points.from_public_key(q))
    with pytest.raises(InvalidKey, match="does not match"):
        ecqv.check_key_pair(d + 1, points.from_public_key(q))
