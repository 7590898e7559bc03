"""The shuffle pool's two ends: ``draw`` a shuffled ACA batch of any devices, ``deliver`` the ACA's answers.

protocol.md §3.3 step 3 and issue #5 §4: the ACA sees requests of many devices in random order,
never one device's batch. ``draw`` leases one non-empty shard (architecture.md "Shuffle pool"),
reads up to ``aca_batch_size`` of its items (their pool keys are hashes, so a shard mixes
devices) and shuffles them with ``secrets.SystemRandom``.

``deliver`` checks each ``AcaRaCertResponseSpdu``: signed by an ACA certificate of the hierarchy
and its requestHash the HashedId8 of the request drawn. It stores the inner
``AcaEeCertResponse*Spdu`` under the request's owner and (i, j), or a refusal (the ACA's code, or
400-43/400-42 when the answer does not check out: a failure of that item, never a silent drop).
Order: certificates first, then the pool items, then the lease, so a crash anywhere repeats work
that the ACA answers from its response store (the same octets), never a second certificate.

What ``deliver`` needs of each drawn request (owner, i, j, the request's HashedId8) travels from
``draw`` as a ``Ticket`` through the RA's own state machine (the ASL's Hold step keeps it aside; the
ACA never sees it). While the batch's lease still stands nobody else drew those requests, so the
tickets are taken as they are; otherwise (the lease lapsed and was taken over, or plain pool keys
came) the pool items are read again and those already gone are left out.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from random import Random

from cryptography.exceptions import InvalidSignature as _PycaInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from scms_service.iperiod import IPeriods
from scms_service.stores.issued_certs import IssuedCert, IssuedCertStore
from scms_service.stores.shuffle_pool import Lease, PoolItem, ShufflePool

from scms_codec import time32
from scms_codec.cert.certificate import Certificate
from scms_codec.errors import CodecError, ErrorCode
from scms_codec.oer_reader import read_signed
from scms_codec.spdu.ra_aca import parse_aca_ra_cert_response
from scms_codec.spdu.scms_pdu import request_hash

__all__ = ["AcaCertificates", "BadAcaResponse", "Delivery", "Drawn", "Ticket", "deliver", "draw", "open_aca_response"]

log = logging.getLogger(__name__)

CERT_RETENTION = 7 * 24 * 3600
"""Seconds a delivered certificate's item outlives the certificate's validity (then its TTL removes it)."""

_ECDSA_SHA256 = ec.ECDSA(Prehashed(hashes.SHA256()))
# ScmsPdu {version 2, aca-ra acaRaCertResponse {version 2, …}} (no OPTIONAL members).
_RESPONSE_HEAD = b"\x02\x83\x81\x00\x02"
_RESPONSE_TAGS = (0x80, 0x81, 0x82)  # acaResponse plain, private, cubk


class BadAcaResponse(Exception):
    """An ACA answer that does not check out; ``code`` is what the item is refused with."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class AcaCertificates:
    """The hierarchy's ACA certificates (active and rotated) that may sign ``AcaRaCertResponseSpdu``s."""

    def __init__(self, certificates: Sequence[Certificate]) -> None:
        self._by_encoding: dict[bytes, tuple[ec.EllipticCurvePublicKey, bytes]] = {}
        for cert in certificates:
            key = cert.public_key()
            if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
                raise ValueError("certificates: an ACA certificate with a P-256 verification key is expected")
            self._by_encoding[cert.encoded] = (key, hashlib.sha256(cert.encoded).digest())
        if not self._by_encoding:
            raise ValueError("certificates: at least one ACA certificate")

    @property
    def encodings(self) -> tuple[bytes, ...]:
        return tuple(self._by_encoding)

    def key_of(self, encoded: bytes) -> tuple[ec.EllipticCurvePublicKey, bytes] | None:
        """The key and SHA-256 of an ACA certificate given by its COER octets, or None if it is not one."""
        return self._by_encoding.get(bytes(encoded))


