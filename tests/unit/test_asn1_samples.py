"""Every public sample decodes strictly and re-encodes byte-identically; its twins fail."""

from __future__ import annotations

import pytest

from scms_codec import asn1
from scms_codec.errors import DecodeError, EncodeError, ErrorCode
from tests.support.vectors import EncodedSample, encoded_params


def _hexdiff(a: bytes, b: bytes) -> str:
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    ours, theirs = a[first : first + 16].hex(), b[first : first + 16].hex()
    return f"lengths {len(a)}/{len(b)}, first difference at octet {first}: {ours} != {theirs}"


@pytest.mark.parametrize("sample", encoded_params())
def test_sample_decodes_strictly_and_reencodes_identically(sample: EncodedSample) -> None:
    value = asn1.decode(sample.asn1_type, sample.data)
    again = asn1.encode(sample.asn1_type, value)
    assert again == sample.data, _hexdiff(again, sample.data)


@pytest.mark.parametrize("sample", encoded_params())
def test_sample_with_trailing_byte_is_rejected(sample: EncodedSample) -> None:
    with pytest.raises(DecodeError) as info:
        asn1.decode(sample.asn1_type, sample.data + b"\x00")
    assert info.value.error_code is ErrorCode.FAILED_PARSING


@pytest.mark.parametrize("sample", encoded_params())
def test_truncated_sample_is_rejected(sample: EncodedSample) -> None:
    with pytest.raises(DecodeError):
        asn1.decode(sample.asn1_type, sample.data[:-1])


def test_long_form_length_is_rejected() -> None:
    # Given a canonical OCTET STRING (SIZE(0..MAX)) of 3 octets, length 03
    good = asn1.encode("Opaque", b"abc")
    assert good == b"\x03abc"
    # When the same length is written in long form (81 03), Then strict decoding refuses it
    with pytest.raises(DecodeError):
        asn1.decode("Opaque", b"\x81\x03abc")


def test_non_minimal_integer_is_rejected() -> None:
    # Psid is INTEGER (0..MAX): length-prefixed; 32 is 01 20, and 02 00 20 is not minimal.
    assert asn1.decode("Psid", b"\x01\x20") == 32
    with pytest.raises(DecodeError):
        asn1.decode("Psid", b"\x02\x00\x20")


def test_constraint_violation_is_rejected_on_decode_and_encode() -> None:
    # ScmsPdu.version is Uint8 (2): an unknown version decodes in asn1tools but not here.
    pdu = asn1.encode("ScmsPdu", {"version": 2, "content": ("ee-ma", None)})
    assert pdu == bytes.fromhex("0286")  # version 02, then the context tag of ee-ma (NULL)
    with pytest.raises(DecodeError):
        asn1.decode("ScmsPdu", bytes.fromhex("0386"))
    with pytest.raises(EncodeError):
        asn1.encode("ScmsPdu", {"version": 3, "content": ("ee-ma", None)})


def test_decode_rejects_non_bytes() -> None:
    with pytest.raises(TypeError):
        asn1.decode("Opaque", "abc")  # type: ignore[arg-type]


def test_decode_prefix_reports_the_length_used() -> None:
    value, used = asn1.decode_prefix("Opaque", b"\x03abcREST")
    assert (value, used) == (b"abc", 4)


def test_fixed_size_bit_string_default_is_omitted_and_restored() -> None:
    # eeType EndEntityType DEFAULT {app}, SIZE (8): COER omits a DEFAULT value (X.696 8.3.3)
    group = {"subjectPermissions": ("all", None), "eeType": (b"\x80", 8)}
    assert asn1.encode("PsidGroupPermissions", group) == bytes.fromhex("0081")
    assert asn1.decode("PsidGroupPermissions", bytes.fromhex("0081"))["eeType"] == (b"\x80", 8)
    # Failing twin: the same default written out is not canonical and is refused
    with pytest.raises(DecodeError):
        asn1.decode("PsidGroupPermissions", bytes.fromhex("208180"))
    # A non-default value is encoded
    assert asn1.encode("PsidGroupPermissions", {**group, "eeType": (b"\xc0", 8)}) == bytes.fromhex("2081c0")
