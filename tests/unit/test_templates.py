"""The COER templates (cert/template.py, secured/template.py) against asn1tools, byte for byte."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from scms_codec import asn1
from scms_codec.cert import template as cert_template
from scms_codec.cert.certificate import Certificate
from scms_codec.crypto.hashing import hashed_id8
from scms_codec.crypto.keys import encryption_key_to_asn1
from scms_codec.errors import EncodeError
from scms_codec.secured import template
from scms_codec.secured.recipients import rek_recipient_id

PROPERTY = settings(max_examples=300, deadline=None)


def octets(n: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=n, max_size=n)


uint16 = st.integers(0, 0xFFFF)
point = st.tuples(st.sampled_from(["compressed-y-0", "compressed-y-1"]), octets(32))
linkage = st.fixed_dictionaries(
    {"iCert": uint16, "linkage-value": octets(9)},
    optional={"group-linkage-value": st.fixed_dictionaries({"jValue": octets(4), "value": octets(9)})},
)
cert_id = st.one_of(st.tuples(st.just("linkageData"), linkage), st.just(("none", None)))
duration = st.tuples(
    st.sampled_from(["microseconds", "milliseconds", "seconds", "minutes", "hours", "sixtyHours", "years"]), uint16
)
ssp = st.one_of(
    st.tuples(st.just("opaque"), st.binary(max_size=300)), st.tuples(st.just("bitmapSsp"), st.binary(max_size=31))
)
psid = st.one_of(st.integers(0, 0x7F), st.integers(0, 2**32 - 1), st.integers(0, 2**70))
psid_ssp = st.fixed_dictionaries({"psid": psid}, optional={"ssp": ssp})
region = st.tuples(st.just("identifiedRegion"), st.lists(st.tuples(st.just("countryOnly"), uint16), max_size=4))
encryption_key = st.fixed_dictionaries(
    {"supportedSymmAlg": st.just("aes128Ccm"), "publicKey": st.tuples(st.just("eciesNistP256"), point)}
)
indicator = st.one_of(
    st.tuples(st.just("verificationKey"), st.tuples(st.just("ecdsaNistP256"), point)),
    st.tuples(st.just("reconstructionValue"), point),
)
tbs_certificate = st.fixed_dictionaries(
    {
        "id": cert_id,
        "cracaId": octets(3),
        "crlSeries": uint16,
        "validityPeriod": st.fixed_dictionaries({"start": st.integers(0, 2**32 - 1), "duration": duration}),
        "appPermissions": st.lists(psid_ssp, max_size=4),
        "verifyKeyIndicator": indicator,
    },
    optional={"region": region, "encryptionKey": encryption_key},
)
ecdsa_signature = st.tuples(
    st.just("ecdsaNistP256Signature"),
    st.fixed_dictionaries({"rSig": st.tuples(st.sampled_from(["x-only", "compressed-y-0"]), octets(32)),
                           "sSig": octets(32)}),
)
issuer = st.one_of(st.tuples(st.just("sha256AndDigest"), octets(8)), st.tuples(st.just("self"),
                                                                            st.sampled_from(["sha256", "sha384"])))


@st.composite
def certificates(draw: st.DrawFn) -> dict[str, Any]:
    value: dict[str, Any] = {"version": 3, "type": draw(st.sampled_from(["explicit", "implicit"])),
                             "issuer": draw(issuer), "toBeSigned": draw(tbs_certificate)}
    if draw(st.booleans()):
        value["signature"] = draw(ecdsa_signature)
    return value


unsecured = st.builds(lambda p: {"protocolVersion": 3, "content": ("unsecuredData", p)}, st.binary(max_size=300))
ecies_key = st.fixed_dictionaries({"v": point, "c": octets(16), "t": octets(16)})
pk_recipient = st.tuples(
    st.sampled_from(["certRecipInfo", "signedDataRecipInfo", "rekRecipInfo"]),
    st.fixed_dictionaries({"recipientId": octets(8), "encKey": st.tuples(st.just("eciesNistP256"), ecies_key)}),
)
recipient = st.one_of(pk_recipient, st.tuples(st.just("pskRecipInfo"), octets(8)))
encrypted = st.builds(
    lambda recipients, nonce, ct: {"protocolVersion": 3, "content": ("encryptedData", {
        "recipients": recipients, "ciphertext": ("aes128ccm", {"nonce": nonce, "ccmCiphertext": ct})})},
    st.lists(recipient, min_size=1, max_size=3), octets(12), st.binary(max_size=400),
)
signer = st.one_of(st.tuples(st.just("digest"), octets(8)), st.just(("self", None)),
                   st.tuples(st.just("certificate"), st.lists(certificates(), min_size=1, max_size=1)))


def tbs_data_of(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda data, p: {"payload": {"data": data}, "headerInfo": {"psid": p}}, inner, psid)


signed = st.builds(
    lambda hash_id, tbs, who, sig: {"protocolVersion": 3, "content": ("signedData", {
        "hashId": hash_id, "tbsData": tbs, "signer": who, "signature": sig})},
    st.sampled_from(["sha256", "sha384"]), tbs_data_of(st.one_of(unsecured, encrypted)), signer, ecdsa_signature,
)
data = st.one_of(unsecured, encrypted, signed)
@st.composite
def response_pdus(draw: st.DrawFn) -> dict[str, Any]:
    response: dict[str, Any] = {"version": 2, "generationTime": draw(st.integers(0, 2**32 - 1)),
                                "certificate": draw(certificates())}
    if draw(st.booleans()):
        response["privateKeyInfo"] = draw(octets(32))
    return {"version": 2, "content": ("aca-ee", ("acaEeCertResponse", response))}


response_pdu = response_pdus()


def assert_template_matches(type_name: str, value: Any) -> bytes:
    """The template's octets equal asn1tools', or the template refused a value asn1tools refuses too."""
    produced = template.TEMPLATES[type_name](value)
    expected = asn1.encode(type_name, value)
    assert produced.hex() == expected.hex()
    return produced


# --- Given template-shaped values, the template is asn1tools byte for byte ----------------------


@PROPERTY
@given(tbs_certificate)
def test_tbs_certificate_template_equals_asn1tools(value: dict[str, Any]) -> None:
    assert_template_matches("ToBeSignedCertificate", value)


@PROPERTY
@given(certificates())
def test_certificate_template_equals_asn1tools_and_decodes_back_to_the_value(value: dict[str, Any]) -> None:
    encoded = assert_template_matches("Certificate", value)
    # Certificate._build relies on this: no DEFAULTs in the shape, so the decode is the value itself.
    assert asn1.decode("Certificate", encoded) == value


@PROPERTY
@given(data)
def test_ieee1609dot2_data_template_equals_asn1tools(value: dict[str, Any]) -> None:
    assert_template_matches("Ieee1609Dot2Data", value)


@PROPERTY
@given(tbs_data_of(data))
def test_to_be_signed_data_template_equals_asn1tools(value: dict[str, Any]) -> None:
    assert_template_matches("ToBeSignedData", value)


@PROPERTY
@given(response_pdu)
def test_aca_ee_cert_response_template_equals_asn1tools(value: dict[str, Any]) -> None:
    assert_template_matches("ScmsPdu", value)


@PROPERTY
@given(encryption_key)
def test_public_encryption_key_template_equals_asn1tools(value: dict[str, Any]) -> None:
    assert_template_matches("PublicEncryptionKey", value)


@PROPERTY
@given(st.binary(max_size=300))
def test_unsecured_data_equals_asn1tools(payload: bytes) -> None:
    expected = asn1.encode("Ieee1609Dot2Data", {"protocolVersion": 3, "content": ("unsecuredData", payload)})
    assert template.unsecured_data(payload) == expected


# --- Failing twins: a different value gives different octets; an invalid one is refused -------


@PROPERTY
@given(certificates(), st.integers(1, 0xFFFF))
def test_certificate_template_output_changes_with_the_crl_series(value: dict[str, Any], delta: int) -> None:
    original = asn1.encode("Certificate", value)
    changed = {**value, "toBeSigned": {**value["toBeSigned"],
                                       "crlSeries": (value["toBeSigned"]["crlSeries"] + delta) & 0xFFFF}}
    assert cert_template.certificate(changed) != original


@PROPERTY
@given(response_pdu)
def test_response_template_output_changes_when_the_private_key_info_is_dropped_or_added(value: dict[str, Any]) -> None:
    original = asn1.encode("ScmsPdu", value)
    response = dict(value["content"][1][1])
    if "privateKeyInfo" in response:
        del response["privateKeyInfo"]
    else:
        response["privateKeyInfo"] = b"\x00" * 32
    assert template.scms_pdu({"version": 2, "content": ("aca-ee", ("acaEeCertResponse", response))}) != original


OUT_OF_RANGE = [
    ("crlSeries", 0x10000),
    ("crlSeries", -1),
    ("cracaId", b"\x00" * 4),
    ("validityPeriod", {"start": 2**32, "duration": ("hours", 1)}),
    ("validityPeriod", {"start": 0, "duration": ("hours", 0x10000)}),
    ("appPermissions", [{"psid": -1}]),
    ("appPermissions", [{"psid": 1, "ssp": ("bitmapSsp", b"\x00" * 32)}]),
]


@pytest.mark.parametrize(("field", "bad"), OUT_OF_RANGE, ids=[f"{f}={b!r}"[:40] for f, b in OUT_OF_RANGE])
def test_template_refuses_out_of_range_values_and_encode_raises_encode_error(field: str, bad: Any) -> None:
    value = {**SAMPLE_TBS, field: bad}
    with pytest.raises(cert_template.Outside):
        cert_template.to_be_signed_certificate(value)
    with pytest.raises(EncodeError):
        cert_template.encode("ToBeSignedCertificate", value)


# --- Outside the shapes: the switch falls back to asn1tools --------------------------------------

SAMPLE_TBS: dict[str, Any] = {
    "id": ("linkageData", {"iCert": 1, "linkage-value": b"\x01" * 9}),
    "cracaId": b"\x00\x01\x02",
    "crlSeries": 1,
    "validityPeriod": {"start": 600_000_000, "duration": ("hours", 168)},
    "appPermissions": [{"psid": 32}],
    "verifyKeyIndicator": ("reconstructionValue", ("compressed-y-0", b"\x07" * 32)),
}

OUTSIDE = {
    "name id": {**SAMPLE_TBS, "id": ("name", "aca.example")},
    "uncompressed key": {**SAMPLE_TBS, "verifyKeyIndicator": (
        "reconstructionValue", ("uncompressedP256", {"x": b"\x01" * 32, "y": b"\x02" * 32}))},
    "certIssuePermissions": {**SAMPLE_TBS, "certIssuePermissions": [{"subjectPermissions": ("all", None)}]},
    "assuranceLevel": {**SAMPLE_TBS, "assuranceLevel": b"\x00"},
    "bytearray": {**SAMPLE_TBS, "cracaId": bytearray(b"\x00\x01\x02")},
    "circular region": {**SAMPLE_TBS, "region": ("circularRegion", {
        "center": {"latitude": 0, "longitude": 0}, "radius": 10})},
    "flags extension": {**SAMPLE_TBS, "flags": (b"\x80", 8)},
}


@pytest.mark.parametrize("value", list(OUTSIDE.values()), ids=list(OUTSIDE))
def test_values_outside_the_template_fall_back_to_asn1tools(value: dict[str, Any], monkeypatch: Any) -> None:
    with pytest.raises(cert_template.Outside):
        cert_template.to_be_signed_certificate(value)
    expected = asn1.encode("ToBeSignedCertificate", value)
    calls: list[str] = []
    original = asn1.encode

    def spy(type_name: str, v: Any) -> bytes:
        calls.append(type_name)
        return original(type_name, v)

    monkeypatch.setattr(asn1, "encode", spy)
    assert cert_template.encode("ToBeSignedCertificate", value) == expected
    assert calls == ["ToBeSignedCertificate"]


def test_template_shaped_values_do_not_call_asn1tools(monkeypatch: Any) -> None:
    def refuse(type_name: str, v: Any) -> bytes:
        raise AssertionError(f"asn1.encode called for {type_name}")

    expected = asn1.encode("ToBeSignedCertificate", SAMPLE_TBS)
    monkeypatch.setattr(asn1, "encode", refuse)
    assert template.encode("ToBeSignedCertificate", SAMPLE_TBS) == expected


def test_secured_switch_falls_back_for_a_header_with_generation_time() -> None:
    value = {"payload": {"data": {"protocolVersion": 3, "content": ("unsecuredData", b"x")}},
             "headerInfo": {"psid": 35, "generationTime": 1}}
    with pytest.raises(cert_template.Outside):
        template.to_be_signed_data(value)
    assert template.encode("ToBeSignedData", value) == asn1.encode("ToBeSignedData", value)


def test_rek_recipient_id_through_the_template_equals_the_asn1_definition() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert rek_recipient_id(key) == hashed_id8(asn1.encode("PublicEncryptionKey", encryption_key_to_asn1(key)))
    assert cert_template.public_encryption_key(encryption_key_to_asn1(key)) == asn1.encode(
        "PublicEncryptionKey", encryption_key_to_asn1(key))


# --- Certificate construction keeps its behaviour -------------------------------------------------


@PROPERTY
@given(certificates())
def test_certificate_from_value_and_from_bytes_agree_with_asn1tools(value: dict[str, Any]) -> None:
    value["type"] = "implicit" if value["toBeSigned"]["verifyKeyIndicator"][0] == "reconstructionValue" else "explicit"
    value.pop("signature", None)
    if value["type"] == "explicit":
        value["signature"] = ("ecdsaNistP256Signature", {"rSig": ("x-only", b"\x01" * 32), "sSig": b"\x02" * 32})
    elif value["issuer"][0] == "self":
        value["issuer"] = ("sha256AndDigest", b"\x00" * 8)
    if not value["toBeSigned"]["appPermissions"]:
        value["toBeSigned"]["appPermissions"] = [{"psid": 32}]
    encoded = asn1.encode("Certificate", value)
    from_value = Certificate.from_value(value)
    from_bytes = Certificate.from_bytes(encoded)
    assert from_value.encoded == from_bytes.encoded == from_bytes.received == encoded
    assert from_value.value == from_bytes.value == asn1.decode("Certificate", encoded)
    assert from_value.value is not value and from_value.tbs is not value["toBeSigned"]
    assert from_value.tbs_encoded == asn1.encode("ToBeSignedCertificate", value["toBeSigned"])


@PROPERTY
@given(st.sampled_from(["sha256", "sha384"]), tbs_data_of(st.one_of(unsecured, encrypted)), signer, ecdsa_signature)
def test_signed_data_from_parts_equals_asn1tools(hash_id: str, tbs: dict[str, Any], who: Any, sig: Any) -> None:
    kind, body = who
    if kind == "certificate":
        identifier = template.signer_identifier(kind, certificate_coer=asn1.encode("Certificate", body[0]))
    else:
        identifier = template.signer_identifier(kind, digest=body)
    produced = template.signed_data_from_parts(hash_id, asn1.encode("ToBeSignedData", tbs), identifier, sig)
    expected = asn1.encode("Ieee1609Dot2Data", {"protocolVersion": 3, "content": ("signedData", {
        "hashId": hash_id, "tbsData": tbs, "signer": who, "signature": sig})})
    assert produced.hex() == expected.hex()


def test_signer_identifier_refuses_a_digest_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="kind"):
        template.signer_identifier("digest", digest=b"\x00" * 7)
