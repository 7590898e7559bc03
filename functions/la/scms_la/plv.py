"""Pre-linkage values of one LA for one linkage chain, encrypted for the ACA (protocol.md §3.3 step 1, §4.6).

The RA names a device's chain only by an opaque random ``chain_id`` (16 octets it chooses); the LA
never learns which device it is. The first request for a chain draws ls(i_first) at random and
stores it with its i-period (the chain's origin); every later seed is evolved forward from it
(seedEvoFn1-sha256), never backward, so a request below the origin is refused. For each (i, j)
the LA answers an ``EncryptedIndividualPLV`` (COER) whose PLV (lvGenFn1-aes128) only the ACA can
open: it is encrypted under the key this LA shares with the ACA (symmRecipInfo). Seeds and PLVs
never reach a log, a repr or an exception message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scms_service.errors import BadRequest, NotFound, ScmsError
from scms_service.stores.linkage_seeds import CHAIN_ID_SIZE, ChainSeed, SeedStore

from scms_codec.crypto import linkage
from scms_codec.spdu.plv import encrypt_plv
from scms_codec.spdu.scms_pdu import SCMS_PDU_VERSION

__all__ = [
    "I_MAX",
    "J_MAX_LIMIT",
    "MAX_PLVS",
    "IndexedPlv",
    "PlvBeforeOrigin",
    "PlvRequest",
    "PlvRequestInvalid",
    "PlvRequestRefused",
    "PlvRequestTooLarge",
    "PlvResponse",
    "SeedMismatch",
    "UnknownChain",
    "pre_linkage_values",
    "revocation_seed",
    "seed_at",
]

# i is an IValue (Uint16) in LinkageData.iCert; jmax is a Uint8 in a linked CRL entry, which
# revokes j = 0 … jmax-1, so no chain may use more j values than a CRL can name.
I_MAX = 0xFFFF
J_MAX_LIMIT = 0xFF
# Three years of weekly i-periods with 20 certificates each (issue #5 §1; Settings.la_max_plvs).
MAX_PLVS = 156 * 20


class PlvRequestRefused(BadRequest):
    """A PLV request this LA will not answer; nothing was stored. Subclass names are ASL error names."""


class PlvRequestInvalid(PlvRequestRefused):
    """The request is malformed: chain id size, i or j range."""


class PlvRequestTooLarge(PlvRequestRefused):
    """The request asks for more (i, j) pairs than the configured maximum."""


class PlvBeforeOrigin(PlvRequestRefused):
    """The request asks for an i-period before the chain's first seed: seeds do not evolve backwards."""


class UnknownChain(NotFound):
    """No seed is stored for this chain (``seed_at``)."""


class SeedMismatch(ScmsError):
    """The stored seed was created by another LA: this function reads the wrong table (500)."""


@dataclass(frozen=True)
class PlvRequest:
    """The RA's request: PLVs of chain ``chain_id`` for i in [i_first, i_last] and j in [0, j_max)."""

    chain_id: bytes
    i_first: int
    i_last: int
    j_max: int

    @property
    def count(self) -> int:
        """How many (i, j) pairs the request asks for."""
        return (self.i_last - self.i_first + 1) * self.j_max


@dataclass(frozen=True)
class IndexedPlv:
    """One answer: the COER ``EncryptedIndividualPLV`` of (i, j); only the ACA can open ``enc_plv``."""

    i: int
    j: int
    enc_plv: bytes = field(repr=False)


@dataclass(frozen=True)
class PlvResponse:
    """This LA's id and one ``IndexedPlv`` per (i, j), in (i, j) order."""

    la_id: bytes
    plvs: tuple[IndexedPlv, ...] = field(repr=False)

    def __repr__(self) -> str:
        return f"PlvResponse(la_id={self.la_id.hex()}, {len(self.plvs)} plvs)"


