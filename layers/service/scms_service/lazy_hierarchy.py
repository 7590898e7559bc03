"""The CA hierarchy of one container, loaded on first use and kept for the container's life (style.md 14).

Every authority that signs or decrypts with a CA key (the ECA app and task, the RA, the MA) holds
one ``LazyHierarchy``: a request refused before it needs a key reads no secret, and the first one
that does loads CaTable and the key vault once (``Hierarchy.load``, docs/architecture.md "CA
hierarchy"). It answers the read side of ``Hierarchy`` that the use cases' key ports ask for
(``CaKeys``, ``RaKeys``, ``MaKeys``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec.cert.certificate import Certificate
from scms_codec.secured.signer import Signer

from .config import Settings
from .hierarchy import Hierarchy
from .stores.ca import DynamoDbCaStore, SecretsManagerKeyVault

__all__ = ["LazyHierarchy"]


class LazyHierarchy:
    """``Hierarchy`` from CaTable and the key vault of ``settings``, loaded on the first call.

    ``settings`` is the Settings or a provider of them, asked at load time (a module's cached
    ``settings()``, which tests replace after import).
    """

    def __init__(self, settings: Settings | Callable[[], Settings]) -> None:
        self._settings = settings

    @functools.cached_property
    def _hierarchy(self) -> Hierarchy:
        s = self._settings if isinstance(self._settings, Settings) else self._settings()
        return Hierarchy.load(DynamoDbCaStore.from_settings(s), SecretsManagerKeyVault.from_settings(s))

    def signer(self, role: str) -> Signer:
        return self._hierarchy.signer(role)

    def certificate(self, role: str) -> Certificate:
        return self._hierarchy.certificate(role)

    def chain(self, role: str) -> Sequence[Certificate]:
        return self._hierarchy.chain(role)

    def encryption_private_key(self, role: str) -> ec.EllipticCurvePrivateKey:
        return self._hierarchy.encryption_private_key(role)

    def by_hashed_id8(self, hashed_id8: bytes) -> Certificate | None:
        return self._hierarchy.by_hashed_id8(hashed_id8)

    def anchors(self) -> list[Certificate]:
        return self._hierarchy.anchors()
