"""Certificates and SPDUs built by our codec, for the interop checks: a small PKI and one SPDU of each kind.

Everything is built through the public codec API (``cert.certificate``, ``secured.*``) so the bytes
other decoders see are exactly the bytes the SCMS would send. Shapes follow protocol.md §1.1-§1.3.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec import asn1
from scms_codec.cert.certificate import Certificate, issue_explicit, issue_implicit
from scms_codec.crypto import points
from scms_codec.secured.cert_request import sign_cert_request
from scms_codec.secured.encrypted_data import encrypt
from scms_codec.secured.recipients import CertRecipient, PskRecipient, RekRecipient, SymmRecipient
from scms_codec.secured.signed_data import sign_data
from scms_codec.secured.signer import Signer
from scms_codec.secured.unsecured import wrap_unsecured
from tests.support.vectors import VECTORS

AsnType = Literal["Certificate", "Ieee1609Dot2Data"]

START = 700_000_000  # a Time32 in 2026 (TAI seconds since 2004-01-01)
EE_TYPE_APP_ENROL = (b"\xc0", 8)  # eeType {app, enrol}: not the DEFAULT {app}, so COER encodes it
SECURITY_MGMT_PSID = 35  # protocol.md §1.1


@dataclass(frozen=True)
class Built:
    """One encoding our codec produced: its name (the test id), ASN.1 type and octets."""

    name: str
    asn1_type: AsnType
    data: bytes


def _tbs(cert_id: tuple[str, Any], **fields: Any) -> dict[str, Any]:
    tbs: dict[str, Any] = {
        "id": cert_id,
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {"start": START, "duration": ("years", 5)},
    }
    tbs.update(fields)
    return tbs


def _ssp(role_ssp_hex: str) -> list[dict[str, Any]]:
    return [{"psid": SECURITY_MGMT_PSID, "ssp": ("opaque", bytes.fromhex(role_ssp_hex))}]


def _encryption_key(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    from scms_codec.crypto.keys import encryption_key_to_asn1

    return encryption_key_to_asn1(key.public_key())


@dataclass(frozen=True)
class Pki:
    """A root → ICA → {RA, ECA, ACA} hierarchy with EE certificates, and the keys SPDUs need."""

    root: Certificate
    ica: Certificate
    ra: Certificate
    ra_key: ec.EllipticCurvePrivateKey
    aca: Certificate
    aca_cubk: Certificate
    enrollment: Certificate
    enrollment_key: ec.EllipticCurvePrivateKey
    pseudonym: Certificate
    pseudonym_group: Certificate
    elector: Certificate


@cache
def pki() -> Pki:
    """Issue the hierarchy once per process (fresh keys each run: the checks do not depend on key values)."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = issue_explicit(
        _tbs(
            ("name", "interop root"),
            appPermissions=_ssp("810002"),
            # minChainLength 2 and eeType {app, enrol} differ from their DEFAULTs, so both are on the wire.
            certIssuePermissions=[
                {
                    "subjectPermissions": ("all", None),
                    "minChainLength": 2,
                    "chainLengthRange": 0,
                    "eeType": EE_TYPE_APP_ENROL,
                },
            ],
        ),
        root_key.public_key(),
        None,
        root_key,
    )
    ica_key = ec.generate_private_key(ec.SECP256R1())
    ica = issue_explicit(
        _tbs(
            ("name", "interop ica"),
            appPermissions=_ssp("830002"),
            certIssuePermissions=[{"subjectPermissions": ("all", None), "eeType": EE_TYPE_APP_ENROL}],
        ),
        ica_key.public_key(),
        root,
        root_key,
    )
    ra_key = ec.generate_private_key(ec.SECP256R1())
    ra_enc = ec.generate_private_key(ec.SECP256R1())
    ra = issue_explicit(
        _tbs(("name", "interop ra"), appPermissions=_ssp("8b0002"), encryptionKey=_encryption_key(ra_enc)),
        ra_key.public_key(),
        ica,
        ica_key,
    )
    aca_key = ec.generate_private_key(ec.SECP256R1())
    # An ACA would keep eeType at its DEFAULT {app}, but the codec cannot decode a group whose eeType is
    # omitted yet (asn1tools fills the DEFAULT in as a 1-bit string and then fails SIZE (8)), so it says
    # {app, enrol}. minChainLength stays at its DEFAULT 1 and is therefore not encoded.
    aca_fields = {
        "appPermissions": _ssp("850002"),
        "certIssuePermissions": [
            {"subjectPermissions": ("explicit", [{"psid": 32}, {"psid": 38}]), "eeType": EE_TYPE_APP_ENROL}
        ],
    }
    aca = issue_explicit(_tbs(("name", "interop aca"), **aca_fields), aca_key.public_key(), ica, ica_key)
    # The same ACA with the 1609.2-2022 addition flags {usesCubk} (protocol.md §1.1, §7).
    aca_cubk = issue_explicit(
        _tbs(("name", "interop aca cubk"), **aca_fields, flags=(b"\x80", 8)), aca_key.public_key(), ica, ica_key
    )
    enrollment_key = ec.generate_private_key(ec.SECP256R1())
    enrollment = issue_explicit(
        _tbs(
            ("binaryId", bytes(range(16))),
            # eeType spelled out for the same codec limitation as the ACA's (see above).
            certRequestPermissions=[
                {"subjectPermissions": ("explicit", [{"psid": 32}, {"psid": 38}]), "eeType": EE_TYPE_APP_ENROL}
            ],
        ),
        enrollment_key.public_key(),
        ica,
        ica_key,
    )
    linkage = {"iCert": 7, "linkage-value": bytes.fromhex("0102030405060708090a")[:9]}
    pseudonym_fields = {
        "appPermissions": [{"psid": 32}, {"psid": 38}],
        "validityPeriod": {"start": START, "duration": ("hours", 169)},
        "cracaId": bytes.fromhex("abcdef"),
        "crlSeries": 1,
    }
    _, request_point = points.generate()
    pseudonym, _r = issue_implicit(_tbs(("linkageData", linkage), **pseudonym_fields), request_point, aca, aca_key)
    group = {"jValue": b"\x00\x00\x00\x0f", "value": bytes(range(9))}
    pseudonym_group, _r = issue_implicit(
        _tbs(("linkageData", {**linkage, "group-linkage-value": group}), **pseudonym_fields),
        request_point,
        aca,
        aca_key,
    )
    elector_key = ec.generate_private_key(ec.SECP384R1())
    elector = issue_explicit(
        _tbs(("name", "interop elector"), appPermissions=_ssp("800002")),
        elector_key.public_key(),
        None,
        elector_key,
    )
    return Pki(
        root=root,
        ica=ica,
        ra=ra,
        ra_key=ra_key,
        aca=aca,
        aca_cubk=aca_cubk,
        enrollment=enrollment,
        enrollment_key=enrollment_key,
        pseudonym=pseudonym,
        pseudonym_group=pseudonym_group,
        elector=elector,
    )