def _int(value: object, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise PlvRequestInvalid(f"{name} must be an integer")
    if not low <= value <= high:
        raise PlvRequestInvalid(f"{name} must be in [{low}, {high}]")
    return value


def _check(request: PlvRequest, max_plvs: int) -> None:
    if not isinstance(request.chain_id, bytes) or len(request.chain_id) != CHAIN_ID_SIZE:
        raise PlvRequestInvalid(f"chainId must be {CHAIN_ID_SIZE} octets")
    _int(request.i_first, "iFirst", 0, I_MAX)
    _int(request.i_last, "iLast", request.i_first, I_MAX)
    _int(request.j_max, "jMax", 1, J_MAX_LIMIT)
    if request.count > max_plvs:
        raise PlvRequestTooLarge(f"{request.count} PLVs asked for; at most {max_plvs} per request")


def _encrypted_individual_plv_coer(la_id: bytes, enc_plv: bytes) -> bytes:
    """COER ``EncryptedIndividualPLV {version, laId, encPlv}``: a non-extensible SEQUENCE with no
    optional field has no preamble, so it is the plain concatenation (pinned against asn1tools in
    tests/unit/la); the asn1tools encoder costs more than the encryption on the 3,120-PLV path."""
    return bytes([SCMS_PDU_VERSION]) + la_id + enc_plv


def _chain_seed(request: PlvRequest, la_id: bytes, seeds: SeedStore, now: int) -> ChainSeed:
    stored = seeds.get(request.chain_id)
    if stored is None:
        # First request for this chain: ls(i_first) is random. Of two concurrent first requests
        # only one seed is stored; the other request continues with it (put_if_absent).
        fresh = ChainSeed(request.chain_id, request.i_first, linkage.initial_seed(), la_id, now)
        stored = seeds.put_if_absent(fresh)
    if stored.la_id != la_id:
        raise SeedMismatch(f"the chain's seed is of LaId {stored.la_id.hex()}, not {la_id.hex()}")
    return stored


def pre_linkage_values(
    request: PlvRequest, *, la_id: bytes, seeds: SeedStore, aca_key: bytes, now: int, max_plvs: int = MAX_PLVS
) -> PlvResponse:
    """``EncryptedIndividualPLV`` (COER) for every (i, j) of ``request``, for the ACA under ``aca_key``.

    plv(i, j) = lvGenFn1-aes128(ls(i), la_id, j) with ls(i) evolved from the chain's stored seed
    (1609.2 §5.1.3.4, protocol.md §4.6). Refusals (``PlvRequestRefused`` subclasses) store nothing.
    """
    _check(request, max_plvs)
    stored = _chain_seed(request, la_id, seeds, now)
    if request.i_first < stored.origin_i:
        raise PlvBeforeOrigin(f"iFirst {request.i_first} is before the chain's first i-period {stored.origin_i}")
    seed = linkage.seed_at(la_id, stored.seed, stored.origin_i, request.i_first)
    js = range(request.j_max)
    out: list[IndexedPlv] = []
    for i in range(request.i_first, request.i_last + 1):
        if i > request.i_first:
            seed = linkage.evolve_seed(la_id, seed)
        for j, plv in zip(js, linkage.pre_linkage_values(la_id, seed, js), strict=True):
            encrypted = encrypt_plv(la_id, plv, aca_key)
            out.append(IndexedPlv(i, j, _encrypted_individual_plv_coer(la_id, encrypted.enc_plv)))
    return PlvResponse(la_id, tuple(out))


def _stored_seed(chain_id: bytes, *, la_id: bytes, seeds: SeedStore) -> ChainSeed:
    if not isinstance(chain_id, bytes) or len(chain_id) != CHAIN_ID_SIZE:
        raise PlvRequestInvalid(f"chainId must be {CHAIN_ID_SIZE} octets")
    stored = seeds.get(chain_id)
    if stored is None:
        raise UnknownChain("no seed for this chain")  # the chain id is a secret: never in exception text
    if stored.la_id != la_id:
        raise SeedMismatch(f"the chain's seed is of LaId {stored.la_id.hex()}, not {la_id.hex()}")
    return stored


def seed_at(chain_id: bytes, i: int, *, la_id: bytes, seeds: SeedStore) -> bytes:
    """ls(i) of a chain, for the MA's linked CRL entry (protocol.md §3.6 step 2); never logged.

    ``UnknownChain`` for a chain this LA never saw; ``PlvBeforeOrigin`` for i before its first seed;
    ``PlvRequestInvalid`` for a chain id that is not 16 octets or an i outside Uint16.
    """
    stored = _stored_seed(chain_id, la_id=la_id, seeds=seeds)
    _int(i, "i", 0, I_MAX)
    if i < stored.origin_i:
        raise PlvBeforeOrigin(f"i {i} is before the chain's first i-period {stored.origin_i}")
    return linkage.seed_at(la_id, stored.seed, stored.origin_i, i)


def revocation_seed(chain_id: bytes, i: int, *, la_id: bytes, seeds: SeedStore) -> tuple[int, bytes]:
    """(i', ls(i')) with i' = max(i, the chain's origin): the seed a linked CRL entry revoking from ``i`` carries.

    The MA asks for the current i-period; a chain that starts later (a batch preloaded ahead) is
    revoked from its first period, since seeds never evolve backwards (protocol.md §3.6 step 2, §4.6).
    One read of the stored seed. ``UnknownChain`` / ``PlvRequestInvalid`` as ``seed_at``.
    """
    stored = _stored_seed(chain_id, la_id=la_id, seeds=seeds)
    _int(i, "i", 0, I_MAX)
    at = max(i, stored.origin_i)
    return at, linkage.seed_at(la_id, stored.seed, stored.origin_i, at)
