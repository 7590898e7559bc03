"""scms_codec.oer_reader: each read gives what asn1tools and the templates give, and anything else is NotFixedShape."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scms_codec import asn1
from scms_codec.cert import template as cert_template
from scms_codec.oer_reader import (
    NotFixedShape,
    Reader,
    SignedParts,
    length_at,
    read_signed,
    read_to_be_signed_certificate,
    uint_at,
)
from tests.unit.test_templates import SAMPLE_TBS, certificates, tbs_certificate

PROPERTY = settings(max_examples=200, deadline=None)
LENGTHS = st.one_of(st.integers(0, 0x7F), st.integers(0x80, 0xFFFF), st.integers(0, 2**64))


# --- take, byte, expect --------------------------------------------------------------------------


def test_take_returns_the_next_octets_and_moves_on() -> None:
    reader = Reader(b"\x01\x02\x03\x04", 1)
    assert reader.take(2) == b"\x02\x03" and reader.pos == 3
    assert reader.take(0) == b"" and reader.take(1) == b"\x04" and reader.pos == 4


def test_take_past_the_end_is_not_the_fixed_shape() -> None:
    reader = Reader(b"\x01\x02\x03", 1)
    with pytest.raises(NotFixedShape):
        reader.take(3)
    assert reader.pos == 1  # nothing consumed


def test_byte_returns_one_octet() -> None:
    reader = Reader(b"\x80\xff")
    assert (reader.byte(), reader.byte(), reader.pos) == (0x80, 0xFF, 2)


def test_byte_at_the_end_is_not_the_fixed_shape() -> None:
    with pytest.raises(NotFixedShape):
        Reader(b"\x80", 1).byte()


def test_expect_steps_over_the_octets_it_names() -> None:
    reader = Reader(b"\x81\x01\x01\x42")
    reader.expect(b"\x81\x01\x01")
    assert reader.pos == 3


@pytest.mark.parametrize("data", [b"\x81\x01\x02\x42", b"\x81\x01"], ids=["other-octets", "truncated"])
def test_expect_of_other_or_missing_octets_is_not_the_fixed_shape(data: bytes) -> None:
    with pytest.raises(NotFixedShape):
        Reader(data).expect(b"\x81\x01\x01")


# --- length, var_octets (X.696 §8.6) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "value"),
    [(b"\x00", 0), (b"\x7f", 0x7F), (b"\x81\x80", 0x80), (b"\x81\xff", 0xFF), (b"\x82\x01\x00", 0x100)],
)
def test_length_reads_the_minimal_forms(data: bytes, value: int) -> None:
    reader = Reader(data + b"rest")
    assert reader.length() == value and reader.pos == len(data)
    assert length_at(data + b"rest", 0) == (value, len(data))


@pytest.mark.parametrize(
    "data",
    [b"\x81\x05", b"\x82\x00\x80", b"\x82\x00\xff", b"\x80", b"\x82\x01", b"\x81", b""],
    ids=["long-form-below-128", "leading-zero-octet", "leading-zero-255", "no-length-octets", "truncated",
         "truncated-after-size", "empty"],
)  # fmt: skip
def test_a_length_not_in_its_minimal_form_or_truncated_is_not_the_fixed_shape(data: bytes) -> None:
    with pytest.raises(NotFixedShape):
        Reader(data).length()
    with pytest.raises(NotFixedShape):
        length_at(data, 0)


@PROPERTY
@given(LENGTHS)
def test_length_reads_back_what_the_template_writes(n: int) -> None:
    encoded = cert_template.length(n)
    reader = Reader(encoded)
    assert reader.length() == n and reader.pos == len(encoded)
    assert length_at(b"\x00" + encoded, 1) == (n, len(encoded) + 1)


@PROPERTY
@given(st.integers(0x80, 2**64))
def test_length_with_one_octet_more_than_needed_is_not_the_fixed_shape(n: int) -> None:
    body = b"\x00" + cert_template.length(n)[1:]
    with pytest.raises(NotFixedShape):
        Reader(bytes((0x80 | len(body),)) + body).length()


def test_var_octets_reads_length_and_octets() -> None:
    reader = Reader(b"\x03abcd")
    assert reader.var_octets() == b"abc" and reader.pos == 4


def test_var_octets_shorter_than_its_length_is_not_the_fixed_shape() -> None:
    with pytest.raises(NotFixedShape):
        Reader(b"\x04abc").var_octets()


# --- unbounded_uint (X.696 §10.4, §20.6) ------------------------------------------------------------


@PROPERTY
@given(st.one_of(st.integers(0, 0xFF), st.integers(0, 2**70)))
def test_unbounded_uint_reads_back_what_the_template_and_asn1tools_write(value: int) -> None:
    encoded = cert_template.unbounded_uint(value)
    assert encoded == asn1.encode("Psid", value)
    reader = Reader(encoded)
    assert reader.unbounded_uint() == value and reader.pos == len(encoded)
    assert uint_at(encoded, 0) == (value, len(encoded))


@pytest.mark.parametrize(
    "data",
    [b"\x02\x00\x23", b"\x02\x00\x80", b"\x00", b"\x02\x01", b"\x81\x01\x05"],
    ids=["leading-zero", "leading-zero-high-bit", "no-octets", "truncated", "non-minimal-length"],
)
def test_an_integer_not_in_its_minimal_form_or_truncated_is_not_the_fixed_shape(data: bytes) -> None:
    with pytest.raises(NotFixedShape):
        Reader(data).unbounded_uint()
    with pytest.raises(NotFixedShape):
        uint_at(data, 0)


def test_offset_readers_past_the_end_are_not_the_fixed_shape() -> None:
    # Not an IndexError: a caller catches one exception for "not the fixed shape".
    with pytest.raises(NotFixedShape):
        length_at(b"\x01", 1)
    with pytest.raises(NotFixedShape):
        uint_at(b"\x01\x23", 2)


# --- point (1609.2 §6.3.23) ---------------------------------------------------------------------------


@pytest.mark.parametrize(("tag", "form"), [(0x82, "compressed-y-0"), (0x83, "compressed-y-1")])
def test_point_reads_a_compressed_point_as_asn1tools_decodes_it(tag: int, form: str) -> None:
    x = bytes(range(32))
    encoded = bytes((tag,)) + x
    reader = Reader(encoded)
    assert reader.point() == (form, x) == asn1.decode("EccP256CurvePoint", encoded)
    assert reader.pos == 33


@pytest.mark.parametrize(
    "data",
    [b"\x80" + bytes(32), b"\x81", b"\x84" + bytes(64), b"\x85", b"\x82" + bytes(31)],
    ids=["x-only", "fill", "uncompressed", "unknown-tag", "truncated"],
)
def test_a_point_of_another_form_or_truncated_is_not_the_fixed_shape(data: bytes) -> None:
    with pytest.raises(NotFixedShape):
        Reader(data).point()


# --- read_to_be_signed_certificate ----------------------------------------------------------------


def _fixed_shape(value: dict[str, Any]) -> bool:
    """True for the shape read here: the template's, without group-linkage-value or bitmapSsp."""
    kind, linkage = value["id"]
    if kind == "linkageData" and "group-linkage-value" in linkage:
        return False
    return all(entry.get("ssp", ("opaque",))[0] == "opaque" for entry in value["appPermissions"])


