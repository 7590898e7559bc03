"""Pure IEEE 1609.2 / 1609.2.1 codec: ASN.1 (COER), crypto, certificates and SPDUs.

Nothing here touches the network, the environment or logging configuration; every
authority function and the ``scms`` tools build on it.
"""

from __future__ import annotations

from .asn1 import decode, encode
from .errors import CodecError, DecodeError, ErrorCode

__all__ = ["CodecError", "DecodeError", "ErrorCode", "decode", "encode"]