def _sample_tbs_request() -> bytes:
    """The tbsRequest ScmsPdu (eca-ee.eeEcaCertRequest) of the public OpenSCMS sample, re-signed by us."""
    sample = (VECTORS / "encoded/openscms/EeEcaCertRequestSpdu.dat").read_bytes()
    outer = asn1.decode("Ieee1609Dot2Data", sample)
    inner = asn1.decode("SignedCertificateRequest", outer["content"][1])
    tbs_request: bytes = asn1.encode("ScmsPdu", inner["tbsRequest"])
    return tbs_request


@cache
def certificates() -> tuple[Built, ...]:
    """Every certificate of the PKI, by role."""
    p = pki()
    named = {
        "root": p.root,
        "ica": p.ica,
        "ra": p.ra,
        "aca": p.aca,
        "aca_cubk": p.aca_cubk,
        "enrollment": p.enrollment,
        "pseudonym": p.pseudonym,
        "pseudonym_group": p.pseudonym_group,
        "elector_p384": p.elector,
    }
    return tuple(Built(f"cert-{name}", "Certificate", cert.encoded) for name, cert in named.items())


def _crls(signer: Signer, craca: bytes) -> list[tuple[str, bytes]]:
    """The CRL generator's two CRL kinds (scms_crlg.publish bodies), SecuredCrl as it signs them."""
    from scms_crlg.publish import hash_crl_body, linked_crl_body
    from scms_service.stores.crl_entries import HashedEntry, LinkedEntry

    from scms_codec.spdu.crl import CrlContents, build_secured_crl

    la1, la2 = b"\x8e\x09", b"\x59\xce"
    linked = linked_crl_body(
        [LinkedEntry(la1, la2, bytes(range(16)), bytes(range(16, 32)), 3, 20, 9, "r", START),
         LinkedEntry(la1, la2, bytes(range(32, 48)), bytes(range(48, 64)), 4, 4, 9, "r", START)],
        i_rev=5,
    )  # fmt: skip
    hashed = hash_crl_body([HashedEntry(bytes(range(10)), START + 3600, "r")], START)
    return [
        (f"crl-{kind}", build_secured_crl(CrlContents(series, craca, START, START + 86400, (body.kind, body.value)),
                                          signer))
        for kind, series, body in (("linked", 1, linked), ("hash", 2, hashed))
    ]  # fmt: skip


@cache
def spdus() -> tuple[Built, ...]:
    """One SPDU per wrapper shape of protocol.md §1.3 that the codec builds today."""
    p = pki()
    payload = asn1.encode("ScmsPdu", {"version": 2, "content": ("ee-ma", None)})
    ra_signer = Signer(p.ra_key, p.ra)
    ee_key = ec.generate_private_key(ec.SECP256R1())
    signed = sign_data(payload, SECURITY_MGMT_PSID, ra_signer)
    built = [
        ("unsecured", wrap_unsecured(payload)),
        ("signed-certificate", signed),
        ("signed-digest", sign_data(payload, SECURITY_MGMT_PSID, ra_signer, signer_form="digest")),
        ("signed-self", sign_data(payload, SECURITY_MGMT_PSID, Signer(ee_key), signer_form="self")),
        ("cert-request-self", sign_cert_request(_sample_tbs_request(), Signer(ee_key))),
        ("cert-request-enrollment", sign_cert_request(_sample_tbs_request(), Signer(p.enrollment_key, p.enrollment))),
        ("encrypted-cert", encrypt(signed, CertRecipient(p.ra))),
        ("encrypted-rek", encrypt(signed, RekRecipient(ee_key.public_key()))),
        ("encrypted-symm", encrypt(signed, SymmRecipient(bytes(16)))),
        ("encrypted-psk", encrypt(signed, PskRecipient(bytes(range(16))))),
        ("encrypted-two-recipients", encrypt(signed, [CertRecipient(p.ra), RekRecipient(ee_key.public_key())])),
        *_crls(ra_signer, p.root.hashed_id8),
    ]
    return tuple(Built(f"spdu-{name}", "Ieee1609Dot2Data", data) for name, data in built)
