"""Find secrets in log bytes: every encoding a private key, a scalar or a key string could take in a log line.

``Needles`` collects, per secret (named for the report, never printed), the byte strings whose
presence in a log means that secret leaked: the raw octets, hex in both cases, base64 (standard
and URL-safe), the decimal integer, Python's bytes repr (plain and JSON-escaped), the PKCS#8 DER
in hex, the PEM body joined and each PEM line that is specific to this key. ``scan`` returns the
names of the secrets found.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["Needles"]

_MIN_TEXT = 16  # shorter strings would match by chance


def _scalar_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    size = (key.curve.key_size + 7) // 8
    return key.private_numbers().private_value.to_bytes(size, "big")


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem_lines(pem: bytes) -> list[bytes]:
    return [line for line in pem.splitlines() if line and not line.startswith(b"-----")]


@dataclass
class Needles:
    """Secret name → the byte strings that reveal it."""

    by_name: dict[str, set[bytes]] = field(default_factory=dict)

    def _add(self, name: str, forms: Iterable[bytes]) -> None:
        self.by_name.setdefault(name, set()).update(f for f in forms if len(f) >= _MIN_TEXT)

    def octets(self, name: str, value: bytes) -> None:
        """A secret octet string (a scalar, a symmetric key, a seed)."""
        as_repr = repr(value)[2:-1].encode("ascii")
        forms = [
            value,
            value.hex().encode(),
            value.hex().upper().encode(),
            base64.b64encode(value),
            base64.urlsafe_b64encode(value).rstrip(b"="),
            str(int.from_bytes(value, "big")).encode(),
            as_repr,
            json.dumps(as_repr.decode("ascii"))[1:-1].encode("ascii"),
        ]
        self._add(name, forms)

    def private_key(self, name: str, key: ec.EllipticCurvePrivateKey) -> None:
        """An EC private key: its scalar in every form, its PKCS#8 DER and its PEM (whole body and own lines)."""
        self.octets(name, _scalar_bytes(key))
        pem = _pem(key)
        # PEM lines another key of the same curve also has (the algorithm prefix) say nothing about this key.
        common = set(_pem_lines(_pem(ec.generate_private_key(key.curve))))
        own = [line for line in _pem_lines(pem) if line not in common]
        der = _der(key)
        self._add(name, [b"".join(_pem_lines(pem)), der.hex().encode(), der.hex().upper().encode(), *own])

    def pem(self, name: str, text: str) -> None:
        """A PEM private key as stored (Secrets Manager JSON, ``scms-ee`` state)."""
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{name}: not an EC private key")
        self.private_key(name, key)

    def text(self, name: str, value: str) -> None:
        """A secret string (an API key) as written, and JSON-escaped."""
        self._add(name, [value.encode(), json.dumps(value)[1:-1].encode()])

    def scan(self, blob: bytes) -> list[str]:
        """Names of the secrets any of whose forms occurs in ``blob``."""
        return sorted(name for name, forms in self.by_name.items() if any(form in blob for form in forms))

    def __len__(self) -> int:
        return len(self.by_name)