def _verify(key: ec.EllipticCurvePublicKey, cert_hash: bytes, tbs_data: bytes, r: int, s: int) -> None:
    digest = hashlib.sha256(hashlib.sha256(tbs_data).digest() + cert_hash).digest()
    try:
        key.verify(encode_dss_signature(r, s), digest, _ECDSA_SHA256)
    except _PycaInvalidSignature:
        raise BadAcaResponse(ErrorCode.SIGNATURE_VERIFICATION_FAILED, "ACA signature does not verify") from None


def _fast_open(data: bytes, aca: AcaCertificates) -> tuple[bytes, bytes] | None:
    """(requestHash, inner SPDU) of a response in the ACA's own fixed shape, signature checked; None otherwise."""
    signed = read_signed(data)
    if signed is None:
        return None  # not the fixed shape: the strict parser decides
    found = aca.key_of(signed.signer_certificate)
    payload = signed.payload
    if found is None or not (
        payload.startswith(_RESPONSE_HEAD) and len(payload) > 18 and payload[17] in _RESPONSE_TAGS
    ):
        return None
    _verify(found[0], found[1], signed.tbs_data, signed.r, signed.s)
    return payload[9:17], payload[18:]


def open_aca_response(data: bytes, expected_request_hash: bytes, aca: AcaCertificates) -> bytes:
    """The inner ``AcaEeCertResponse*Spdu`` of an ``AcaRaCertResponseSpdu`` for the request hashed to ``expected``.

    Signed by one of ``aca`` (400-43 otherwise), readable (400-42) and answering that request (400-42).
    """
    opened = _fast_open(bytes(data), aca)
    if opened is None:
        try:
            parsed = parse_aca_ra_cert_response(bytes(data))
        except CodecError as exc:
            # The codec's own code: 400-43 for a signature that fails, 400-42 for a shape it cannot read.
            raise BadAcaResponse(exc.error_code, f"ACA response does not open ({type(exc).__name__})") from None
        if parsed.signer is None or aca.key_of(parsed.signer.encoded) is None:
            raise BadAcaResponse(ErrorCode.SIGNATURE_VERIFICATION_FAILED, "ACA response is not signed by the ACA")
        opened = parsed.content.request_hash, parsed.content.response_spdu
    answered, inner = opened
    if answered != expected_request_hash:
        raise BadAcaResponse(ErrorCode.FAILED_PARSING, "ACA response answers another request")
    return inner


_HEX = frozenset("0123456789abcdef")


def _hex(text: str, size: int) -> bytes:
    if len(text) != 2 * size or not set(text) <= _HEX:
        raise ValueError("ticket: malformed")
    return bytes.fromhex(text)


@dataclass(frozen=True)
class Ticket:
    """A drawn request as ``deliver`` needs it: pool key, owner (request hash), (i, j) and its own HashedId8."""

    key: str
    owner: bytes = field(repr=False)
    i: int
    j: int
    request_hash: bytes = field(repr=False)  # HashedId8 of the RaAcaCertRequestSpdu: the acaRequestId

    @classmethod
    def of(cls, item: PoolItem) -> Ticket:
        return cls(item.key, item.owner, item.i, item.j, request_hash(item.spdu))

    def encode(self) -> str:
        """``<pool key>.<owner hex>.<i>.<j>.<acaRequestId hex>`` (RA-internal: it never reaches the ACA)."""
        return f"{self.key}.{self.owner.hex()}.{self.i}.{self.j}.{self.request_hash.hex()}"

    @classmethod
    def decode(cls, text: str) -> Ticket:
        """The ticket ``encode`` wrote; ``ValueError`` for anything else."""
        parts = text.split(".")
        if len(parts) != 5 or not all(p.isdigit() and p.isascii() and len(p) <= 5 for p in parts[2:4]):
            raise ValueError("ticket: malformed")
        _hex(parts[0], 16)
        return cls(parts[0], _hex(parts[1], 8), int(parts[2]), int(parts[3]), _hex(parts[4], 8))


@dataclass(frozen=True)
class Drawn:
    """One ACA batch: the shard's lease and its requests in shuffled order."""

    lease: Lease
    items: tuple[PoolItem, ...] = field(repr=False)


