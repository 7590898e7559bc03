"""The device's state directory: keys as PKCS#8 PEM (0600), certificates as COER, the rest as JSON.

Layout of ``--state DIR``::

    canonical.pem      canonical private key (1609.2.1 §4.1.4.2, protocol.md §3.1), 0600
    enrollment.pem     enrollment private key (explicit: our own; implicit: d = e·k + r), 0600
    enrollment.oer     the enrollment certificate, COER as received
    chain/<id>.oer     the ECA chain as received (ECA … root), one file per certificate
    root.oer           the root certificate this device trusts
    state.json         canonical id, registration, enrollment summary, chain order, root source

Every file is written to a temporary name and renamed, so a crash leaves the old or the new file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec.cert.certificate import Certificate
from scms_codec.errors import CodecError

__all__ = ["DeviceState", "StateError", "canonical_id_of", "load_certificate"]

_STATE_JSON = "state.json"
_CANONICAL_KEY = "canonical.pem"
_ENROLLMENT_KEY = "enrollment.pem"
_ENROLLMENT_CERT = "enrollment.oer"
_ROOT = "root.oer"
_CHAIN = "chain"


class StateError(Exception):
    """The state directory is missing something or holds something unreadable (exit code 2)."""


def canonical_id_of(key: ec.EllipticCurvePublicKey) -> str:
    """The canonical id: 64-hex SHA-256 of the uncompressed x‖y (protocol.md §3.1 step 1)."""
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return hashlib.sha256(point[1:]).hexdigest()


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # mkstemp creates the file 0600; chmod only widens it for public files.
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    encoding, form = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    return key.private_bytes(encoding, form, serialization.NoEncryption())


@dataclass(frozen=True)
class DeviceState:
    """One device's state directory (see the module docstring for the layout)."""

    root: Path

    # --- generic ------------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the directory, readable by its owner only (it holds private keys)."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def load_json(self) -> dict[str, Any]:
        """``state.json``, or an empty dict before ``init``."""
        path = self.root / _STATE_JSON
        if not path.exists():
            return {}
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StateError(f"{path}: unreadable state file ({exc})") from exc
        if not isinstance(value, dict):
            raise StateError(f"{path}: expected a JSON object")
        return value

    def update_json(self, **values: Any) -> dict[str, Any]:
        """Merge ``values`` into ``state.json`` and write it atomically; returns the new content."""
        state = self.load_json() | values
        _write_atomic(self.root / _STATE_JSON, (json.dumps(state, indent=2, sort_keys=True) + "\n").encode(), 0o600)
        return state

    # --- keys ---------------------------------------------------------------------------------

    def has_canonical_key(self) -> bool:
        return (self.root / _CANONICAL_KEY).exists()

    def save_canonical_key(self, key: ec.EllipticCurvePrivateKey) -> None:
        _write_atomic(self.root / _CANONICAL_KEY, _pem(key), 0o600)

    def canonical_key(self) -> ec.EllipticCurvePrivateKey:
        """The canonical private key; ``StateError`` before ``init``."""
        return self._load_key(_CANONICAL_KEY, "no canonical key: run `scms-ee init` first")

    def save_enrollment_key(self, key: ec.EllipticCurvePrivateKey) -> None:
        _write_atomic(self.root / _ENROLLMENT_KEY, _pem(key), 0o600)

    def enrollment_key(self) -> ec.EllipticCurvePrivateKey:
        return self._load_key(_ENROLLMENT_KEY, "no enrollment key: run `scms-ee enroll` first")

    def _load_key(self, name: str, missing: str) -> ec.EllipticCurvePrivateKey:
        path = self.root / name
        if not path.exists():
            raise StateError(missing)
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            # The exception text of a PEM parser never holds key material, but say only the file.
            raise StateError(f"{path}: not a readable PEM private key") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise StateError(f"{path}: not an elliptic-curve private key")
        return key

    # --- certificates -------------------------------------------------------------------------

    def save_enrollment(self, certificate: Certificate, chain: tuple[Certificate, ...]) -> None:
        """Store the enrollment certificate and its ECA chain (ECA … root) byte for byte as received."""
        chain_dir = self.root / _CHAIN
        chain_dir.mkdir(mode=0o700, exist_ok=True)
        for cert in chain:
            _write_atomic(chain_dir / f"{cert.hashed_id8.hex()}.oer", cert.received, 0o644)
        _write_atomic(self.root / _ENROLLMENT_CERT, certificate.received, 0o644)

    def enrollment_certificate(self) -> Certificate | None:
        return self._load_cert(self.root / _ENROLLMENT_CERT)

    def chain(self, order: list[str]) -> tuple[Certificate, ...]:
        """The stored chain certificates named by HashedId8 hex, in ``order``."""
        certs = []
        for name in order:
            cert = self._load_cert(self.root / _CHAIN / f"{name}.oer")
            if cert is None:
                raise StateError(f"chain certificate {name} is missing from {self.root / _CHAIN}")
            certs.append(cert)
        return tuple(certs)

    def save_root(self, root: Certificate) -> None:
        _write_atomic(self.root / _ROOT, root.received, 0o644)

    def trusted_root(self) -> Certificate | None:
        return self._load_cert(self.root / _ROOT)

    @staticmethod
    def _load_cert(path: Path) -> Certificate | None:
        if not path.exists():
            return None
        return load_certificate(path)


def load_certificate(path: Path) -> Certificate:
    """A COER certificate file, strictly decoded; ``StateError`` if it is not one."""
    try:
        return Certificate.from_bytes(path.read_bytes())
    except OSError as exc:
        raise StateError(f"{path}: cannot read ({exc.strerror})") from exc
    except CodecError as exc:
        raise StateError(f"{path}: not a COER 1609.2 certificate ({type(exc).__name__}: {exc})") from exc
