"""The ``--trace DIR`` writer: every SPDU sent or received and every certificate received, byte for byte.

Files (issue #4 §6): ``DIR/NNN-<ASN.1 type>.oer`` per message in order, ``DIR/certs/<role>-<HashedId8
hex>.oer`` per certificate, and ``DIR/trace.json`` listing each file with its ASN.1 type, direction and
the file of the certificate that signed (messages, ``signed_by``) or issued (certificates,
``issued_by``) it; null when no certificate did (a self-signed request names its key in ``signer``).
A second run into the same directory continues the numbering.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from scms_codec.cert.certificate import Certificate

__all__ = ["Direction", "Trace", "certificate_file"]

Direction = Literal["sent", "received"]
_INDEX = "trace.json"


def certificate_file(role: str, cert: Certificate) -> str:
    """The trace-relative file name of a certificate: ``certs/<role>-<HashedId8 hex>.oer``."""
    return f"certs/{role}-{cert.hashed_id8.hex()}.oer"


@dataclass
class Trace:
    """Writes trace files under ``directory``; a Trace with ``directory`` None records nothing."""

    directory: Path | None
    entries: list[dict[str, Any]] = field(default_factory=list)
    _names: set[str] = field(default_factory=set, repr=False)
    _messages: int = field(default=0, repr=False)
    _deferred: int = field(default=0, repr=False)
    _lock: Any = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        index = self.directory / _INDEX
        if index.exists():
            self.entries = list(json.loads(index.read_text(encoding="utf-8"))["files"])
        self._names = {e["file"] for e in self.entries}
        self._messages = sum(1 for e in self.entries if e["kind"] == "message")

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Write ``trace.json`` once when the block ends instead of after every file (thousands of certificates)."""
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
            if self._deferred == 0:
                self._write_index()

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def message(
        self, direction: Direction, asn1_type: str, data: bytes, *, signed_by: str | None, signer: str | None = None
    ) -> str | None:
        """Record one SPDU as ``NNN-<asn1_type>.oer``; returns its trace-relative name."""
        if self.directory is None:
            return None
        with self._lock:  # downloads run in threads
            self._messages += 1
            name = f"{self._messages:03d}-{asn1_type}.oer"
        entry: dict[str, Any] = {
            "file": name,
            "kind": "message",
            "type": asn1_type,
            "direction": direction,
            "signed_by": signed_by,
        }
        if signer is not None:
            entry["signer"] = signer
        with self._lock:
            self._write(name, data, entry)
        return name

    def certificate(self, role: str, cert: Certificate, *, issued_by: str | None) -> str | None:
        """Record a received certificate (as received) under ``certs/``; returns its trace-relative name."""
        return self.certificate_octets(role, cert.hashed_id8, cert.received, issued_by=issued_by)

    def certificate_octets(self, role: str, hashed_id8: bytes, data: bytes, *, issued_by: str | None) -> str | None:
        """``certificate`` for octets whose HashedId8 the caller knows (no second parse of each pseudonym)."""
        if self.directory is None:
            return None
        name = f"certs/{role}-{hashed_id8.hex()}.oer"
        if name in self._names:
            return name
        entry = {
            "file": name,
            "kind": "certificate",
            "type": "Certificate",
            "direction": "received",
            "role": role,
            "issued_by": issued_by,
        }
        with self._lock:
            self._write(name, data, entry)
        return name

    def _write(self, name: str, data: bytes, entry: dict[str, Any]) -> None:
        assert self.directory is not None
        path = self.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.entries.append(entry)
        self._names.add(name)
        if not self._deferred:
            self._write_index()

    def _write_index(self) -> None:
        if self.directory is None:
            return
        index = self.directory / _INDEX
        tmp = index.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"files": self.entries}, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, index)
