"""The typed result of parsing an SPDU: its content, who signed it, and its hash as received."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from ..cert.certificate import Certificate

__all__ = ["Opened"]

T = TypeVar("T")


@dataclass(frozen=True)
class Opened(Generic[T]):
    """A parsed SPDU whose shape was checked and whose signature (if any) verified (protocol.md §1.3).

    ``spdu_hash`` is HashedId8 of the input bytes exactly as received: the ``requestHash`` a
    response to a request SPDU carries (protocol.md §4.1). ``signer`` is None when the SPDU is
    unsigned or signed by ``self``. ``recipient_id`` names the key that decrypted it, if any.
    """

    content: T
    spdu_hash: bytes
    signer: Certificate | None = None
    recipient_id: bytes | None = None
