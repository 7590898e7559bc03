"""``make bench`` stays runnable: each benchmark body runs once with tiny counts and gives sane results (not timed)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bench import openssl_ref
from bench.__main__ import Config, render, run
from bench.aca_core import VARIANTS, AcaCore, EcOps, Variant, ec_ops, use_case_ops
from bench.timing import measure
from scms_codec import asn1
from scms_codec.asn1._spec import specification
from scms_codec.cert.certificate import Certificate, verify_signature
from scms_codec.crypto import ecqv, hashing, points
from scms_codec.errors import DecryptionError, InvalidKey, InvalidSignature
from scms_codec.secured.encrypted_data import decrypt
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.signed_data import open_signed_data
from scms_codec.secured.unsecured import unwrap_unsecured

# Output of `openssl speed -seconds 1 ecdsap256 ecdhp256` (OpenSSL 3.0.19) on the bench machine.
SPEED_STDOUT = """version: 3.0.19
built on: Fri Apr  3 12:29:32 2026 UTC
options: bn(64,64)
                              sign    verify    sign/s verify/s
 256 bits ecdsa (nistp256)   0.0000s   0.0001s  47510.3  13906.0
                              op      op/s
 256 bits ecdh (nistp256)   0.0000s  21915.3
"""
SPEED_STDERR = """Doing 256 bits sign ecdsa's for 1s: 46085 256 bits ECDSA signs in 0.97s
Doing 256 bits verify ecdsa's for 1s: 11542 256 bits ECDSA verify in 0.83s
Doing 256 bits  ecdh's for 1s: 21477 256-bits ECDH ops in 0.98s
"""
TINY = Config(number=2, repeat=1, cold_repeat=1, scaling_certificates=4, use_case_batch=3, use_case_burst=5,
              openssl=False)


def test_parse_speed_reads_the_summary_table() -> None:
    assert openssl_ref.parse_speed(SPEED_STDOUT) == {"sign": 47510.3, "verify": 13906.0, "ecdh": 21915.3}


def test_parse_speed_falls_back_to_the_progress_lines() -> None:
    rates = openssl_ref.parse_speed("", SPEED_STDERR)
    assert rates["sign"] == pytest.approx(46085 / 0.97)
    assert rates["ecdh"] == pytest.approx(21477 / 0.98)


def test_parse_speed_finds_nothing_in_unrelated_output() -> None:
    assert openssl_ref.parse_speed("256 bits ecdsa (brainpoolP256r1) 0.0001s 0.0002s 100.0 50.0\n", "") == {}


def test_speed_command_uses_only_flags_the_build_lists() -> None:
    full = openssl_ref.speed_command("openssl", seconds=1, multi=2, help_text=" -seconds +int\n -multi +int")
    assert full == ["openssl", "speed", "-seconds", "1", "-multi", "2", "ecdsap256", "ecdhp256"]
    assert openssl_ref.speed_command("openssl", seconds=1, multi=2, help_text="") == [
        "openssl", "speed", "ecdsap256", "ecdhp256"]


def test_missing_openssl_gives_an_error_and_no_ratio_instead_of_raising() -> None:
    speed = openssl_ref.run_openssl_speed(openssl="no-such-openssl-binary-for-bench")
    assert not speed.ok
    assert speed.error is not None and "not found" in speed.error
    assert speed.sign_us is None and speed.ecdh_us is None


def test_multi_process_rates_are_reported_per_core() -> None:
    speed = openssl_ref.OpenSSLSpeed(multi=2, sign_per_s=100_000.0, ecdh_per_s=50_000.0)
    assert speed.sign_us == pytest.approx(20.0)
    assert speed.ecdh_us == pytest.approx(40.0)


def test_measure_calls_warmup_plus_number_times_repeat_and_rejects_zero() -> None:
    calls = []
    timing = measure("count", lambda: calls.append(1), number=3, repeat=2, warmup=1)
    assert len(calls) == 1 + 3 * 2
    assert len(timing.per_op) == 2 and timing.seconds > 0
    with pytest.raises(ValueError, match="number"):
        measure("none", lambda: None, number=0, repeat=1)


@pytest.mark.parametrize(
    ("variant", "ops"),
    [
        # performance.md §6: "explicit unified" (cocoon-key encryption, no inner signature) = 3 k·G + sign + ECDH.
        (Variant("explicit", "compact-unified"), EcOps(3, 1, 1)),
        # §6 "explicit private" = 4 k·G + 2 signs + ECDH; "implicit private" = 4 k·G + sign + ECDH.
        (Variant("explicit", "original"), EcOps(4, 2, 1)),
        (Variant("implicit", "original"), EcOps(4, 1, 1)),
        # §6 "implicit unified" = 3 k·G + ECDH.
        (Variant("implicit", "compact-unified"), EcOps(3, 0, 1)),
        (Variant("explicit", "unified"), EcOps(3, 2, 1)),
        (Variant("explicit", "none"), EcOps(0, 1, 0)),
        (Variant("implicit", "none"), EcOps(1, 0, 0)),
    ],
    ids=lambda v: v.name if isinstance(v, Variant) else "",
)
def test_ec_operation_counts_follow_the_performance_notes(variant: Variant, ops: EcOps) -> None:
    assert ec_ops(variant) == ops


@pytest.mark.parametrize(
    ("variant", "ops"),
    [
        # The ACA's own path (scms_aca.issue): verify the RA, c·G, sign the cert, ECIES, sign the AcaRaCertResponse.
        (Variant("explicit", "compact-unified"), EcOps(2, 2, 1, verify=1)),
        # Private adds the response's own signature; implicit has no certificate signature.
        (Variant("explicit", "original"), EcOps(2, 3, 1, verify=1)),
        (Variant("implicit", "unified"), EcOps(2, 2, 1, verify=1)),
        (Variant("implicit", "compact-unified"), EcOps(1 + 1, 1, 1, verify=1)),
        # Plain: no ECIES; an explicit non-butterfly key is certified as it is (no c·G).
        (Variant("explicit", "none"), EcOps(0, 2, 0, verify=1)),
        (Variant("implicit", "none"), EcOps(1, 1, 0, verify=1)),
    ],
    ids=lambda v: v.name if isinstance(v, Variant) else "",
)
def test_use_case_operation_counts_leave_expansion_to_the_ra(variant: Variant, ops: EcOps) -> None:
    assert use_case_ops(variant) == ops
    assert use_case_ops(variant) != ec_ops(variant)  # the core above also expands, and signs no outer response


def test_use_case_budget_counts_the_ra_signature_verify() -> None:
    ops = use_case_ops(Variant("explicit", "compact-unified"))
    assert ops.budget_us(fixed_base_us=8, sign_us=13.0, ecdh_us=28.9, verify_us=38.2) == pytest.approx(
        2 * 8 + 2 * 13.0 + 28.9 + 38.2)
    assert ops.label() == "2kG+2S+1DH+1V"


def test_c_level_budget_matches_performance_notes_example() -> None:
    # §6: fixed-base 8, sign 13.0, ECDH 28.9 µs; explicit unified = 3·8 + 13.0 + 28.9 = 65.9 ≈ 66 µs.
    budget = ec_ops(Variant("explicit", "compact-unified")).budget_us(fixed_base_us=8, sign_us=13.0, ecdh_us=28.9)
    assert budget == pytest.approx(65.9)


def _response_plaintext(core: AcaCore, response: bytes, i: int, j: int) -> bytes:
    """What the EE reads from a response SPDU: unwrap, verify, decrypt as its form says."""
    form = core.variant.response_form
    if form == "plain":
        return response
    if form == "private":
        verified = open_signed_data(response, expected_psid=35)
        assert verified.signer is not None and verified.signer.encoded == core.aca_certificate
        response = verified.payload
    keyring = Keyring()
    key = core.ee_response_private_key(i, j)
    assert key is not None
    keyring.add_response_key(ec.derive_private_key(key, ec.SECP256R1()))
    return decrypt(response, keyring).plaintext


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_each_variant_issues_a_certificate_the_ee_can_open_and_use(variant: Variant) -> None:
    # Given a core for the variant, When it issues certificate (i=5, j=9)
    core = AcaCore(variant)
    assert core.missing == []
    issued = core.issue(5, 9)
    # Then the certificate decodes strictly and names the ACA as its issuer
    cert = Certificate.from_bytes(issued.certificate)
    assert cert.issuer_id == hashing.hashed_id8(core.aca_certificate)
    if variant.cert_type == "explicit":
        verify_signature(cert, core.aca_certificate_object)
    # And the response opens with the EE's key and carries that very certificate
    assert issued.response is not None
    plaintext = _response_plaintext(core, issued.response, 5, 9)
    pdu = asn1.decode("ScmsPdu", unwrap_unsecured(plaintext))
    interface, (kind, body) = pdu["content"]
    assert (interface, kind) == ("aca-ee", "acaEeCertResponse")
    assert asn1.encode("Certificate", body["certificate"]) == issued.certificate
    # And the EE's reconstructed private key matches the certificate's public key
    d = core.ee_certificate_private_key(5, 9, cert.tbs_encoded, issued.private_key_info)
    ecqv.check_key_pair(d, points.from_public_key(cert.public_key(core.aca_certificate_object)))


def test_a_flipped_certificate_signature_bit_fails_verification() -> None:
    core = AcaCore(Variant("explicit", "compact-unified"))
    issued = core.issue(1, 2)
    value = asn1.decode("Certificate", issued.certificate)
    _alternative, body = value["signature"]
    body["sSig"] = bytes([body["sSig"][0] ^ 0x01]) + body["sSig"][1:]
    with pytest.raises(InvalidSignature):
        verify_signature(Certificate.from_value(value), core.aca_certificate_object)


def test_the_response_does_not_open_with_the_key_of_another_j() -> None:
    core = AcaCore(Variant("implicit", "compact-unified"))
    issued = core.issue(5, 9)
    assert issued.response is not None
    with pytest.raises(DecryptionError):
        _response_plaintext(core, issued.response, 5, 10)


def test_a_wrong_private_key_info_fails_the_key_check() -> None:
    core = AcaCore(Variant("implicit", "unified"))
    issued = core.issue(3, 4)
    cert = Certificate.from_bytes(issued.certificate)
    assert issued.private_key_info is not None
    wrong = bytes([issued.private_key_info[0] ^ 0x80]) + issued.private_key_info[1:]
    d = core.ee_certificate_private_key(3, 4, cert.tbs_encoded, wrong)
    with pytest.raises(InvalidKey):
        ecqv.check_key_pair(d, points.from_public_key(cert.public_key(core.aca_certificate_object)))


@pytest.fixture(scope="module")
def tiny_results() -> dict[str, Any]:
    return run(TINY)


def test_a_tiny_run_produces_every_section_and_no_ratio_without_openssl(tiny_results: dict[str, Any]) -> None:
    results = tiny_results
    text = render(results)
    for heading in ("OpenSSL reference", "ASN.1 compile", "strict decode / encode", "ACA per-certificate core",
                    "ACA use case", "ACA core by step", "inside asn1tools", "Per-core scaling"):
        assert heading in text
    assert "No ratios are printed" in text
    assert all(r["ratio"] is None and r["complete"] for r in results["aca"])
    # The real ACA path (scms_aca.issue.issue_batch) is measured for every variant, per certificate.
    assert all(r["use_case"]["us_per_cert"] > 0 and r["use_case"]["burst_us_per_cert"] > 0 for r in results["aca"])
    assert all((r["use_case"]["batch"], r["use_case"]["burst_batch"]) == (3, 5) for r in results["aca"])
    assert all(r["use_case"]["ratio"] is None for r in results["aca"])
    assert {r["variant"] for r in results["aca"]} == {v.name for v in VARIANTS}
    assert all(r["timing"]["us"] > 0 and all(v >= 0 for v in r["steps_us"].values()) for r in results["aca"])
    # The ACA hot path encodes through the COER templates: no asn1tools call per certificate.
    assert all(r["asn1"]["calls_per_cert"] == 0 and r["asn1"]["share"] == 0 for r in results["aca"])
    # The asn1tools timer is removed again: later encodes in this process run unwrapped.
    assert "encode" not in specification().__dict__ and "decode" not in specification().__dict__
    assert results["cold_start"]["first_encode_ms"] > 0
    assert results["scaling"]["certificates"] == TINY.scaling_certificates


def test_ratios_appear_when_openssl_figures_exist(tiny_results: dict[str, Any]) -> None:
    results = dict(tiny_results)
    results["openssl"] = openssl_ref.OpenSSLSpeed(command=("openssl",), version="test", sign_per_s=50_000.0,
                                                  ecdh_per_s=25_000.0).to_json()
    text = render(results)
    assert "No ratios are printed" not in text
    sign_row = text.split("ECDSA P-256 sign", 1)[1].splitlines()[0]
    assert re.search(r" 20\.0 +\d+\.\d\dx$", sign_row), sign_row
