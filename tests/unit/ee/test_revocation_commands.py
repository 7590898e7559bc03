"""scms-ee sign-message, report, fetch-trust and check-revoked against a fake SCMS with a real hierarchy (issue #6 §4).

Each positive test has a failing twin: another chain's seeds revoke nothing, a CRL signed by a certificate
without the series in its ``CrlSsp`` is refused, an info status signed by a non-RA certificate is refused,
a CTL short of its quorum is refused, an MA certificate that is not an MA's is refused, and so on.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from scms_ee import fetch_trust as fetch_trust_module
from scms_ee.check_revoked import check_revoked
from scms_ee.client import HttpError
from scms_ee.enroll import VerificationFailed
from scms_ee.fetch_trust import fetch_trust, stored_crls, verify_crl, verify_ctl_sequence, verify_info_status
from scms_ee.main import EXIT_LOCAL, EXIT_OK, EXIT_REFUSED, main
from scms_ee.provision import ca_certificates
from scms_ee.pseudonym_files import own_pseudonyms, pseudonym
from scms_ee.report import evidence_psid, report, reporter_pseudonym
from scms_ee.sign_message import sign_message
from scms_ee.state import DeviceState, StateError
from scms_ee.trace import Trace
from scms_service.stores.ma_records import FakeMaRecordStore

from scms_codec import time32
from scms_codec.crypto import linkage
from scms_codec.crypto.hashing import hashed_id10
from scms_codec.secured.signed_data import open_signed_data
from scms_codec.spdu.cert_management import FullIeeeTbsCtl
from scms_codec.spdu.ctl import build_multi_signed_ctl_spdu, parse_multi_signed_ctl_spdu, sign_ctl
from tests.unit.aca.simulator import LA1_ID, LA2_ID
from tests.unit.ee.revocation_world import (  # noqa: F401 (fixtures)
    CERTS_PER_PERIOD,
    HASH_SERIES,
    LINKED_SERIES,
    NOW,
    PERIODS,
    RevocationWorld,
    device_fixture,
    fresh_fixture,
    world_fixture,
)


def _first_i(world: RevocationWorld) -> int:
    return world.record.first_i


# --- check-revoked ---------------------------------------------------------------------------------


def test_the_devices_seeds_on_a_linked_crl_revoke_every_pseudonym_of_every_period(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    # Given a linked CRL carrying the device's chain seeds at iRev = its first period,
    crl = fresh.linked_crl(_first_i(fresh))
    # When the device checks its pseudonyms against it,
    result = check_revoked(device, [("crl", crl)])
    # Then every certificate of every period is revoked, from the CRL alone.
    assert [(p.i, p.total, p.revoked, p.unchecked) for p in result.periods] == [
        (_first_i(fresh) + k, CERTS_PER_PERIOD, CERTS_PER_PERIOD, 0) for k in range(PERIODS)
    ]


def test_another_chains_seeds_revoke_none_of_the_devices_pseudonyms(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    # Twin: seeds of some other device's chain.
    crl = fresh.linked_crl(_first_i(fresh), seeds=(linkage.initial_seed(), linkage.initial_seed()))
    result = check_revoked(device, [("crl", crl)])
    assert result.pseudonyms_revoked == 0
    assert all(p.total == CERTS_PER_PERIOD and p.unchecked == 0 for p in result.periods)


def test_a_period_before_irev_cannot_be_judged_and_imax_ends_the_revocation(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    first = _first_i(fresh)
    later = check_revoked(device, [("crl", fresh.linked_crl(first + 1))])
    assert [(p.revoked, p.unchecked) for p in later.periods] == [(0, CERTS_PER_PERIOD), (CERTS_PER_PERIOD, 0)]
    capped = check_revoked(device, [("crl", fresh.linked_crl(first, i_max=first))])
    assert [p.revoked for p in capped.periods] == [CERTS_PER_PERIOD, 0]


def test_an_enrollment_certificate_on_the_hash_crl_is_revoked_and_another_is_not(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    cert = fresh.ee.certificate
    listed = check_revoked(device, [("hash", fresh.hash_crl([hashed_id10(cert.encoded)]))])
    assert [(e.hashed_id8, e.current, e.revoked) for e in listed.enrollments] == [(cert.hashed_id8.hex(), True, True)]
    other = check_revoked(device, [("hash", fresh.hash_crl([bytes(10)]))])
    assert [e.revoked for e in other.enrollments] == [False]


def test_check_revoked_without_any_crl_is_a_local_error(device: DeviceState) -> None:
    with pytest.raises(StateError, match="fetch-trust"):
        check_revoked(device, [])


def test_check_revoked_command_prints_per_period_and_json_and_exits_0_either_way(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    crl_dir = device.root / "trust" / "crl"
    crl_dir.mkdir(parents=True)
    (crl_dir / f"{fresh.series.hex()}_{LINKED_SERIES}.oer").write_bytes(fresh.linked_crl(_first_i(fresh)))
    out = io.StringIO()
    assert main(["--state", str(device.root), "check-revoked"], out=out) == EXIT_OK
    assert f"period {_first_i(fresh):x}: {CERTS_PER_PERIOD}/{CERTS_PER_PERIOD} revoked" in out.getvalue()
    (crl_dir / f"{fresh.series.hex()}_{LINKED_SERIES}.oer").write_bytes(
        fresh.linked_crl(_first_i(fresh), seeds=(bytes(16), bytes(16)))
    )
    out = io.StringIO()
    assert main(["--state", str(device.root), "check-revoked", "--json"], out=out) == EXIT_OK
    document = json.loads(out.getvalue())
    assert document["pseudonyms"] == PERIODS * CERTS_PER_PERIOD and document["pseudonyms_revoked"] == 0


def test_check_revoked_command_without_a_crl_exits_2(device: DeviceState) -> None:
    assert main(["--state", str(device.root), "check-revoked"], out=io.StringIO()) == EXIT_LOCAL


# --- verify_crl / verify_info_status / verify_ctl_sequence ------------------------------------------------


def test_a_crl_signed_by_the_crl_generator_for_its_series_verifies(fresh: RevocationWorld, device: DeviceState) -> None:
    crl = verify_crl(fresh.linked_crl(_first_i(fresh)), root=fresh.root, ca=ca_certificates(device), now=NOW,
                     craca=fresh.series, series=LINKED_SERIES)  # fmt: skip
    assert crl.kind == "fullLinkedCrl" and crl.signer.hashed_id8 == fresh.hierarchy.certificate("crlg").hashed_id8


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"signer": "ra"}, "may not sign series"),
        ({"series": HASH_SERIES + 5}, "may not sign series"),
        ({"asked_series": HASH_SERIES}, "asked for series"),
        ({"asked_craca": bytes(8)}, "asked for the CRL of CRACA"),
        ({"previous": NOW + 1}, "rollback"),
        ({"flip": True}, "signature"),
    ],
)
def test_a_crl_that_breaks_a_rule_is_refused(
    fresh: RevocationWorld, device: DeviceState, change: dict[str, object], message: str
) -> None:
    signer = fresh.hierarchy.signer(str(change["signer"])) if "signer" in change else None
    series = int(str(change.get("series", LINKED_SERIES)))
    data = fresh.linked_crl(_first_i(fresh), signer=signer, series=series)
    if change.get("flip"):
        data = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(VerificationFailed, match=message):
        verify_crl(
            data, root=fresh.root, ca=ca_certificates(device), now=NOW,
            craca=change.get("asked_craca", fresh.series),  # type: ignore[arg-type]
            series=int(str(change.get("asked_series", series))),
            previous_issue_date=change.get("previous"),  # type: ignore[arg-type]
        )  # fmt: skip


def test_a_crl_naming_a_craca_its_signer_may_not_sign_for_is_refused(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    # 1609.2 CracaType: the crlg certificate says issuerIsCraca, so crlCraca must be its issuer (the root).
    ica = fresh.hierarchy.certificate("ica").hashed_id8
    data = fresh.linked_crl(_first_i(fresh), craca=ica)
    with pytest.raises(VerificationFailed, match="may not sign for CRACA"):
        verify_crl(data, root=fresh.root, ca=ca_certificates(device), now=NOW, craca=ica, series=LINKED_SERIES)
    # Twin: the same CRL naming the crlg's issuer verifies.
    root = fresh.hierarchy.certificate("root").hashed_id8
    assert fresh.hierarchy.certificate("crlg").issuer_id == root
    verify_crl(fresh.linked_crl(_first_i(fresh), craca=root), root=fresh.root, ca=ca_certificates(device), now=NOW,
               craca=root, series=LINKED_SERIES)  # fmt: skip


def test_an_info_status_signed_by_the_ra_verifies_and_by_another_ca_does_not(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    ca = ca_certificates(device)
    info, signer = verify_info_status(fresh.info_status(), root=fresh.root, ca=ca, now=NOW)
    assert signer.hashed_id8 == fresh.hierarchy.certificate("ra").hashed_id8 and info.ra == NOW
    with pytest.raises(VerificationFailed, match="not signed by an RA"):
        verify_info_status(fresh.info_status(signer=fresh.hierarchy.signer("eca")), root=fresh.root, ca=ca, now=NOW)
    flipped = bytearray(fresh.info_status())
    flipped[-1] ^= 1
    with pytest.raises(VerificationFailed, match="signature"):
        verify_info_status(bytes(flipped), root=fresh.root, ca=ca, now=NOW)


def _next_ctl(world: RevocationWorld, *, electors: tuple[str, ...], approve_root: bool = True) -> bytes:
    first = parse_multi_signed_ctl_spdu(world.ctl_spdu(1)).content.tbs_ctl
    tbs = FullIeeeTbsCtl(first.ctl_series_id, 2, NOW, first.elector_approve,
                         first.root_ca_approve if approve_root else (), quorum=first.quorum)  # fmt: skip
    signers = [world.hierarchy.signer(e) for e in electors]
    return build_multi_signed_ctl_spdu(sign_ctl(tbs, signers))


def test_a_ctl_signed_by_the_quorum_of_the_previous_one_is_accepted(fresh: RevocationWorld) -> None:
    first = parse_multi_signed_ctl_spdu(fresh.ctl_spdu(1)).content
    second = parse_multi_signed_ctl_spdu(_next_ctl(fresh, electors=("elector1", "elector2"))).content
    newer = verify_ctl_sequence([second, first], series=fresh.series, root=fresh.root, previous=first.tbs_ctl)
    assert [c.tbs_ctl.sequence_number for c in newer] == [2]


@pytest.mark.parametrize(
    ("electors", "approve_root", "message"),
    [(("elector1",), True, "quorum"), (("elector1", "elector2"), False, "no longer approves root")],
)
def test_a_ctl_short_of_quorum_or_dropping_the_root_is_refused(
    fresh: RevocationWorld, electors: tuple[str, ...], approve_root: bool, message: str
) -> None:
    first = parse_multi_signed_ctl_spdu(fresh.ctl_spdu(1)).content
    second = parse_multi_signed_ctl_spdu(_next_ctl(fresh, electors=electors, approve_root=approve_root)).content
    with pytest.raises(VerificationFailed, match=message):
        verify_ctl_sequence([first, second], series=fresh.series, root=fresh.root, previous=first.tbs_ctl)


# --- fetch-trust -------------------------------------------------------------------------------------------


def _serve_crls(world: RevocationWorld) -> None:
    world.served.crls[world.series, LINKED_SERIES] = world.linked_crl(_first_i(world))
    world.served.info = world.info_status()


def test_fetch_trust_verifies_and_stores_every_artefact_then_fetches_nothing_while_unchanged(
    fresh: RevocationWorld, device: DeviceState, tmp_path: Path
) -> None:
    # Given an SCMS with a linked CRL, CTL #2 and an info status naming them,
    _serve_crls(fresh)
    fresh.served.ctls[2] = _next_ctl(fresh, electors=("elector1", "elector2"))
    fresh.served.info = fresh.info_status(ctl_seq=2)
    trace = Trace(tmp_path / "trace")
    # When the device fetches its trust artefacts,
    result = fetch_trust(device, fresh.client(), trace, now=NOW)
    # Then it verified and stored the info status, CTL #2, the CRL and the composite CRL,
    trust = device.load_json()["trust"]
    assert result.ctls == [2] and [c.kind for c in result.crls] == ["fullLinkedCrl"]
    assert trust["ctl"]["sequence_number"] == 2
    assert [k for k, _ in stored_crls(device)] == [f"{fresh.series.hex()}_{LINKED_SERIES}"]
    assert (device.root / "trust" / "composite-crl.oer").exists()
    assert trust["info_status"]["filename"].startswith("scms-management-infostatus_")
    types = {e["type"] for e in json.loads((tmp_path / "trace" / "trace.json").read_text())["files"]}
    assert {"CertificateManagementInformationStatusSpdu", "SecuredCrl", "CompositeCrlSpdu",
            "MultiSignedCtlSpdu"} <= types  # fmt: skip
    # and a second run with nothing changed asks only for the info status, conditionally.
    fresh.served.calls.clear()
    again = fetch_trust(device, fresh.client(), Trace(None), now=NOW)
    assert again.fetched == [] and [c[1] for c in fresh.served.calls] == ["/v3/certificate-management-info-status"]
    assert fresh.served.calls[0][2]["If-None-Match"] == f'"{trust["info_status"]["filename"]}"'


def test_fetch_trust_fetches_only_the_crl_whose_issue_date_changed(fresh: RevocationWorld, device: DeviceState) -> None:
    _serve_crls(fresh)
    fetch_trust(device, fresh.client(), Trace(None), now=NOW)
    # A new CRL (another issueDate) and an info status saying so:
    fresh.served.crls[fresh.series, LINKED_SERIES] = fresh.linked_crl(_first_i(fresh), issue_date=NOW + 60)
    fresh.served.info = fresh.info_status()
    fresh.served.calls.clear()
    fetch_trust(device, fresh.client(), Trace(None), now=NOW + 60)
    paths = [c[1] for c in fresh.served.calls]
    assert "/v3/ctl" not in paths and "/v3/ccf-ctl" not in paths
    assert paths.count("/v3/crl") >= 1 and "/v3/composite-crl-ctl" in paths


def test_fetch_trust_fetches_the_new_ctl_and_the_composite_but_no_crl_when_only_the_ctl_changed(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    _serve_crls(fresh)
    fetch_trust(device, fresh.client(), Trace(None), now=NOW)
    fresh.served.ctls[2] = _next_ctl(fresh, electors=("elector1", "elector2"))
    fresh.served.info = fresh.info_status(ctl_seq=2)
    fresh.served.calls.clear()
    result = fetch_trust(device, fresh.client(), Trace(None), now=NOW)
    paths = [c[1] for c in fresh.served.calls]
    assert result.ctls == [2] and "/v3/ctl" in paths and "/v3/composite-crl-ctl" in paths
    assert "/v3/crl" not in paths and "/v3/ccf-ctl" not in paths


def test_fetch_trust_refuses_a_crl_signed_without_the_series_and_stores_nothing_of_it(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    # Twin of the above: the same CRL signed by the RA certificate (no CrlSsp).
    fresh.served.crls[fresh.series, LINKED_SERIES] = fresh.linked_crl(
        _first_i(fresh), signer=fresh.hierarchy.signer("ra")
    )
    fresh.served.info = fresh.info_status()
    with pytest.raises(VerificationFailed, match="may not sign series"):
        fetch_trust(device, fresh.client(), Trace(None), now=NOW)
    assert stored_crls(device) == [] and "info_status" not in device.load_json().get("trust", {})
    assert main(["--url", "http://scms.test", "--state", str(device.root), "fetch-trust"],
                transport=fresh.transport(), out=io.StringIO()) == EXIT_REFUSED  # fmt: skip


def test_fetch_trust_refuses_a_ctl_zip_short_of_quorum(fresh: RevocationWorld, device: DeviceState) -> None:
    _serve_crls(fresh)
    fresh.served.ctls[2] = _next_ctl(fresh, electors=("elector2",))
    fresh.served.info = fresh.info_status(ctl_seq=2)
    with pytest.raises(VerificationFailed, match="quorum"):
        fetch_trust(device, fresh.client(), Trace(None), now=NOW)
    assert not (device.root / "trust" / "ctl").exists()


def test_read_ctl_zip_refuses_foreign_files() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.txt", b"x")
    with pytest.raises(VerificationFailed, match="unexpected file"):
        fetch_trust_module.read_ctl_zip(buffer.getvalue())


# --- sign-message and report ---------------------------------------------------------------------------


def test_sign_message_signs_with_pseudonym_i_j_and_the_signature_verifies(
    fresh: RevocationWorld, device: DeviceState, tmp_path: Path
) -> None:
    i = _first_i(fresh)
    signed = sign_message(device, Trace(tmp_path / "t"), i=i, j=2, payload=b"hello", now=NOW, out=tmp_path / "m.oer")
    (entry,) = [e for e in json.loads((tmp_path / "t" / "trace.json").read_text())["files"] if e["kind"] == "message"]
    assert entry["type"] == "Ieee1609Dot2Data" and entry["signed_by"].startswith("certs/pseudonym-")
    verified = open_signed_data((tmp_path / "m.oer").read_bytes(), expected_psid=32, psid_only_header=False)
    assert verified.payload == b"hello" and verified.signer == pseudonym(device, i, 2).certificate
    assert verified.header_info["generationTime"] == NOW * 1_000_000 and signed.signer.j == 2
    assert evidence_psid(signed.data) == 32


def test_sign_message_without_that_pseudonym_is_a_local_error(fresh: RevocationWorld, device: DeviceState) -> None:
    with pytest.raises(StateError, match="no downloaded pseudonym"):
        pseudonym(device, _first_i(fresh) + PERIODS, 0)
    code = main(["--state", str(device.root), "sign-message", "--period", f"{_first_i(fresh) + 9:x}", "--j", "0",
                 "--out", str(device.root / "x.oer")], out=io.StringIO())  # fmt: skip
    assert code == EXIT_LOCAL


def test_report_is_signed_by_a_current_psid_38_pseudonym_and_encrypted_to_the_verified_ma(
    fresh: RevocationWorld, device: DeviceState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time32, "now", lambda: NOW)  # the world's certificates are valid around NOW
    # Given evidence signed by some pseudonym (here the device's own, as a stand-in for another device's),
    evidence = sign_message(device, Trace(None), i=_first_i(fresh), j=1, payload=b"bsm", now=NOW,
                            out=tmp_path / "e.oer").data  # fmt: skip
    # When the device reports it,
    out = io.StringIO()
    code = main(["--url", "http://scms.test", "--state", str(device.root), "--trace", str(tmp_path / "t"), "report",
                 "--evidence", str(tmp_path / "e.oer")], transport=fresh.transport(), out=out)  # fmt: skip
    # Then the MA opened a report carrying that evidence, signed by a pseudonym valid now with PSID 38,
    assert code == EXIT_OK, out.getvalue()
    (opened,) = fresh.served.reports
    assert opened.evidence == evidence and opened.evidence_psid == 32
    assert 38 in opened.reporter.app_psids and opened.reporter == reporter_pseudonym(device, now=NOW).certificate
    assert f"Scms-Report-Id: {opened.report_id.hex()}" in out.getvalue()
    files = json.loads((tmp_path / "t" / "trace.json").read_text())["files"]
    assert any(f["type"] == "MisbehaviorReportSpdu" for f in files)


def test_the_real_ma_use_case_accepts_the_devices_report_and_refuses_broken_evidence_400_43(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    # Given the MA's own use case behind the report route,
    fresh.served.ma_records = FakeMaRecordStore()
    evidence = sign_message(device, Trace(None), i=_first_i(fresh), j=3, payload=b"bsm", now=NOW,
                            out=device.root / "e.oer").data  # fmt: skip
    # When the device reports, then the MA accepts and names the report,
    sent = report(device, fresh.client(), Trace(None), evidence=evidence, now=NOW)
    assert fresh.served.ma_records.get_report(sent.report_id) is not None
    # and evidence whose signature was tampered with is refused with 400-43 (twin).
    broken = evidence[:-1] + bytes([evidence[-1] ^ 1])
    with pytest.raises(HttpError) as refused:
        report(device, fresh.client(), Trace(None), evidence=broken, now=NOW)
    assert refused.value.error_code == "400-43"


def test_report_refuses_an_ma_certificate_that_is_not_an_mas(fresh: RevocationWorld, device: DeviceState) -> None:
    evidence = sign_message(device, Trace(None), i=_first_i(fresh), j=1, payload=b"", now=NOW,
                            out=device.root / "e.oer").data  # fmt: skip
    fresh.served.ma = fresh.hierarchy.certificate("ra").encoded
    with pytest.raises(VerificationFailed, match="not an MA certificate"):
        report(device, fresh.client(), Trace(None), evidence=evidence, now=NOW)
    assert fresh.served.reports == []


def test_report_refused_by_the_ma_exits_1_with_its_code(fresh: RevocationWorld, device: DeviceState) -> None:
    evidence = sign_message(device, Trace(None), i=_first_i(fresh), j=1, payload=b"", now=NOW,
                            out=device.root / "e.oer").data  # fmt: skip
    fresh.served.report_refusal = "400-43"
    with pytest.raises(HttpError) as refused:
        report(device, fresh.client(), Trace(None), evidence=evidence, now=NOW)
    assert refused.value.error_code == "400-43"


def test_report_of_something_that_is_not_signed_data_is_refused_locally(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    fresh.served.calls.clear()
    with pytest.raises(VerificationFailed, match="not an Ieee1609Dot2Data signedData"):
        report(device, fresh.client(), Trace(None), evidence=b"\x03\x80\x01\x00", now=NOW)
    assert fresh.served.calls == []


def test_report_without_a_current_psid_38_pseudonym_is_a_local_error(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    with pytest.raises(StateError, match="PSID 38"):
        reporter_pseudonym(device, now=NOW + 400 * 86_400)


def test_own_pseudonyms_lists_every_downloaded_certificate(fresh: RevocationWorld, device: DeviceState) -> None:
    found = list(own_pseudonyms(device))
    assert len(found) == PERIODS * CERTS_PER_PERIOD
    assert {p.certificate.tbs["id"][1]["linkage-value"] for p in found} == {
        fresh.lines.linkage_value(i, j)
        for i in range(_first_i(fresh), _first_i(fresh) + PERIODS)
        for j in range(CERTS_PER_PERIOD)
    }
    assert LA1_ID != LA2_ID  # the two LAs of the simulator, as on the CRL
    assert "key" not in repr(found[0]).lower()
