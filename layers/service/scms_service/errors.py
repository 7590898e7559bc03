"""Service errors: each carries its HTTP status and, for 1609.2.1 refusals, its Table 8 code (style.md 11)."""

from __future__ import annotations

from typing import ClassVar

from scms_codec.errors import CodecError, ErrorCode

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "IllegalTransition",
    "NotFound",
    "ScmsError",
    "TransientStoreError",
    "Unauthorized",
    "from_codec",
]


class ScmsError(Exception):
    """Root of the service layer's errors. ``message`` is safe to show a client; details go to the log."""

    HTTP_STATUS: ClassVar[int] = 500
    ERROR_CODE: ClassVar[ErrorCode | None] = None

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.ERROR_CODE

    @property
    def status(self) -> int:
        """The HTTP status: the code's own status when a Table 8 code is set, else the class's."""
        return self.code.http_status if self.code is not None else self.HTTP_STATUS


class BadRequest(ScmsError):
    """A 1609.2.1 refusal (400 with a Table 8 code) or a malformed management request (400)."""

    HTTP_STATUS = 400


class Unauthorized(ScmsError):
    """Missing or invalid credentials on the management API (401)."""

    HTTP_STATUS = 401


class Forbidden(ScmsError):
    """Valid credentials without the right to the operation (403)."""

    HTTP_STATUS = 403


class NotFound(ScmsError):
    """The named resource does not exist (404)."""

    HTTP_STATUS = 404


class Conflict(ScmsError):
    """The resource exists already or changed under us (409)."""

    HTTP_STATUS = 409


class IllegalTransition(Conflict):
    """A device lifecycle transition that the RA's state machine does not allow (409)."""


class TransientStoreError(ScmsError):
    """A store call failed in a way worth retrying (throttling, timeouts): 503. Name used in ASL Retry."""

    HTTP_STATUS = 503


def from_codec(exc: CodecError) -> BadRequest:
    """The service refusal for a codec failure on untrusted input, keeping its Table 8 code."""
    return BadRequest(type(exc).__name__, code=exc.error_code)
