"""Conversions between embedded ``Ieee1609Dot2Data`` values and their COER bytes."""

from __future__ import annotations

from typing import Any

from ..asn1 import decode, encode


def data_value(spdu: bytes) -> Any:
    """The strictly decoded ``Ieee1609Dot2Data`` value of an embedded SPDU."""
    return decode("Ieee1609Dot2Data", spdu)


def data_bytes(value: Any) -> bytes:
    """The COER of an embedded ``Ieee1609Dot2Data`` value; canonical because it was decoded strictly."""
    return encode("Ieee1609Dot2Data", value)
