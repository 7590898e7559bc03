"""Chain walk to a trusted anchor: ids, signatures/ECQV, validity nesting, regions, permissions."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec import asn1
from scms_codec.cert.certificate import Certificate, issue_explicit, issue_implicit
from scms_codec.cert.chain import verify_chain
from scms_codec.crypto import ecqv, points
from scms_codec.errors import ChainError
from tests.support.vectors import VECTORS
from tests.unit.test_certificate import oscms_chain_certificates

BC = VECTORS / "encoded" / "bouncycastle-its-certs"
START = 600_000_000
AT = START + 1000

ALL_CA = {"subjectPermissions": ("all", None), "minChainLength": 1, "chainLengthRange": -1, "eeType": (b"\xc0", 8)}


def _tbs(name: str, ssp: str | None, *, years: int = 10, start: int = START, **extra: Any) -> dict[str, Any]:
    tbs: dict[str, Any] = {
        "id": ("name", name),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {"start": start, "duration": ("years", years)},
        "verifyKeyIndicator": ("verificationKey", ("ecdsaNistP256", ("x-only", b"\x00" * 32))),
    }
    if ssp is not None:
        tbs["appPermissions"] = [{"psid": 35, "ssp": ("opaque", bytes.fromhex(ssp))}]
    tbs.update(extra)
    return tbs


@dataclass
class Pki:
    root: Certificate
    ica: Certificate
    eca: Certificate
    aca: Certificate
    ra: Certificate
    enrollment: Certificate
    pseudonym: Certificate
    keys: dict[str, ec.EllipticCurvePrivateKey]


def _issue(
    tbs: dict[str, Any], issuer: Certificate | None, issuer_key: ec.EllipticCurvePrivateKey | None
) -> tuple[Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    return issue_explicit(tbs, key.public_key(), issuer, issuer_key or key), key


@pytest.fixture(scope="module")
def pki() -> Pki:
    """Root → ICA → {ECA, ACA, RA}; an explicit enrollment cert (ECA) and an implicit pseudonym cert (ACA)."""
    keys: dict[str, ec.EllipticCurvePrivateKey] = {}
    root, keys["root"] = _issue(_tbs("root", "810002", years=30, certIssuePermissions=[ALL_CA]), None, None)
    ica_perms = [dict(ALL_CA)]
    ica, keys["ica"] = _issue(_tbs("ica", "830002", years=20, certIssuePermissions=ica_perms), root, keys["root"])
    eca_perms = [
        {"subjectPermissions": ("explicit", [{"psid": 32}, {"psid": 35}]), "minChainLength": 1, "eeType": (b"\x40", 8)}
    ]
    eca, keys["eca"] = _issue(_tbs("eca", "840002", certIssuePermissions=eca_perms), ica, keys["ica"])
    aca_perms = [{"subjectPermissions": ("explicit", [{"psid": 32}, {"psid": 35}]), "eeType": (b"\xc0", 8)}]
    aca, keys["aca"] = _issue(_tbs("aca", "850002", certIssuePermissions=aca_perms), ica, keys["ica"])
    ra, keys["ra"] = _issue(_tbs("ra", "8b0002"), ica, keys["ica"])
    enrol_tbs = _tbs(
        "obu-1",
        None,
        years=3,
        certRequestPermissions=[{"subjectPermissions": ("explicit", [{"psid": 32}]), "eeType": (b"\xc0", 8)}],
    )
    enrollment, keys["enrollment"] = _issue(enrol_tbs, eca, keys["eca"])
    pseudo_tbs = _tbs("unused", None, start=START + 500) | {
        "id": ("linkageData", {"iCert": 3, "linkage-value": bytes(9)}),
        "validityPeriod": {"start": START + 500, "duration": ("hours", 169)},
        "appPermissions": [{"psid": 32}],
        "verifyKeyIndicator": ("reconstructionValue", ("x-only", b"\x00" * 32)),
    }
    k_u, r_point = points.generate()
    pseudonym, r = issue_implicit(pseudo_tbs, r_point, aca, keys["aca"])
    d_u = ecqv.reconstruct_private(ecqv.certificate_hash_e(pseudonym.tbs_encoded, aca.encoded), k_u, r)
    keys["pseudonym"] = ec.derive_private_key(d_u, ec.SECP256R1())
    return Pki(root, ica, eca, aca, ra, enrollment, pseudonym, keys)


@pytest.mark.parametrize("leaf", ["ica", "eca", "aca", "ra", "enrollment", "pseudonym"])
def test_issued_chain_verifies_to_the_root(pki: Pki, leaf: str) -> None:
    cert = getattr(pki, leaf)
    others = [pki.ica, pki.eca, pki.aca, pki.ra]
    path = verify_chain(cert, others, [pki.root], at=AT + 600)
    assert path[0] is cert and path[-1] is pki.root
    assert Certificate.from_bytes(cert.encoded) == cert


def test_anchors_may_be_a_mapping_by_hashed_id8(pki: Pki) -> None:
    assert verify_chain(pki.ra, [pki.ica], {pki.root.hashed_id8: pki.root}, at=AT)[-1] is pki.root
    with pytest.raises(ValueError, match="anchors"):
        verify_chain(pki.ra, [pki.ica], {b"\x00" * 8: pki.root}, at=AT)


def test_pseudonym_key_from_the_chain_matches_the_holder_key(pki: Pki) -> None:
    path = verify_chain(pki.pseudonym, [pki.aca, pki.ica], [pki.root], at=AT + 600)
    assert path[0].public_key(pki.aca) == pki.keys["pseudonym"].public_key()


def test_missing_intermediate_is_a_chain_error(pki: Pki) -> None:
    with pytest.raises(ChainError, match="neither given nor trusted"):
        verify_chain(pki.ra, [], [pki.root], at=AT)


def test_untrusted_root_is_a_chain_error(pki: Pki) -> None:
    other, _ = _issue(_tbs("other-root", "810002", years=30, certIssuePermissions=[ALL_CA]), None, None)
    with pytest.raises(ChainError):
        verify_chain(pki.ra, [pki.ica], [other], at=AT)
    with pytest.raises(ChainError, match="self-signed"):
        verify_chain(pki.ra, [pki.ica, pki.root], [other], at=AT)


def test_certificate_presented_with_a_wrong_issuer_id_is_a_chain_error(pki: Pki) -> None:
    # Given the RA certificate re-labelled as issued by the ECA
    value = copy.deepcopy(pki.ra.value)
    value["issuer"] = ("sha256AndDigest", pki.eca.hashed_id8)
    relabelled = Certificate.from_value(value)
    # Then the ECA's key does not verify it
    with pytest.raises(ChainError, match="signature"):
        verify_chain(relabelled, [pki.ica, pki.eca], [pki.root], at=AT)


def test_tampered_certificate_is_a_chain_error(pki: Pki) -> None:
    value = copy.deepcopy(pki.ra.value)
    value["toBeSigned"]["crlSeries"] = 9
    with pytest.raises(ChainError, match="signature"):
        verify_chain(Certificate.from_value(value), [pki.ica], [pki.root], at=AT)


def test_time_outside_validity_is_a_chain_error(pki: Pki) -> None:
    with pytest.raises(ChainError, match="not valid at"):
        verify_chain(pki.ra, [pki.ica], [pki.root], at=START - 1)
    with pytest.raises(ChainError, match="not valid at"):
        verify_chain(pki.pseudonym, [pki.aca, pki.ica], [pki.root], at=START + 500 + 169 * 3600 + 1)


def test_subject_outliving_its_issuer_is_a_chain_error(pki: Pki) -> None:
    long_lived, _ = _issue(_tbs("ra-long", "8b0002", years=25), pki.ica, pki.keys["ica"])
    with pytest.raises(ChainError, match="not inside its issuer"):
        verify_chain(long_lived, [pki.ica], [pki.root], at=AT)


def test_psid_outside_issue_permissions_is_a_chain_error(pki: Pki) -> None:
    # The ACA may issue PSIDs 32 and 35 only.
    tbs = _tbs("rogue", None, appPermissions=[{"psid": 36}])
    rogue, _ = _issue(tbs, pki.aca, pki.keys["aca"])
    with pytest.raises(ChainError, match="PSID 36"):
        verify_chain(rogue, [pki.aca, pki.ica], [pki.root], at=AT)


def test_eca_cannot_issue_authorization_certificates(pki: Pki) -> None:
    # The ECA's group has eeType {enrol}: an appPermissions certificate under it breaks the chain.
    tbs = _tbs("wrong-kind", None, appPermissions=[{"psid": 32}])
    cert, _ = _issue(tbs, pki.eca, pki.keys["eca"])
    with pytest.raises(ChainError, match=r"\(app\)"):
        verify_chain(cert, [pki.eca, pki.ica], [pki.root], at=AT)


def test_chain_longer_than_allowed_is_a_chain_error(pki: Pki) -> None:
    # A sub-CA under the ACA: the ACA's group has the DEFAULT minChainLength 1, range 0.
    sub_perms = [{"subjectPermissions": ("explicit", [{"psid": 32}]), "eeType": (b"\xc0", 8)}]
    sub, sub_key = _issue(_tbs("sub-aca", None, certIssuePermissions=sub_perms), pki.aca, pki.keys["aca"])
    leaf, _ = _issue(_tbs("leaf", None, appPermissions=[{"psid": 32}]), sub, sub_key)
    with pytest.raises(ChainError, match="chain length 2"):
        verify_chain(leaf, [sub, pki.aca, pki.ica], [pki.root], at=AT)


def test_issuer_without_issue_permissions_breaks_the_chain(pki: Pki) -> None:
    leaf, _ = _issue(_tbs("under-ra", None, appPermissions=[{"psid": 32}]), pki.ra, pki.keys["ra"])
    with pytest.raises(ChainError, match="no certIssuePermissions"):
        verify_chain(leaf, [pki.ra, pki.ica], [pki.root], at=AT)


def test_ca_with_default_ee_type_round_trips(pki: Pki) -> None:
    # Given issue permissions that leave eeType at its DEFAULT {app}
    perms = [{"subjectPermissions": ("explicit", [{"psid": 32}])}]
    cert, _ = _issue(_tbs("default-ee", None, certIssuePermissions=perms), pki.ica, pki.keys["ica"])
    # Then COER omits it (X.696 forbids encoding a DEFAULT value) and strict decoding restores it in full size
    encoded_group = asn1.encode("PsidGroupPermissions", cert.tbs["certIssuePermissions"][0])
    assert encoded_group == asn1.encode("PsidGroupPermissions", {**perms[0]})
    assert cert.tbs["certIssuePermissions"][0]["eeType"] == (b"\x80", 8)
    assert Certificate.from_bytes(cert.encoded).encoded == cert.encoded


def test_region_must_lie_inside_the_issuers(pki: Pki) -> None:
    us = ("identifiedRegion", [("countryOnly", 840)])
    ca, ca_key = _issue(_tbs("us-aca", None, region=us, certIssuePermissions=[dict(ALL_CA)]), pki.ica, pki.keys["ica"])
    inside, _ = _issue(_tbs("us-obu", None, region=us, appPermissions=[{"psid": 32}]), ca, ca_key)
    verify_chain(inside, [ca, pki.ica], [pki.root], at=AT)
    canada = ("identifiedRegion", [("countryOnly", 124)])
    outside, _ = _issue(_tbs("ca-obu", None, region=canada, appPermissions=[{"psid": 32}]), ca, ca_key)
    with pytest.raises(ChainError, match="region"):
        verify_chain(outside, [ca, pki.ica], [pki.root], at=AT)


def test_circle_must_lie_inside_the_issuers_circle(pki: Pki) -> None:
    def circle(lat: int, radius: int) -> tuple[str, Any]:
        return ("circularRegion", {"center": {"latitude": lat, "longitude": 0}, "radius": radius})

    ca, ca_key = _issue(
        _tbs("c-aca", None, region=circle(0, 10_000), certIssuePermissions=[dict(ALL_CA)]), pki.ica, pki.keys["ica"]
    )
    # 0.05° of latitude is about 5.56 km: 5.56 + 4 km fits in 10 km, 5.56 + 5 km does not.
    inside, _ = _issue(_tbs("in", None, region=circle(500_000, 4_000), appPermissions=[{"psid": 32}]), ca, ca_key)
    verify_chain(inside, [ca, pki.ica], [pki.root], at=AT)
    outside, _ = _issue(_tbs("out", None, region=circle(500_000, 5_000), appPermissions=[{"psid": 32}]), ca, ca_key)
    with pytest.raises(ChainError, match="not inside"):
        verify_chain(outside, [ca, pki.ica], [pki.root], at=AT)


# --- Real chains ---------------------------------------------------------------------------------------


def test_oscms_chain_breaks_nesting_and_permission_rules() -> None:
    # The OpenSCMS sample (protocol.md §7: test data breaks rules) verifies signature by signature
    # (test_certificate.py), but its ICA outlives its root by 139 s (and no CA has certIssuePermissions).
    certs = oscms_chain_certificates()
    at = certs["ra"].validity[0] + 10
    with pytest.raises(ChainError, match="not inside its issuer"):
        verify_chain(certs["ra"], [certs["ica"]], [certs["root"]], at=at)


def _bc(name: str) -> Certificate:
    return Certificate.from_bytes((BC / f"{name}.oer").read_bytes())


BC_ALL = [Certificate.from_bytes(p.read_bytes()) for p in sorted(BC.glob("*.oer"))]
BC_ANCHORS = [c for c in BC_ALL if c.is_self_signed]


@pytest.mark.parametrize(
    "name",
    [
        "CERT_IUT_A_AT",
        "CERT_IUT_A1_AT",
        "CERT_IUT_A_B_AT",
        "CERT_IUT_B_AT",
        "CERT_IUT_C_AT",
        "CERT_IUT_D_AT",
        "CERT_IUT_E_AT_8",
        "CERT_TS_A_AT",
        "CERT_TS_F_AT",
    ],
)
def test_bouncycastle_etsi_chain_verifies(name: str) -> None:
    leaf = _bc(name)
    path = verify_chain(leaf, BC_ALL, BC_ANCHORS, at=leaf.validity[0] + 10)
    assert len(path) == 3 and path[-1].is_self_signed


def test_bouncycastle_chain_without_its_root_is_a_chain_error() -> None:
    leaf = _bc("CERT_IUT_A_AT")
    other_root = _bc("CERT_IUT_C_RCA")
    with pytest.raises(ChainError, match="self-signed"):
        verify_chain(leaf, BC_ALL, [other_root], at=leaf.validity[0] + 10)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        # C_RCA allows PSID 623 only at chain length 2: CC_AA's own 623 permission is not covered.
        ("CERT_IUT_CC_AA", "PSID 623"),
        # C3_AA's rectangle reaches north of its root's.
        ("CERT_IUT_C3_AA", "region"),
        # TS_A_EA may issue 623 at length 1 although its root allows 623 only at length 1 from itself.
        ("CERT_TS_A_EA", "wider"),
    ],
)
def test_bouncycastle_certificate_breaking_a_chain_rule_is_a_chain_error(name: str, reason: str) -> None:
    leaf = _bc(name)
    with pytest.raises(ChainError, match=reason):
        verify_chain(leaf, BC_ALL, BC_ANCHORS, at=leaf.validity[0] + 10)