def draw(
    pool: ShufflePool,
    *,
    batch_size: int,
    lease_seconds: int,
    now: int,
    rng: Random | None = None,
    holder: str | None = None,
) -> Drawn | None:
    """Lease a non-empty shard and take up to ``batch_size`` of its requests, shuffled; None when none is free.

    Shards are tried from a random one on, so lanes spread; a leased shard is passed over.
    """
    if batch_size < 1:
        raise ValueError("batch_size: at least 1")
    rng = rng if rng is not None else secrets.SystemRandom()
    holder = holder if holder is not None else secrets.token_hex(8)
    now_unix = time32.to_unix(now)
    start = rng.randrange(pool.shards)
    for step in range(pool.shards):
        shard = (start + step) % pool.shards
        if not pool.acquire(shard, holder, now_unix=now_unix, lease_seconds=lease_seconds):
            continue
        lease = Lease(shard, holder)
        try:
            items = pool.read(shard, batch_size)
        except Exception:
            # A failed read (the task is retried) must not keep the shard for a whole lease.
            pool.release(lease)
            raise
        if not items:
            pool.release(lease)
            continue
        rng.shuffle(items)
        return Drawn(lease, tuple(items))
    return None


@dataclass(frozen=True)
class Delivery:
    """What one ``deliver`` stored: certificates, refusals, and answers whose pool item was gone already."""

    delivered: int
    refused: int
    gone: int
    released: bool


def deliver(
    pool: ShufflePool,
    issued: IssuedCertStore,
    *,
    lease: Lease,
    keys: Sequence[str | Ticket],
    responses: Sequence[bytes | None],
    refused: Mapping[int, ErrorCode],
    aca: AcaCertificates,
    periods: IPeriods,
) -> Delivery:
    """Store the ACA's answers to the drawn ``keys`` (aligned with ``responses``), then clear the pool and lease.

    ``keys`` are the draw's tickets (or bare pool keys: then the pool items are read).
    """
    if len(keys) != len(responses):
        raise ValueError("keys, responses: one response per drawn key")
    pool_keys = [k.key if isinstance(k, Ticket) else k for k in keys]
    tickets = [k for k in keys if isinstance(k, Ticket)]
    if len(tickets) == len(keys) and pool.holds(lease):
        # Still our lease: no other lane drew these requests, so each is pooled, or delivered by an
        # earlier try of this very batch (the same answers, written again).
        known = {t.key: t for t in tickets}
    else:
        known = {key: Ticket.of(item) for key, item in pool.get_many(pool_keys).items()}
    certs: list[IssuedCert] = []
    delivered = refusals = gone = 0
    for index, (key, response) in enumerate(zip(pool_keys, responses, strict=True)):
        item = known.get(key)
        if item is None:
            gone += 1  # delivered already by a holder whose lease we took over after it expired
            continue
        rh = item.request_hash
        code = refused.get(index)
        inner: bytes | None = None
        if code is None and response is None:
            code = ErrorCode.FAILED_PARSING  # neither an answer nor a refusal: the batch result is broken
        elif code is None and response is not None:
            try:
                inner = open_aca_response(response, rh, aca)
            except BadAcaResponse as exc:
                code = exc.code
                log.warning("ACA response rejected", extra={"index": index, "code": exc.code.value, "reason": str(exc)})
        end = time32.to_unix(time32.validity_end(periods.validity(item.i)))
        expires = end + CERT_RETENTION
        if inner is not None:
            certs.append(IssuedCert(item.owner, item.i, item.j, rh.hex(), expires, spdu=inner))
            delivered += 1
        else:
            assert code is not None
            certs.append(IssuedCert(item.owner, item.i, item.j, rh.hex(), expires, refusal=code.value))
            refusals += 1
    # Certificates first, then the pool items, then the lease (crash safety, module docstring).
    issued.put_many(certs)
    pool.delete_many([key for key in pool_keys if key in known])
    released = pool.release(lease)
    return Delivery(delivered, refusals, gone, released)
