"""RA batch work step 2: cocoon keys and one RA-signed ``RaAcaCertRequestSpdu`` per (i, j) of a chunk.

1609.2.1 §6.3.5, §9.3 (protocol.md §3.3 "RA batch work" step 2, §4.5). From the accepted request
(``RequestRecord``) the RA expands the caterpillar key A into cocoon keys B = A + f_ck(i, j)·G (and,
for the original variant, Q = H + f_ek(i, j)·G), and asks the ACA for one certificate per (i, j):
the EE's appPermissions and region, validity = period i, ``id = linkageData {iCert i, 9 random
octets}`` that the ACA replaces with plv1 ⊕ plv2 from ``linkageInfo``, the cocoon key as
verificationKey (explicit, ``butterflyExplicit``) or reconstructionValue (implicit), and the
response form by variant: original → certEncKey Q, unified → certEncKey B (``butterfly.
response_encryption_public_key``), compactUnified → ``cubk``, encryptionKey → the EE's key, plain →
neither. A non-butterfly request (one certificate) carries the EE's own key, id and validity.

Privacy (issue #5 §4): the request holds nothing else of the device: no chain id, expansion key,
caterpillar key, device id, j or request hash. j and the pool key stay with the RA
(``PooledRequest``). The encrypted PLVs pass through unread.

Speed (issue #5 §7): all f·G of a chunk share one inversion (``butterfly.cocoon_public_keys``) and
each request is written by ``spdu.ra_aca_template`` (asn1tools only when a value leaves its shape).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scms_service.iperiod import IPeriods
from scms_service.stores.auth_requests import RequestRecord

from scms_codec import asn1
from scms_codec.cert.template import Outside
from scms_codec.crypto import butterfly, keys, points
from scms_codec.crypto.points import Point
from scms_codec.errors import CodecError
from scms_codec.secured.signer import Signer
from scms_codec.spdu import request_hash
from scms_codec.spdu.ra_aca import EncryptedIndividualPLV, LinkageInfo, RaAcaCertRequest, build_ra_aca_cert_request
from scms_codec.spdu.ra_aca_template import RaAcaRequestSigner, ra_aca_cert_request_pdu

__all__ = [
    "BUTTERFLY_VARIANTS",
    "LA1_ID",
    "LA2_ID",
    "VARIANTS",
    "ChunkInvalid",
    "PlvResultInvalid",
    "PooledRequest",
    "expand_chunk",
    "linkage_infos",
    "pool_key",
]

LA1_ID = b"\x00\x01"
LA2_ID = b"\x00\x02"
"""The LaIds of LA1 and LA2 (their certificates' ``LaSsp``; docs/architecture.md "Linkage authorities")."""

BUTTERFLY_VARIANTS: Mapping[str, butterfly.Variant] = {
    "original": "original",
    "unified": "unified",
    "compactUnified": "compact-unified",
}
"""The record's butterfly variant names and ``crypto.butterfly``'s."""
VARIANTS = frozenset({*BUTTERFLY_VARIANTS, "encryptionKey", "plain"})

# Optional ToBeSignedCertificate members of the EE's request that reach the ACA. Everything else
# (canRequestRollover, flags, extensions, the EE's id of a pseudonym) stays at the RA; a tbs
# ``encryptionKey`` only for a single non-butterfly certificate: in every pseudonym it would be one
# constant key that links them all.
_KEPT = ("region", "assuranceLevel")
_KEPT_SINGLE = (*_KEPT, "encryptionKey")
_ZERO_CRACA = b"\x00\x00\x00"
_LINKAGE_VALUE_SIZE = 9
# EncryptedIndividualPLV {version 2, laId (2), encPlv}: the LA writes it as 02 ‖ laId ‖ encPlv.
_PLV_VERSION = 2
# The usual encPlv (one symmRecipInfo, 9 octets of unsecured data; scms_aca.wire._plv_shape) is
# accepted by its shape; any other is decoded strictly once.
_ENC_PLV_SIZE = 101


class PlvResultInvalid(ValueError):
    """The LA results do not match the chunk (ASL error name; never retried)."""


class ChunkInvalid(ValueError):
    """The chunk or the record cannot be expanded: bounds outside the record, unknown variant, bad key (not retried)."""


@dataclass(frozen=True)
class PooledRequest:
    """One RA-signed ``RaAcaCertRequestSpdu`` of (i, j), with what the RA keeps to map its answer back."""

    i: int
    j: int
    pool_key: str  # pool_key(record.chain_id, i, j)
    spdu: bytes = field(repr=False)  # the RA-signed RaAcaCertRequestSpdu (COER)
    aca_request_id: str  # HashedId8 of spdu in hex (scms_codec.spdu.request_hash(spdu).hex())


def pool_key(chain_id: bytes, i: int, j: int) -> str:
    """32 hex: first 16 octets of SHA-256(chain_id ‖ i as 4 octets BE ‖ j as 4 octets BE).

    Deterministic, so a retried chunk finds what it pooled; unpredictable without the chain id,
    so the pool's sort order groups nothing (docs/architecture.md "Shuffle pool").
    """
    if not isinstance(chain_id, bytes | bytearray) or not chain_id:
        raise TypeError("chain_id: expected non-empty bytes")
    return hashlib.sha256(bytes(chain_id) + i.to_bytes(4, "big") + j.to_bytes(4, "big")).digest()[:16].hex()


# --------------------------------------------------------------------------------------------
# LA results → LinkageInfo per (i, j)


def _la_id(result: Any, index: int) -> bytes:
    if not isinstance(result, Mapping):
        raise PlvResultInvalid(f"LA result {index} is not an object")
    try:
        la_id = bytes.fromhex(str(result["laId"]))
    except KeyError:
        raise PlvResultInvalid(f"LA result {index} has no laId") from None
    except ValueError:
        raise PlvResultInvalid(f"LA result {index}: laId is not hex") from None
    if la_id not in (LA1_ID, LA2_ID):
        raise PlvResultInvalid(f"LA result {index}: laId {la_id.hex()} is neither LA1 (0001) nor LA2 (0002)")
    return la_id


def _enc_plv(value: Any, la_id: bytes, where: str) -> EncryptedIndividualPLV:
    if not isinstance(value, str):
        raise PlvResultInvalid(f"{where}: not a string")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PlvResultInvalid(f"{where}: not base64") from None
    if len(data) < 4 or data[0] != _PLV_VERSION or data[1:3] != la_id:
        raise PlvResultInvalid(f"{where}: not an EncryptedIndividualPLV of LaId {la_id.hex()}")
    enc = data[3:]
    if len(enc) != _ENC_PLV_SIZE or enc[:2] != b"\x03\x82":
        try:
            # Strict: canonical COER or DecodeError, so what the RA embeds is one Ieee1609Dot2Data.
            asn1.decode("Ieee1609Dot2Data", enc)
        except CodecError:
            raise PlvResultInvalid(f"{where}: encPlv is not an Ieee1609Dot2Data") from None
    return EncryptedIndividualPLV(la_id, enc)


def _plvs_of(
    result: Mapping[str, Any], la_id: bytes, *, i_first: int, i_last: int, j_max: int
) -> dict[tuple[int, int], EncryptedIndividualPLV]:
    """The LA's positional answer (functions/la/handlers.py): its bounds must be the chunk's, entry k is the PLV
    of (i_first + k // j_max, k % j_max)."""
    name = f"LA {la_id.hex()}"
    bounds = {"iFirst": i_first, "iLast": i_last, "jMax": j_max}
    for key, value in bounds.items():
        answered = result.get(key)
        if type(answered) is not int:
            raise PlvResultInvalid(f"{name}: {key} is not an integer")
        if answered != value:
            raise PlvResultInvalid(f"{name}: {key} = {answered}, the chunk's is {value}")
    entries = result.get("plvs")
    if not isinstance(entries, list):
        raise PlvResultInvalid(f"{name}: plvs is not a list")
    expected = (i_last - i_first + 1) * j_max
    if len(entries) != expected:
        raise PlvResultInvalid(f"{name}: {len(entries)} PLVs for the chunk's {expected}")
    return {
        (i_first + k // j_max, k % j_max): _enc_plv(entry, la_id, f"{name} plvs[{k}]")
        for k, entry in enumerate(entries)
    }


def linkage_infos(
    results: Sequence[Mapping[str, Any]], *, i_first: int, i_last: int, j_max: int
) -> dict[tuple[int, int], LinkageInfo]:
    """From the two LA task results ({"laId": hex, "iFirst", "iLast", "jMax", "plvs": [b64, ...]}, LA1 = laId
    0001, LA2 = 0002, in either order) the LinkageInfo of every (i, j) of the chunk; PlvResultInvalid if an LA
    is missing or repeated, answers other bounds, has too few or too many entries, or one is not base64 or not
    an EncryptedIndividualPLV of that LA."""
    if i_last < i_first or j_max < 1:
        raise PlvResultInvalid("the chunk is empty")
    if isinstance(results, str | bytes) or not isinstance(results, Sequence):
        raise PlvResultInvalid("the LA results are not a list")
    if len(results) != 2:
        raise PlvResultInvalid(f"expected the results of LA1 and LA2, got {len(results)} result(s)")
    by_la: dict[bytes, Mapping[str, Any]] = {}
    for index, result in enumerate(results):
        la_id = _la_id(result, index)
        if la_id in by_la:
            raise PlvResultInvalid(f"LA {la_id.hex()} answered twice and the other LA not at all")
        by_la[la_id] = result
    bounds = {"i_first": i_first, "i_last": i_last, "j_max": j_max}
    first = _plvs_of(by_la[LA1_ID], LA1_ID, **bounds)
    second = _plvs_of(by_la[LA2_ID], LA2_ID, **bounds)
    return {key: LinkageInfo(plv, second[key]) for key, plv in first.items()}


# --------------------------------------------------------------------------------------------
# Expansion


def _compressed(p: Point) -> tuple[str, bytes]:
    """``EccP256CurvePoint`` of p in canonical compressed form (protocol.md §4.1)."""
    return ("compressed-y-1" if p[1] & 1 else "compressed-y-0"), p[0].to_bytes(32, "big")


def _point(sec1: bytes | None, name: str) -> Point:
    if sec1 is None:
        raise ChunkInvalid(f"record: {name} is missing")
    try:
        return points.from_public_key(keys.public_key_from_sec1(sec1))
    except (CodecError, TypeError, ValueError):
        raise ChunkInvalid(f"record: {name} is not a P-256 point") from None


def _expander(key: bytes | None, name: str) -> butterfly.Expander:
    if key is None:
        raise ChunkInvalid(f"record: {name} is missing")
    try:
        return butterfly.Expander(key)
    except (TypeError, ValueError):
        raise ChunkInvalid(f"record: {name} is not a 16-octet expansion key") from None


@dataclass
class _Chunk:
    """What every request of one chunk shares: the fixed tbsCert members, type, flags and signer."""

    record: RequestRecord
    periods: IPeriods
    now: int
    ra: Signer
    fast: RaAcaRequestSigner | None
    fixed: dict[str, Any] = field(repr=False)
    butterfly_explicit: bool
    cubk: bool
    _validity: dict[int, dict[str, Any]] = field(default_factory=dict)

    def validity(self, i: int) -> dict[str, Any]:
        known = self._validity.get(i)
        if known is None:
            known = self._validity[i] = self.periods.validity(i)
        return known

    def request(self, tbs: dict[str, Any], linkage: LinkageInfo | None, enc_key: Point | None, *, check: bool) -> bytes:
        """One signed request: by template when it fits, else (and for ``check``) by the codec's builder."""
        record = self.record
        content = None
        if check:
            # Once per chunk: every request of a chunk has this shape, so one check covers them all.
            content = self._content(tbs, linkage, enc_key)
            problems = content.violations()
            if problems:
                raise ChunkInvalid("request breaks RaAcaCertRequest constraints: " + "; ".join(problems))
        if self.fast is not None:
            try:
                pdu = ra_aca_cert_request_pdu(
                    self.now, record.cert_type, tbs, butterfly_explicit=self.butterfly_explicit, cubk=self.cubk,
                    linkage=linkage, cert_enc_key=None if enc_key is None else _compressed(enc_key),
                )  # fmt: skip
                return self.fast.sign(pdu)
            except Outside:
                pass  # A value outside the template (an odd region, SSP, ...): asn1tools writes it.
        return build_ra_aca_cert_request(content or self._content(tbs, linkage, enc_key), self.ra)

    def _content(self, tbs: dict[str, Any], linkage: LinkageInfo | None, enc_key: Point | None) -> RaAcaCertRequest:
        return RaAcaCertRequest(
            self.now,
            self.record.cert_type,  # type: ignore[arg-type]
            tbs,
            butterfly_explicit=self.butterfly_explicit,
            cubk=self.cubk,
            linkage_info=linkage,
            cert_enc_key=None if enc_key is None else points.to_public_key(enc_key),
        )


def _indicator(cert_type: str, key: Point) -> tuple[str, Any]:
    point = _compressed(key)
    if cert_type == "explicit":
        return "verificationKey", ("ecdsaNistP256", point)
    return "reconstructionValue", point


def expand_chunk(
    record: RequestRecord,
    i_first: int,
    i_last: int,
    linkage: Mapping[tuple[int, int], LinkageInfo] | None,
    *,
    ra: Signer,
    periods: IPeriods,
    now: int,
    skip: Collection[tuple[int, int]] = (),
) -> list[PooledRequest]:
    """One RaAcaCertRequestSpdu per (i, j) in [i_first, i_last] x [0, record.certs_per_period) not in skip.

    protocol.md §3.3 step 2 and §4.5; ``now`` (Time32) is each request's generationTime. For a
    butterfly variant ``linkage`` must hold every (i, j) expanded (``PlvResultInvalid`` otherwise);
    for the others it is ignored. ``ChunkInvalid`` for bounds outside the record or a record that
    cannot be expanded. Requests come in (i, j) order.
    """
    variant = record.variant
    if variant not in VARIANTS:
        raise ChunkInvalid(f"record: unknown variant {variant!r}")
    if record.cert_type not in ("explicit", "implicit"):
        raise ChunkInvalid(f"record: unknown certificate type {record.cert_type!r}")
    if not record.first_i <= i_first <= i_last <= record.last_i:
        raise ChunkInvalid(
            f"chunk [{i_first}, {i_last}] is not inside the request's [{record.first_i}, {record.last_i}]"
        )
    skipped = set(skip)
    pairs = [
        (i, j) for i in range(i_first, i_last + 1) for j in range(record.certs_per_period) if (i, j) not in skipped
    ]
    if not pairs:
        return []
    try:
        template = asn1.decode("ToBeSignedCertificate", record.tbs_template)
    except CodecError:
        raise ChunkInvalid("record: tbsTemplate is not a ToBeSignedCertificate") from None
    if "appPermissions" not in template:
        raise ChunkInvalid("record: tbsTemplate has no appPermissions")
    shape = BUTTERFLY_VARIANTS.get(variant)
    caterpillar = _point(record.caterpillar_key, "caterpillarKey")
    fixed: dict[str, Any] = {"cracaId": _ZERO_CRACA, "crlSeries": 0, "appPermissions": template["appPermissions"]}
    kept = _KEPT if shape is not None else _KEPT_SINGLE
    fixed.update({name: template[name] for name in kept if name in template})
    try:
        fast: RaAcaRequestSigner | None = RaAcaRequestSigner(ra)
    except Outside:
        fast = None  # Not a P-256 RA certificate signer: the codec's builder signs (and says why not).
    chunk = _Chunk(
        record, periods, now, ra, fast, fixed,
        butterfly_explicit=shape is not None and record.cert_type == "explicit", cubk=variant == "compactUnified",
    )  # fmt: skip
    if shape is None:
        return _single(chunk, pairs, caterpillar, template)
    return _butterfly(chunk, pairs, shape, caterpillar, linkage)


def _butterfly(
    chunk: _Chunk,
    pairs: list[tuple[int, int]],
    shape: butterfly.Variant,
    caterpillar: Point,
    linkage: Mapping[tuple[int, int], LinkageInfo] | None,
) -> list[PooledRequest]:
    record = chunk.record
    if linkage is None:
        raise PlvResultInvalid("no linkage information for a butterfly request")
    infos = [linkage.get(pair) for pair in pairs]
    missing = sum(info is None for info in infos)
    if missing:
        raise PlvResultInvalid(f"linkage information is missing for {missing} (i, j) of the chunk")
    signing = _expander(record.signing_expansion, "signingExpansion")
    try:
        # B_ij = A + f_ck(i, j)·G for the whole chunk with one inversion (1609.2.1 §9.3).
        cocoons = butterfly.cocoon_public_keys(caterpillar, signing, pairs, "signing")
        if shape == "original":
            # Q_ij = H + f_ek(i, j)·G, as butterfly.response_encryption_public_key("original") but batched.
            encryption = _point(record.encryption_key, "encryptionKey")
            expander = _expander(record.encryption_expansion, "encryptionExpansion")
            enc_keys: list[Point | None] = list(butterfly.cocoon_public_keys(encryption, expander, pairs, "encryption"))
        elif shape == "unified":
            enc_keys = [
                butterfly.response_encryption_public_key(shape, cocoon_signing=b, i=i, j=j)
                for b, (i, j) in zip(cocoons, pairs, strict=True)
            ]
        else:
            enc_keys = [None] * len(pairs)  # compactUnified: cubk, the ACA encrypts to B itself
    except (CodecError, ValueError) as exc:
        # f_k(i, j) = 0 or A + f·G at infinity (probability ~2^-256), or a key off the curve.
        raise ChunkInvalid(f"cocoon key expansion failed: {type(exc).__name__}") from None
    out: list[PooledRequest] = []
    for index, ((i, j), cocoon, enc_key, info) in enumerate(zip(pairs, cocoons, enc_keys, infos, strict=True)):
        tbs = dict(chunk.fixed)
        # The ACA replaces the dummy linkage value with plv1 ⊕ plv2 (protocol.md §3.3 step 2).
        tbs["id"] = ("linkageData", {"iCert": i, "linkage-value": secrets.token_bytes(_LINKAGE_VALUE_SIZE)})
        tbs["validityPeriod"] = chunk.validity(i)
        tbs["verifyKeyIndicator"] = _indicator(record.cert_type, cocoon)
        spdu = chunk.request(tbs, info, enc_key, check=index == 0)
        out.append(PooledRequest(i, j, pool_key(record.chain_id, i, j), spdu, request_hash(spdu).hex()))
    return out


def _single(chunk: _Chunk, pairs: list[tuple[int, int]], key: Point, template: dict[str, Any]) -> list[PooledRequest]:
    """encryptionKey and plain: the EE's own key, id and requested validity, one certificate per (i, j) asked."""
    record = chunk.record
    enc_key = _point(record.encryption_key, "encryptionKey") if record.variant == "encryptionKey" else None
    out: list[PooledRequest] = []
    for index, (i, j) in enumerate(pairs):
        tbs = dict(chunk.fixed)
        tbs["id"] = template["id"]
        tbs["validityPeriod"] = template["validityPeriod"]
        tbs["verifyKeyIndicator"] = _indicator(record.cert_type, key)
        spdu = chunk.request(tbs, None, enc_key, check=index == 0)
        out.append(PooledRequest(i, j, pool_key(record.chain_id, i, j), spdu, request_hash(spdu).hex()))
    return out