@PROPERTY
@given(tbs_certificate)
def test_a_template_shaped_tbs_reads_as_asn1tools_decodes_it(value: dict[str, Any]) -> None:
    encoded = asn1.encode("ToBeSignedCertificate", value)
    reader = Reader(encoded + b"next")
    if _fixed_shape(value):
        assert read_to_be_signed_certificate(reader) == asn1.decode("ToBeSignedCertificate", encoded)
        assert reader.pos == len(encoded)
    else:
        with pytest.raises(NotFixedShape):
            read_to_be_signed_certificate(reader)


def test_the_sample_tbs_reads_back() -> None:
    encoded = cert_template.to_be_signed_certificate(SAMPLE_TBS)
    assert read_to_be_signed_certificate(Reader(encoded)) == asn1.decode("ToBeSignedCertificate", encoded)


def _sample_with(**changes: Any) -> bytes:
    return asn1.encode("ToBeSignedCertificate", {**SAMPLE_TBS, **changes})


@pytest.mark.parametrize(
    "data",
    [
        cert_template.to_be_signed_certificate(SAMPLE_TBS)[:-1],
        _sample_with(id=("linkageData", {"iCert": 1, "linkage-value": bytes(9),
                                         "group-linkage-value": {"jValue": bytes(4), "value": bytes(9)}})),
        _sample_with(appPermissions=[{"psid": 32, "ssp": ("bitmapSsp", b"\x01")}]),
        _sample_with(id=("name", "x")),
        _sample_with(assuranceLevel=b"\x20"),
    ],
    ids=["truncated", "group-linkage-value", "bitmapSsp", "id-name", "assuranceLevel"],
)  # fmt: skip
def test_a_tbs_of_another_shape_is_not_the_fixed_shape(data: bytes) -> None:
    with pytest.raises(NotFixedShape):
        read_to_be_signed_certificate(Reader(data))


