"""spdu.ra_aca_template against asn1tools (spdu.ra_aca.build_ra_aca_cert_request), byte for byte."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from scms_aca import wire

from scms_codec import asn1
from scms_codec.crypto import keys
from scms_codec.errors import InvalidSignature
from scms_codec.secured.signer import Signer
from scms_codec.spdu._values import data_value
from scms_codec.spdu._wrap import scms_pdu_bytes
from scms_codec.spdu.plv import encrypt_plv
from scms_codec.spdu.ra_aca import LinkageInfo, RaAcaCertRequest, parse_ra_aca_cert_request
from scms_codec.spdu.ra_aca_template import Outside, RaAcaRequestSigner, ra_aca_cert_request_pdu
from tests.support.pki import build_pki
from tests.unit.aca.simulator import KINDS, Ra
from tests.unit.test_templates import tbs_certificate

NOW = 700_000_000
PKI = build_pki()
RA = Ra(PKI.ra, epoch=NOW - 1000)
VARIANTS = [(t, k) for t in ("explicit", "implicit") for k in KINDS]
LINKAGE = LinkageInfo(
    encrypt_plv(b"\x00\x01", os.urandom(9), os.urandom(16)), encrypt_plv(b"\x00\x02", os.urandom(9), os.urandom(16))
)


def _pdu(content: RaAcaCertRequest) -> bytes:
    key = None if content.cert_enc_key is None else keys.point_to_asn1(content.cert_enc_key)
    return ra_aca_cert_request_pdu(
        content.generation_time, content.type, content.tbs_cert, butterfly_explicit=content.butterfly_explicit,
        cubk=content.cubk, linkage=content.linkage_info, cert_enc_key=key,
    )  # fmt: skip


def _by_asn1tools(content: RaAcaCertRequest, signature: Any, signer: Signer) -> bytes:
    """What sign_cert_request writes for ``content`` with ``signature`` (asn1tools throughout)."""
    assert signer.certificate is not None
    request = {
        "hashAlgorithmId": "sha256",
        "tbsRequest": asn1.decode("ScmsPdu", scms_pdu_bytes(content)),
        "signer": ("certificate", [signer.certificate.value]),
        "signature": signature,
    }
    inner = asn1.encode("SignedCertificateRequest", request)
    return asn1.encode("Ieee1609Dot2Data", {"protocolVersion": 3, "content": ("signedCertificateRequest", inner)})


@pytest.mark.parametrize(("cert_type", "kind"), VARIANTS, ids=[f"{t}-{k}" for t, k in VARIANTS])
def test_the_template_writes_the_octets_of_the_codec_builder_for_every_variant(cert_type: Any, kind: Any) -> None:
    # Given the request content an RA sends for the variant (cocoon key, certEncKey, flags, linkage),
    content = RA.content(cert_type, kind, 4, 7, generation_time=NOW)
    # When the template writes the ScmsPdu and the signer signs it,
    pdu = _pdu(content)
    spdu = RaAcaRequestSigner(PKI.ra).sign(pdu)
    # Then the ScmsPdu is asn1tools' to the octet, and so is the whole SPDU with the same signature,
    assert pdu == scms_pdu_bytes(content), f"\n{pdu.hex()}\n{scms_pdu_bytes(content).hex()}"
    signature = asn1.decode("SignedCertificateRequest", data_value(spdu)["content"][1])["signature"]
    assert spdu == _by_asn1tools(content, signature, PKI.ra)
    # which the ACA's strict parser opens (RA signature verified) to the same content, as does its fast reader.
    opened = parse_ra_aca_cert_request(spdu)
    assert opened.content.to_asn1() == content.to_asn1() and opened.signer == PKI.ra.certificate
    assert wire.read_ra_aca_cert_request(spdu) is not None


def test_a_flipped_signature_bit_does_not_verify() -> None:
    # Twin of the above: the signature is over the very octets written.
    spdu = RaAcaRequestSigner(PKI.ra).sign(_pdu(RA.content("implicit", "unified", 1, 0, generation_time=NOW)))
    parse_ra_aca_cert_request(spdu)
    with pytest.raises(InvalidSignature):
        parse_ra_aca_cert_request(spdu[:-1] + bytes([spdu[-1] ^ 1]))


def test_region_assurance_level_and_ssps_are_written_as_asn1tools_does_or_left_to_it() -> None:
    base = RA.content("explicit", "original", 2, 0, generation_time=NOW)
    tbs = dict(base.tbs_cert)
    tbs["region"] = ("identifiedRegion", [("countryOnly", 840), ("countryOnly", 124)])
    tbs["appPermissions"] = [
        {"psid": 32, "ssp": ("opaque", b"\x01\x02")},
        {"psid": 0x2040, "ssp": ("bitmapSsp", b"\x81")},
    ]
    with_region = replace(base, tbs_cert=tbs)
    assert _pdu(with_region) == scms_pdu_bytes(with_region)
    # assuranceLevel is outside the certificate template: Outside, so the caller uses asn1tools.
    with pytest.raises(Outside):
        _pdu(replace(base, tbs_cert={**tbs, "assuranceLevel": b"\xe0"}))
    with pytest.raises(Outside):
        _pdu(replace(base, tbs_cert={**tbs, "region": ("circularRegion", {"center": {}, "radius": 1})}))


@settings(max_examples=200, deadline=None)
@given(
    tbs=tbs_certificate,
    generation_time=st.integers(0, 2**32 - 1),
    cert_type=st.sampled_from(["explicit", "implicit"]),
    butterfly_explicit=st.booleans(),
    cubk=st.booleans(),
    linkage=st.sampled_from([None, LINKAGE]),
    key=st.sampled_from([None, ec.generate_private_key(ec.SECP256R1()).public_key()]),
)
def test_the_template_matches_asn1tools_for_any_value_of_its_shape(
    tbs: dict[str, Any], generation_time: int, cert_type: Any, butterfly_explicit: bool, cubk: bool,
    linkage: LinkageInfo | None, key: ec.EllipticCurvePublicKey | None,
) -> None:  # fmt: skip
    content = RaAcaCertRequest(
        generation_time, cert_type, tbs, butterfly_explicit=butterfly_explicit, cubk=cubk, linkage_info=linkage,
        cert_enc_key=key,
    )  # fmt: skip
    assert _pdu(content) == scms_pdu_bytes(content)


@pytest.mark.parametrize(
    "change",
    [
        {"type": "extension-type"},
        {"tbs_cert": {"id": ("none", None)}},
        {"generation_time": 2**32},
    ],
    ids=["unknown-type", "tbs-missing-members", "time-out-of-range"],
)
def test_values_outside_the_shape_raise_outside(change: dict[str, Any]) -> None:
    content = replace(RA.content("explicit", "unified", 2, 0, generation_time=NOW), **change)
    with pytest.raises(Outside):
        _pdu(content)


def test_only_a_p256_certificate_signer_is_signed_by_the_template() -> None:
    assert RaAcaRequestSigner(PKI.ra) is not None
    with pytest.raises(Outside):
        RaAcaRequestSigner(Signer(ec.generate_private_key(ec.SECP256R1())))  # self: no certificate
    with pytest.raises(Outside):
        RaAcaRequestSigner(Signer(ec.generate_private_key(ec.SECP384R1()), PKI.ra.certificate))
    with pytest.raises(TypeError):
        RaAcaRequestSigner(PKI.ra.key)  # type: ignore[arg-type]
    assert "key" not in repr(RaAcaRequestSigner(PKI.ra)).replace("<RA key>", "")
