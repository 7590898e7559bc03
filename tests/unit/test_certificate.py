"""1609.2 certificates: real samples (HashedId8, signatures, ECQV keys), issuance and canonical form."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scms_codec import asn1
from scms_codec.cert.certificate import (
    Certificate,
    canonicalize,
    implicit_public_key,
    issue_explicit,
    issue_implicit,
    verify_signature,
)
from scms_codec.crypto import ecqv, keys, points
from scms_codec.errors import CodecError, DecodeError, InvalidSignature
from tests.support.vectors import VECTORS, crypto_cases, h

ENCODED = VECTORS / "encoded"
BC = ENCODED / "bouncycastle-its-certs"


def _load(path: Path) -> Certificate:
    return Certificate.from_bytes(path.read_bytes())


def _flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def _with_value(cert: Certificate, **tbs_changes: Any) -> Certificate:
    value = copy.deepcopy(cert.value)
    value["toBeSigned"].update(tbs_changes)
    return Certificate.from_value(value)


# --- Real certificates: identifiers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "hashed_id8"),
    [
        ("iyourshaw-ieee1609/iss_v2x_root.oer", "7ac9efd3cc396921"),
        ("oscms-asn1c-codecs/RaCertificate.dat", "15e298fe7b1d9199"),
    ],
)
def test_hashed_id8_of_real_certificate(path: str, hashed_id8: str) -> None:
    cert = _load(ENCODED / path)
    assert cert.hashed_id8.hex() == hashed_id8
    assert cert.encoded == cert.received
    assert cert.hashed_id3 == cert.hashed_id8[-3:] and cert.hashed_id10[-8:] == cert.hashed_id8


def test_hashed_id8_changes_when_one_bit_of_the_certificate_changes() -> None:
    data = (ENCODED / "iyourshaw-ieee1609/iss_v2x_root.oer").read_bytes()
    # Octet 30 lies inside the id name; the result is still a decodable certificate.
    assert Certificate.from_bytes(_flip(data, 30)).hashed_id8.hex() != "7ac9efd3cc396921"


def _bsm_pseudonym_certificate() -> Certificate:
    spdu = asn1.decode(
        "Ieee1609Dot2Data", (ENCODED / "usdot-misbehavior-detection/bsm_cert_first_spdu.coer").read_bytes()
    )
    return Certificate.from_value(spdu["content"][1]["signer"][1][0])


def test_bsm_implicit_pseudonym_certificate_is_named_by_the_digest_another_bsm_uses() -> None:
    # Given the implicit certificate carried by one BSM and the digest signer of another BSM
    cert = _bsm_pseudonym_certificate()
    other = asn1.decode(
        "Ieee1609Dot2Data", (ENCODED / "usdot-misbehavior-detection/Ieee1609Dot2Data_bad_accel.coer").read_bytes()
    )
    # Then the certificate's HashedId8 is that digest
    assert cert.is_implicit and not cert.is_self_signed
    assert other["content"][1]["signer"] == ("digest", cert.hashed_id8)
    assert cert.app_psids == frozenset({32, 38, 132})


def test_bsm_pseudonym_certificate_key_needs_its_issuer() -> None:
    with pytest.raises(ValueError, match="issuer"):
        _bsm_pseudonym_certificate().public_key()


def test_non_canonical_bouncycastle_certificate_is_hashed_in_canonical_form() -> None:
    # CERT_IUT_A_N_AT carries an uncompressed verification key: 32 octets longer than canonical.
    cert = _load(BC / "CERT_IUT_A_N_AT.oer")
    assert len(cert.received) == len(cert.encoded) + 32
    assert cert.tbs["verifyKeyIndicator"][1][1][0] in ("compressed-y-0", "compressed-y-1")
    assert cert.public_key() == keys.verification_key_from_asn1(
        asn1.decode("Certificate", cert.received)["toBeSigned"]["verifyKeyIndicator"][1]
    )
    assert Certificate.from_bytes(cert.encoded) == cert


# --- Real certificates: signatures ------------------------------------------------------------------


def test_iss_root_self_signature_verifies() -> None:
    verify_signature(_load(ENCODED / "iyourshaw-ieee1609/iss_v2x_root.oer"), None)


def test_iss_root_with_flipped_signature_bit_is_rejected() -> None:
    data = (ENCODED / "iyourshaw-ieee1609/iss_v2x_root.oer").read_bytes()
    with pytest.raises(InvalidSignature):
        verify_signature(Certificate.from_bytes(_flip(data, len(data) - 1)), None)


def test_iss_root_with_flipped_tbs_bit_is_rejected() -> None:
    data = (ENCODED / "iyourshaw-ieee1609/iss_v2x_root.oer").read_bytes()
    with pytest.raises(InvalidSignature):
        verify_signature(Certificate.from_bytes(_flip(data, 30)), None)


def oscms_chain_certificates() -> dict[str, Certificate]:
    """The root, ICA, ECA, ACA and RA certificates of the OpenSCMS chain file, by SSP role octet."""
    pdu = asn1.decode("ScmsPdu", (ENCODED / "oscms-asn1c-codecs/OscmsCertificateChainFile.dat").read_bytes())
    roles = {0x81: "root", 0x83: "ica", 0x84: "eca", 0x85: "aca", 0x8B: "ra"}
    out = {}
    for value in pdu["content"][1][1]["others"]:
        cert = Certificate.from_value(value)
        out[roles[cert.tbs["appPermissions"][0]["ssp"][1][0]]] = cert
    return out


@pytest.mark.parametrize(
    ("subject", "issuer"), [("root", None), ("ica", "root"), ("eca", "ica"), ("aca", "ica"), ("ra", "ica")]
)
def test_oscms_chain_file_signatures_verify(subject: str, issuer: str | None) -> None:
    certs = oscms_chain_certificates()
    verify_signature(certs[subject], None if issuer is None else certs[issuer])


def test_oscms_ra_certificate_file_is_the_chain_file_ra() -> None:
    assert _load(ENCODED / "oscms-asn1c-codecs/RaCertificate.dat") == oscms_chain_certificates()["ra"]


@pytest.mark.parametrize(("subject", "wrong_issuer"), [("ra", "root"), ("ica", "eca")])
def test_oscms_certificate_under_the_wrong_issuer_is_rejected(subject: str, wrong_issuer: str) -> None:
    certs = oscms_chain_certificates()
    with pytest.raises(InvalidSignature):
        verify_signature(certs[subject], certs[wrong_issuer])


def test_oscms_ra_certificate_with_flipped_tbs_bit_is_rejected() -> None:
    ra = oscms_chain_certificates()["ra"]
    tampered = _with_value(ra, crlSeries=1)
    with pytest.raises(InvalidSignature):
        verify_signature(tampered, oscms_chain_certificates()["ica"])


def _bc_certificates() -> dict[bytes, tuple[str, Certificate]]:
    return {c.hashed_id8: (p.name, c) for p in sorted(BC.glob("*.oer")) for c in [_load(p)]}


# BouncyCastle signs certificates carrying an uncompressed point over the tbs as received, not
# canonicalized as 1609.2 §6.1.2 requires; the three whose own key is brainpoolP384r1 inside a
# 256-bit signature verify under no input tried (canonical, as received, SHA-256, SHA-384).
BC_NOT_CANONICALLY_SIGNED = {
    "CERT_IUT_A_N_AA.oer", "CERT_IUT_A_N_AT.oer", "CERT_IUT_A_B_N_AT.oer", "CERT_IUT_A_B3_N_AT.oer",
    "CERT_IUT_CAM_BO_02_AT.oer", "CERT_IUT_CAM_BO_03_AT.oer", "CERT_IUT_DENM_BO_01_AT.oer",
    "CERT_IUT_DENM_BO_02_AT.oer", "CERT_TS_CAM_BO_02_AT.oer", "CERT_TS_CAM_BO_03_AT.oer",
    "CERT_TS_DENM_BO_01_AT.oer", "CERT_TS_DENM_BO_02_AT.oer",
    "CERT_IUT_A_B3_AA.oer", "CERT_IUT_A_B3_AT.oer", "CERT_TS_B1_AT.oer",
}  # fmt: skip


def _bc_params(verifies: bool) -> list[Any]:
    certs = _bc_certificates()
    return [
        pytest.param(name, id=name)
        for name, cert in certs.values()
        if (cert.is_self_signed or cert.issuer_id in certs) and (name not in BC_NOT_CANONICALLY_SIGNED) == verifies
    ]


@pytest.mark.parametrize("name", _bc_params(verifies=True))
def test_bouncycastle_certificate_verifies_under_its_issuer_found_by_hashed_id8(name: str) -> None:
    certs = {n: c for n, c in _bc_certificates().values()}
    by_id = {c.hashed_id8: c for c in certs.values()}
    cert = certs[name]
    issuer = None if cert.is_self_signed else by_id[cert.issuer_id]  # type: ignore[index]
    verify_signature(cert, issuer)
    # Failing twin: the last octet of the signature flipped.
    with pytest.raises(InvalidSignature):
        verify_signature(Certificate.from_bytes(_flip(cert.encoded, len(cert.encoded) - 1)), issuer)


@pytest.mark.parametrize("name", _bc_params(verifies=False))
def test_bouncycastle_certificate_signed_over_non_canonical_tbs_is_rejected(name: str) -> None:
    certs = {n: c for n, c in _bc_certificates().values()}
    by_id = {c.hashed_id8: c for c in certs.values()}
    cert = certs[name]
    with pytest.raises(InvalidSignature):
        verify_signature(cert, by_id[cert.issuer_id])  # type: ignore[index]


def test_bouncycastle_p384_issuer_is_named_by_its_sha384_hashed_id8() -> None:
    # CERT_IUT_A_B3_AA has a brainpoolP384r1 key: its whole-certificate hash is SHA-384.
    issuer = _load(BC / "CERT_IUT_A_B3_AA.oer")
    subject = _load(BC / "CERT_IUT_A_B33_AT.oer")
    assert issuer.hash_algorithm == "sha384"
    assert subject.issuer_id == issuer.hashed_id8
    verify_signature(subject, issuer)


# --- ECQV implicit certificates (GHS) -----------------------------------------------------------------

GHS_CASES = [c for c in crypto_cases("ecqv_implicit_cert_p256.json") if "certificate_coer_hex" in c.values[0]]


@pytest.mark.parametrize("case", GHS_CASES)
def test_ghs_implicit_certificate_public_key_reconstructs(case: dict[str, Any]) -> None:
    cert = Certificate.from_bytes(h(case["certificate_coer_hex"]))
    issuer_key = keys.public_key_from_sec1(h(case["issuer_public_key_compressed_hex"]))
    assert cert.issuer_id == h(case["issuer_cert_hash_hex"])[-8:]
    q_u = implicit_public_key(cert, h(case["issuer_cert_hash_hex"]), issuer_key)
    assert q_u == keys.public_key_from_sec1(h(case["expected_QU_uncompressed_hex"]))
    # The holder's private key matches it.
    e = int(case["e_hex"], 16)
    d_u = ecqv.reconstruct_private(e, int(case["kU_hex"], 16), int(case["r_private_reconstruction_value_hex"], 16))
    ecqv.check_key_pair(d_u, points.from_public_key(q_u))


@pytest.mark.parametrize("case", GHS_CASES)
def test_ghs_implicit_certificate_with_flipped_tbs_bit_gives_another_key(case: dict[str, Any]) -> None:
    data = h(case["certificate_coer_hex"])
    cert = Certificate.from_bytes(_flip(data, 20))  # inside the validity start
    issuer_key = keys.public_key_from_sec1(h(case["issuer_public_key_compressed_hex"]))
    q_u = implicit_public_key(cert, h(case["issuer_cert_hash_hex"]), issuer_key)
    assert q_u != keys.public_key_from_sec1(h(case["expected_QU_uncompressed_hex"]))


# --- Issuance -----------------------------------------------------------------------------------------


def root_tbs(start: int = 600_000_000) -> dict[str, Any]:
    """A root CA ToBeSignedCertificate (PSID 35 with RootCaSsp 810002, protocol.md §1.1)."""
    return {
        "id": ("name", "root.test"),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {"start": start, "duration": ("years", 20)},
        "appPermissions": [{"psid": 35, "ssp": ("opaque", bytes.fromhex("810002"))}],
        "certIssuePermissions": [
            {"subjectPermissions": ("all", None), "minChainLength": 1, "chainLengthRange": -1, "eeType": (b"\xc0", 8)}
        ],
        "verifyKeyIndicator": ("verificationKey", ("ecdsaNistP256", ("x-only", b"\x00" * 32))),
    }


@pytest.fixture(scope="module")
def root() -> tuple[Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    return issue_explicit(root_tbs(), key.public_key(), None, key), key


def test_issued_root_is_self_signed_canonical_and_round_trips(root: tuple[Certificate, Any]) -> None:
    cert, key = root
    assert cert.is_self_signed and cert.value["issuer"] == ("self", "sha256")
    assert cert.public_key() == key.public_key()
    again = Certificate.from_bytes(cert.encoded)
    assert again == cert and asn1.encode("Certificate", again.value) == cert.encoded
    verify_signature(again, None)
    # eeType {app, enrol} is written; the DEFAULT {app} never is (shared asn1/README.md pitfall 1).
    assert again.tbs["certIssuePermissions"][0]["eeType"] == (b"\xc0", 8)


def test_eetype_app_is_omitted_from_the_encoding() -> None:
    with_default = canonicalize({"toBeSigned": {"certIssuePermissions": [{"eeType": (b"\x80", 8)}]}})
    assert "eeType" not in with_default["toBeSigned"]["certIssuePermissions"][0]
    both = canonicalize({"toBeSigned": {"certIssuePermissions": [{"eeType": (b"\xc0", 8)}]}})
    assert both["toBeSigned"]["certIssuePermissions"][0]["eeType"] == (b"\xc0", 8)


def test_self_signed_issue_refuses_a_foreign_key() -> None:
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ValueError, match="issuer_key"):
        issue_explicit(root_tbs(), key.public_key(), None, other)


def test_explicit_certificate_under_root_verifies_and_not_under_another(root: tuple[Certificate, Any]) -> None:
    root_cert, root_key = root
    key = ec.generate_private_key(ec.SECP256R1())
    tbs = root_tbs() | {
        "id": ("name", "ica.test"),
        "appPermissions": [{"psid": 35, "ssp": ("opaque", b"\x83\x00\x02")}],
    }
    cert = issue_explicit(tbs, key.public_key(), root_cert, root_key)
    assert cert.value["issuer"] == ("sha256AndDigest", root_cert.hashed_id8)
    verify_signature(cert, root_cert)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_root = issue_explicit(root_tbs(), other_key.public_key(), None, other_key)
    with pytest.raises(InvalidSignature):
        verify_signature(cert, other_root)


def test_p384_issuer_is_named_sha384_and_signs_with_sha384() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    root_cert = issue_explicit(root_tbs(), key.public_key(), None, key)
    assert root_cert.value["issuer"] == ("self", "sha384") and root_cert.hash_algorithm == "sha384"
    sub_key = ec.generate_private_key(ec.SECP256R1())
    sub = issue_explicit(root_tbs(), sub_key.public_key(), root_cert, key)
    assert sub.value["issuer"] == ("sha384AndDigest", root_cert.hashed_id8)
    assert sub.value["signature"][0] == "ecdsaNistP384Signature"
    verify_signature(sub, root_cert)


def pseudonym_tbs(start: int = 600_100_000) -> dict[str, Any]:
    """A pseudonym ToBeSignedCertificate: linkageData id, PSID 32, one week plus an hour."""
    return {
        "id": ("linkageData", {"iCert": 7, "linkage-value": bytes(range(9))}),
        "cracaId": b"\x01\x02\x03",
        "crlSeries": 4,
        "validityPeriod": {"start": start, "duration": ("hours", 169)},
        "appPermissions": [{"psid": 32}],
        "verifyKeyIndicator": ("reconstructionValue", ("x-only", b"\x00" * 32)),
    }


def test_issued_implicit_certificate_gives_the_holder_a_matching_key_pair(root: tuple[Certificate, Any]) -> None:
    root_cert, root_key = root
    k_u, r_point = points.generate()
    cert, r = issue_implicit(pseudonym_tbs(), r_point, root_cert, root_key)
    assert cert.is_implicit and "signature" not in cert.value
    assert cert.tbs["verifyKeyIndicator"][1][0] in ("compressed-y-0", "compressed-y-1")
    again = Certificate.from_bytes(cert.encoded)
    assert again == cert
    e = ecqv.certificate_hash_e(cert.tbs_encoded, root_cert.encoded)
    d_u = ecqv.reconstruct_private(e, k_u, r)
    ecqv.check_key_pair(d_u, points.from_public_key(again.public_key(root_cert)))
    with pytest.raises(ValueError, match="implicit"):
        verify_signature(cert, root_cert)


def test_implicit_key_under_the_wrong_issuer_does_not_match(root: tuple[Certificate, Any]) -> None:
    root_cert, root_key = root
    k_u, r_point = points.generate()
    cert, r = issue_implicit(pseudonym_tbs(), r_point, root_cert, root_key)
    d_u = ecqv.reconstruct_private(ecqv.certificate_hash_e(cert.tbs_encoded, root_cert.encoded), k_u, r)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_root = issue_explicit(root_tbs(), other_key.public_key(), None, other_key)
    with pytest.raises(CodecError):
        ecqv.check_key_pair(d_u, points.from_public_key(cert.public_key(other_root)))


def test_uncompressed_point_in_a_certificate_is_canonicalized_before_signing(root: tuple[Certificate, Any]) -> None:
    root_cert, root_key = root
    enc_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    numbers = enc_key.public_numbers()
    tbs = pseudonym_tbs() | {
        "encryptionKey": {
            "supportedSymmAlg": "aes128Ccm",
            "publicKey": (
                "eciesNistP256",
                ("uncompressedP256", {"x": numbers.x.to_bytes(32, "big"), "y": numbers.y.to_bytes(32, "big")}),
            ),
        }
    }
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_explicit(tbs, key.public_key(), root_cert, root_key)
    assert cert.tbs["encryptionKey"]["publicKey"][1][0] in ("compressed-y-0", "compressed-y-1")
    assert cert.encryption_key() == enc_key
    verify_signature(cert, root_cert)


def test_implicit_certificate_with_a_signature_is_refused() -> None:
    value = {
        "version": 3,
        "type": "implicit",
        "issuer": ("sha256AndDigest", b"\x00" * 8),
        "toBeSigned": pseudonym_tbs()
        | {"verifyKeyIndicator": ("reconstructionValue", ("compressed-y-0", points.P256_G[0].to_bytes(32, "big")))},
        "signature": ("ecdsaNistP256Signature", {"rSig": ("x-only", b"\x01" * 32), "sSig": b"\x01" * 32}),
    }
    with pytest.raises(DecodeError, match="implicit"):
        Certificate.from_bytes(asn1.encode("Certificate", value))


# --- Property tests -------------------------------------------------------------------------------------

_regions = st.one_of(
    st.none(),
    st.builds(
        lambda lat, lon, r: ("circularRegion", {"center": {"latitude": lat, "longitude": lon}, "radius": r}),
        st.integers(-900000000, 900000000),
        st.integers(-1799999999, 1800000000),
        st.integers(0, 65535),
    ),
    st.lists(st.integers(0, 999), min_size=1, max_size=4).map(
        lambda cs: ("identifiedRegion", [("countryOnly", c) for c in cs])
    ),
)
_tbs = st.fixed_dictionaries(
    {
        "start": st.integers(0, 2**32 - 1),
        "duration": st.tuples(
            st.sampled_from(["seconds", "minutes", "hours", "sixtyHours", "years"]), st.integers(0, 65535)
        ),
        "psids": st.lists(st.integers(0, 2**28), min_size=1, max_size=4),
        "region": _regions,
    }
)


def _tbs_from(fields: dict[str, Any]) -> dict[str, Any]:
    tbs = pseudonym_tbs() | {
        "validityPeriod": {"start": fields["start"], "duration": fields["duration"]},
        "appPermissions": [{"psid": p} for p in fields["psids"]],
    }
    if fields["region"] is not None:
        tbs["region"] = fields["region"]
    return tbs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=_tbs, explicit=st.booleans())
def test_random_certificate_round_trips_and_verifies(
    root: tuple[Certificate, Any], fields: dict[str, Any], explicit: bool
) -> None:
    root_cert, root_key = root
    tbs = _tbs_from(fields)
    if explicit:
        cert = issue_explicit(tbs, ec.generate_private_key(ec.SECP256R1()).public_key(), root_cert, root_key)
    else:
        cert, _ = issue_implicit(tbs, points.generate()[1], root_cert, root_key)
    again = Certificate.from_bytes(cert.encoded)
    assert again == cert and again.value == cert.value
    assert again.tbs["validityPeriod"] == tbs["validityPeriod"] and again.tbs.get("region") == tbs.get("region")
    if explicit:
        verify_signature(again, root_cert)
    else:
        again.public_key(root_cert)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_certificate_raises_only_codec_errors(root: tuple[Certificate, Any], data: st.DataObject) -> None:
    root_cert, root_key = root
    cert = _mutation_base(root_cert, root_key)
    index = data.draw(st.integers(0, len(cert.encoded) - 1))
    mask = data.draw(st.integers(1, 255))
    mutated = _flip(cert.encoded, index, mask)
    try:
        parsed = Certificate.from_bytes(mutated)
        verify_signature(parsed, root_cert)
    except CodecError:
        return
    # Only a change of non-canonical form (such as the rSig alternative) may still verify.
    assert parsed.encoded == cert.encoded


_MUTATION_BASE: dict[bytes, Certificate] = {}


def _mutation_base(root_cert: Certificate, root_key: ec.EllipticCurvePrivateKey) -> Certificate:
    if root_cert.hashed_id8 not in _MUTATION_BASE:
        key = ec.generate_private_key(ec.SECP256R1())
        tbs = pseudonym_tbs() | {"region": ("identifiedRegion", [("countryOnly", 840)])}
        _MUTATION_BASE[root_cert.hashed_id8] = issue_explicit(tbs, key.public_key(), root_cert, root_key)
    return _MUTATION_BASE[root_cert.hashed_id8]


def test_hashed_id32_is_the_whole_certificate_hash_cut_to_32_octets() -> None:
    # Given the real ISS root (P-256, so SHA-256 over its canonical COER)
    import hashlib

    root = Certificate.from_bytes((VECTORS / "encoded/iyourshaw-ieee1609/iss_v2x_root.oer").read_bytes())
    assert root.hashed_id32 == hashlib.sha256(root.encoded).digest()
    assert root.hashed_id32[-8:] == root.hashed_id8
    # And a P-384 certificate: SHA-384, low-order 32 octets (protocol.md §3.5)
    key = ec.generate_private_key(ec.SECP384R1())
    tbs = {
        "id": ("name", "elector"),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {"start": 600_000_000, "duration": ("years", 1)},
        "appPermissions": [{"psid": 35, "ssp": ("opaque", b"\x80\x00\x02")}],
    }
    elector = issue_explicit(tbs, key.public_key(), None, key)
    assert elector.hashed_id32 == hashlib.sha384(elector.encoded).digest()[-32:]
    assert elector.hashed_id32 != hashlib.sha256(elector.encoded).digest()
