"""The signing identity of an SPDU: a private key and the certificate that names it (protocol.md §4.2)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from ..cert.certificate import Certificate
from ..crypto.hashing import HashAlgorithm, hash_algorithm_for_curve
from ..crypto.keys import curve_of

__all__ = ["Signer", "hash_algorithm_for_key"]


def hash_algorithm_for_key(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> HashAlgorithm:
    """The hash 1609.2 §5.3.1 pairs with the key's curve (SHA-256 for 256-bit, SHA-384 for 384-bit curves)."""
    return hash_algorithm_for_curve(curve_of(key).name)


@dataclass(frozen=True)
class Signer:
    """A signing key and its certificate; ``certificate`` None means the ``self`` signer (1609.2 §6.3.4)."""

    # repr=False keeps the private key out of every log line and traceback that shows a Signer.
    key: ec.EllipticCurvePrivateKey = field(repr=False)
    certificate: Certificate | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"key: expected EllipticCurvePrivateKey, got {type(self.key).__name__}")
        if self.certificate is not None and not isinstance(self.certificate, Certificate):
            raise TypeError(f"certificate: expected Certificate or None, got {type(self.certificate).__name__}")

    @property
    def hash_algorithm(self) -> HashAlgorithm:
        """The hash used for this signer's signing digests (1609.2 §5.3.1)."""
        return hash_algorithm_for_key(self.key)

    @property
    def signer_input(self) -> bytes:
        """The signer identifier input: COER of the certificate, or b"" for self (protocol.md §4.2)."""
        return b"" if self.certificate is None else self.certificate.encoded
