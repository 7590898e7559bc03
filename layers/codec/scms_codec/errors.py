"""The 1609.2.1 error-code table (protocol.md §2.4, 1609.2.1 Table 8) and the codec's exceptions.

The table exists only here. Every layer above the codec maps its own failures onto
``ErrorCode`` members; nothing else spells an error code as a string.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

__all__ = [
    "ChainError",
    "CodecError",
    "DecodeError",
    "DecryptionError",
    "EncodeError",
    "ErrorCode",
    "InvalidKey",
    "InvalidSignature",
    "NotEncrypted",
    "SpduShapeError",
    "UnsupportedAlgorithm",
]


class ErrorCode(StrEnum):
    """Values of the ``Ieee-1609.2.1-Error`` header (protocol.md §2.4, Table 8)."""

    NOT_ENCRYPTED = "400-10"
    ENROLLMENT_CERT_BLOCKED = "400-20"
    ENROLLMENT_CERT_UNREGISTERED = "400-21"
    APP_PERMISSIONS_NOT_ALLOWED = "400-30"
    CERT_REQUEST_PERMISSIONS_NOT_ALLOWED = "400-31"
    REQUESTED_FIELDS_NOT_ALLOWED = "400-32"
    REGION_NOT_ALLOWED = "400-33"
    CERT_TYPE_NOT_ALLOWED = "400-34"
    VALIDITY_PERIOD_NOT_ALLOWED = "400-35"
    CHAIN_VERIFICATION_FAILED = "400-40"
    DECRYPTION_FAILED = "400-41"
    FAILED_PARSING = "400-42"
    SIGNATURE_VERIFICATION_FAILED = "400-43"
    GENERATION_TIME_IN_FUTURE = "400-50"
    APP_PERMISSIONS_INVALID = "400-60"
    CERT_REQUEST_PERMISSIONS_INVALID = "400-61"
    ENROLLMENT_CERT_INVALID = "400-62"
    REGION_INVALID = "400-63"
    VERIFY_KEY_INDICATOR_INVALID = "400-64"
    ECA_MAX_AGE = "400-70"
    ECA_MAX_REQS = "400-71"
    ECA_MAX_WAIT = "400-72"
    ECA_MIN_WAIT = "400-73"
    DOWNLOAD_MAX_AGE = "400-74"
    DOWNLOAD_MAX_REQS = "400-75"
    DOWNLOAD_MIN_WAIT = "400-76"
    RA_MAX_AGE = "400-77"
    RA_MAX_GEN_DELAY = "400-78"
    RA_MAX_REQS = "400-79"
    RA_MAX_OVERLAP = "400-710"
    RA_MIN_WAIT = "400-711"
    OUTSIDE_ENROLLMENT_VALIDITY = "400-712"
    WRONG_ECA = "400-80"
    WRONG_RA = "400-81"

    @property
    def http_status(self) -> int:
        """The HTTP status that carries this code (the part before the dash)."""
        return int(self.value.split("-", 1)[0])


class CodecError(Exception):
    """Root of every error the codec layer raises on bad input."""

    error_code: ClassVar[ErrorCode] = ErrorCode.FAILED_PARSING


class DecodeError(CodecError, ValueError):
    """Bytes are not the canonical OER of the expected type (400-42)."""

    error_code = ErrorCode.FAILED_PARSING


class SpduShapeError(DecodeError):
    """A valid Ieee1609Dot2Data that lacks the form its parameterized SPDU type requires (400-42)."""


class NotEncrypted(SpduShapeError):
    """An SPDU that must be encrypted arrived in another form (400-10)."""

    error_code = ErrorCode.NOT_ENCRYPTED


class EncodeError(CodecError, ValueError):
    """A value cannot be encoded because it violates the ASN.1 type or its constraints."""


class InvalidSignature(CodecError):
    """A signature does not verify (400-43)."""

    error_code = ErrorCode.SIGNATURE_VERIFICATION_FAILED


class DecryptionError(CodecError):
    """Ciphertext cannot be opened: wrong recipient, bad tag or bad key (400-41)."""

    error_code = ErrorCode.DECRYPTION_FAILED


class ChainError(CodecError):
    """A certificate chain does not lead to a trusted anchor or breaks a chain rule (400-40)."""

    error_code = ErrorCode.CHAIN_VERIFICATION_FAILED


class InvalidKey(CodecError):
    """A public key or reconstruction value is not a valid point of the curve (400-64)."""

    error_code = ErrorCode.VERIFY_KEY_INDICATOR_INVALID


class UnsupportedAlgorithm(CodecError):
    """A curve, hash or cipher that the ASN.1 allows but this SCMS does not implement (400-42)."""