def test_a_tbs_with_an_unknown_duration_tag_is_not_the_fixed_shape() -> None:
    encoded = bytearray(cert_template.to_be_signed_certificate(SAMPLE_TBS))
    read_to_be_signed_certificate(Reader(bytes(encoded)))  # the untouched sample reads
    # The duration tag follows the preamble, the id, cracaId (3), crlSeries (2) and start (4).
    id_size = 1 if SAMPLE_TBS["id"][0] == "none" else 13
    at = 1 + id_size + 3 + 2 + 4
    assert 0x80 <= encoded[at] <= 0x86
    encoded[at] = 0x87
    with pytest.raises(NotFixedShape):
        read_to_be_signed_certificate(Reader(bytes(encoded)))


# --- read_signed -----------------------------------------------------------------------------------------


def _signed(payload: bytes, psid: int, certificate: dict[str, Any], r_form: str = "x-only") -> bytes:
    tbs = {
        "payload": {"data": {"protocolVersion": 3, "content": ("unsecuredData", payload)}},
        "headerInfo": {"psid": psid},
    }
    r, s = (7).to_bytes(32, "big"), (9).to_bytes(32, "big")
    signature = ("ecdsaNistP256Signature", {"rSig": (r_form, r), "sSig": s})
    signed = {"hashId": "sha256", "tbsData": tbs, "signer": ("certificate", [certificate]), "signature": signature}
    return asn1.encode("Ieee1609Dot2Data", {"protocolVersion": 3, "content": ("signedData", signed)})


@PROPERTY
@given(st.binary(max_size=300), certificates())
def test_read_signed_finds_the_fields_asn1tools_decodes(payload: bytes, certificate: dict[str, Any]) -> None:
    data = _signed(payload, 35, certificate)
    parts = read_signed(data)
    assert parts is not None
    decoded = asn1.decode("Ieee1609Dot2Data", data)["content"][1]
    assert parts.payload == payload == decoded["tbsData"]["payload"]["data"]["content"][1]
    assert parts.tbs_data == asn1.encode("ToBeSignedData", decoded["tbsData"])
    assert parts.signer_certificate == asn1.encode("Certificate", certificate)
    assert (parts.r, parts.s) == (7, 9)


def test_read_signed_of_another_shape_is_none() -> None:
    value = {"version": 3, "type": "implicit", "issuer": ("sha256AndDigest", bytes(8)), "toBeSigned": SAMPLE_TBS}
    certificate = asn1.decode("Certificate", cert_template.certificate(value))
    data = _signed(b"\x01" * 200, 35, certificate)
    assert isinstance(read_signed(data), SignedParts)  # the twin that reads
    assert data[6:8] == b"\x81\xc8"  # after the fixed header: the payload's length, 200 in the long form
    non_minimal = data[:6] + b"\x82\x00\xc8" + data[8:]
    assert read_signed(non_minimal) is None
    assert read_signed(data[:-1]) is None  # truncated signature
    assert read_signed(_signed(b"\x01", 32, certificate)) is None  # another psid
    assert read_signed(_signed(b"\x01", 35, certificate, "compressed-y-0")) is None  # rSig not x-only
    assert read_signed(data[:6]) is None and read_signed(b"") is None
