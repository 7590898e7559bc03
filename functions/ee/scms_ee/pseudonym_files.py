"""The device's own pseudonym (authorization) certificates as ``download`` stored them (protocol.md §3.3).

Layout (``download._save``): ``pseudonyms/<REQHASH>/<i hex>/<j hex>.oer`` (COER as received) and
``keys.json`` per period (0600, ``{"<j hex>": "<64 hex private key>"}``). Requests are read in the
order ``state.json`` ``"provisioning"`` lists them, so the newest request's certificate of an (i, j)
wins. Private keys stay in ``OwnPseudonym.signer()``: never in a repr or a message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec.cert.certificate import Certificate
from scms_codec.errors import CodecError
from scms_codec.secured.signer import Signer

from .state import DeviceState, StateError

__all__ = ["OwnPseudonym", "own_pseudonyms", "pseudonym"]

_P256 = ec.SECP256R1()


@dataclass(frozen=True)
class OwnPseudonym:
    """One stored pseudonym certificate of this device: its request, (i, j), certificate and file."""

    request: str  # REQHASH, upper-case hex
    i: int
    j: int
    certificate: Certificate
    path: Path
    _key: int = field(repr=False, compare=False)

    def signer(self) -> Signer:
        """The private key and certificate, to sign with this pseudonym (1609.2 §5.3.1)."""
        return Signer(ec.derive_private_key(self._key, _P256), self.certificate)


def _requests(state: DeviceState) -> list[str]:
    saved = state.load_json().get("provisioning")
    listed = list(saved.get("requests", [])) if isinstance(saved, dict) else []
    return [str(name) for name in listed if (state.root / "pseudonyms" / str(name)).is_dir()]


def _period_keys(directory: Path) -> dict[str, int]:
    try:
        raw = json.loads((directory / "keys.json").read_text(encoding="utf-8"))
        return {str(j): int(str(value), 16) for j, value in raw.items()}
    except (OSError, ValueError, AttributeError) as exc:
        # Only the file name: the file holds private keys.
        raise StateError(f"{directory / 'keys.json'}: unreadable pseudonym keys ({type(exc).__name__})") from None


def own_pseudonyms(state: DeviceState) -> Iterator[OwnPseudonym]:
    """Every stored pseudonym, by request (oldest first), then i, then j; newer requests may repeat an (i, j)."""
    for request in _requests(state):
        base = state.root / "pseudonyms" / request
        periods = sorted((int(p.name, 16), p) for p in base.iterdir() if p.is_dir() and _is_hex(p.name))
        for i, directory in periods:
            keys = _period_keys(directory)
            files = sorted((int(f.stem, 16), f) for f in directory.glob("*.oer") if _is_hex(f.stem))
            for j, path in files:
                key = keys.get(f"{j:x}")
                if key is None:
                    raise StateError(f"{path}: no private key for it in keys.json")
                try:
                    certificate = Certificate.from_bytes(path.read_bytes())
                except (OSError, CodecError) as exc:
                    raise StateError(f"{path}: not a readable certificate ({type(exc).__name__})") from None
                yield OwnPseudonym(request, i, j, certificate, path, key)


def pseudonym(state: DeviceState, i: int, j: int) -> OwnPseudonym:
    """The pseudonym (i, j) of the newest request that holds one; ``StateError`` when none does."""
    found = None
    for candidate in own_pseudonyms(state):
        if candidate.i == i and candidate.j == j:
            found = candidate
    if found is None:
        raise StateError(f"no downloaded pseudonym certificate for period {i:x}, j {j:x}: run `scms-ee provision`")
    return found


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
