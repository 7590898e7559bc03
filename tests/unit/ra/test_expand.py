"""scms_ra.expand: a chunk of an accepted request → RaAcaCertRequestSpdus the real ACA issues and the EE opens.

RA (expand_chunk) with real LA PLVs (scms_la.plv) → ACA (scms_aca.issue.issue_batch) → EE side:
decrypt with the EE's keys, reconstruct the private key, check it against the certificate, the
linkage value plv1 ⊕ plv2 with iCert = i and the validity of period i. Twins: another key fails,
a tampered PLV is refused by the ACA. Also skip, pool keys, the LA result checks and privacy.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from scms_aca.issue import HierarchyRaCertificates, IssuePolicy, IssueResult, issue_batch
from scms_la.plv import PlvRequest, pre_linkage_values
from scms_ra.expand import (
    ChunkInvalid,
    PlvResultInvalid,
    PooledRequest,
    expand_chunk,
    linkage_infos,
    pool_key,
)
from scms_service.config import load_settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.iperiod import IPeriods
from scms_service.stores.aca_responses import FakeAcaResponseStore
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.auth_requests import RequestRecord, RequestStatus
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault
from scms_service.stores.linkage_seeds import InMemorySeedStore

from scms_codec import asn1
from scms_codec.cert.certificate import Certificate
from scms_codec.crypto import butterfly, ecqv, keys, linkage, points
from scms_codec.crypto.points import Point
from scms_codec.errors import DecryptionError, ErrorCode, InvalidKey
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu import request_hash
from scms_codec.spdu.aca_ee import parse_aca_ee_cert_response
from scms_codec.spdu.ra_aca import LinkageInfo, RaAcaCertRequest, parse_aca_ra_cert_response, parse_ra_aca_cert_request

NOW = 700_000_000  # Time32
WEEK = 7 * 24 * 3600
PERIODS = IPeriods(length=WEEK, epoch=NOW - 1000 - 5 * WEEK, init=0, overlap=3600, certs_per_period=3)
I_FIRST, I_LAST, J_MAX = 5, 6, 3
LA1, LA2 = b"\x00\x01", b"\x00\x02"
BUTTERFLY = ("original", "unified", "compactUnified")
VARIANTS = (*BUTTERFLY, "encryptionKey", "plain")
CASES = [(t, v) for t in ("explicit", "implicit") for v in VARIANTS]
FORMS = {"plain": "plain", "compactUnified": "cubk"}


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    ca, _ = init_hierarchy(load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(),
                           now=NOW - 10_000)  # fmt: skip
    return ca


def _sec1(p: Point) -> bytes:
    return bytes((3 if p[1] & 1 else 2,)) + p[0].to_bytes(32, "big")


@dataclass
class Device:
    """One EE's secrets: caterpillar pairs (a, A), (h, H), expansion keys, an own response key k."""

    a: int = 0
    A: Point = (0, 0)
    h: int = 0
    H: Point = (0, 0)
    k: int = 0
    K: Point = (0, 0)
    ck: bytes = field(default_factory=lambda: os.urandom(16))
    ek: bytes = field(default_factory=lambda: os.urandom(16))

    def __post_init__(self) -> None:
        self.a, self.A = points.generate()
        self.h, self.H = points.generate()
        self.k, self.K = points.generate()

    def tbs(self, **extra: Any) -> dict[str, Any]:
        """The tbsCert of the EE's EeRaCertRequest (protocol.md §3.3 EE side)."""
        return {
            "id": ("none", None),
            "cracaId": b"\x00\x00\x00",
            "crlSeries": 0,
            "validityPeriod": {"start": PERIODS.start(I_FIRST), "duration": ("hours", 2 * 169)},
            "appPermissions": [{"psid": 32}],
            "verifyKeyIndicator": ("verificationKey", ("ecdsaNistP256", _compressed_value(self.A))),
            **extra,
        }

    def record(self, variant: str, cert_type: str, **tbs_extra: Any) -> RequestRecord:
        """The RequestRecord ``authorize`` stores for this EE's request of ``variant``."""
        single = variant not in BUTTERFLY
        return RequestRecord(
            request_hash=os.urandom(8),
            device_id="obu-7",
            enrollment_cert_id=os.urandom(8).hex(),
            variant=variant,
            cert_type=cert_type,
            tbs_template=asn1.encode("ToBeSignedCertificate", self.tbs(**tbs_extra)),
            caterpillar_key=_sec1(self.A),
            encryption_key={"original": _sec1(self.H), "encryptionKey": _sec1(self.K)}.get(variant),
            signing_expansion=None if single else self.ck,
            encryption_expansion=self.ek if variant == "original" else None,
            first_i=I_FIRST,
            last_i=I_FIRST if single else I_LAST,
            certs_per_period=1 if single else J_MAX,
            chain_id=os.urandom(16),
            psid_set="0" * 16,
            generation_time=NOW,
            status=RequestStatus.ACCEPTED,
            ack=b"",
            created_at=NOW,
            rate_expires_at=0,
        )

    def signing_private(self, record: RequestRecord, i: int, j: int) -> int:
        if record.variant in BUTTERFLY:
            return butterfly.cocoon_private_key(self.a, butterfly.Expander(self.ck), i, j, "signing")
        return self.a

    def response_private(self, record: RequestRecord, i: int, j: int) -> int | None:
        if record.variant == "plain":
            return None
        if record.variant == "encryptionKey":
            return self.k
        if record.variant == "original":
            return butterfly.cocoon_private_key(self.h, butterfly.Expander(self.ek), i, j, "encryption")
        return self.signing_private(record, i, j)


def _compressed_value(p: Point) -> tuple[str, bytes]:
    return ("compressed-y-1" if p[1] & 1 else "compressed-y-0"), p[0].to_bytes(32, "big")


@dataclass
class Las:
    """LA1 and LA2 as the real use case (scms_la.plv) with in-memory seed stores and keys shared with the ACA."""

    key1: bytes = field(default_factory=lambda: os.urandom(16))
    key2: bytes = field(default_factory=lambda: os.urandom(16))
    seeds1: InMemorySeedStore = field(default_factory=InMemorySeedStore)
    seeds2: InMemorySeedStore = field(default_factory=InMemorySeedStore)

    def results(self, record: RequestRecord, i_first: int = I_FIRST, i_last: int = I_LAST) -> list[dict[str, Any]]:
        """The two LA task results (functions/la/handlers.py response_to_result) for the chunk."""
        request = PlvRequest(record.chain_id, i_first, i_last, record.certs_per_period)
        out = []
        for la_id, seeds, key in ((LA1, self.seeds1, self.key1), (LA2, self.seeds2, self.key2)):
            response = pre_linkage_values(request, la_id=la_id, seeds=seeds, aca_key=key, now=NOW)
            out.append({
                "laId": response.la_id.hex(), "iFirst": i_first, "iLast": i_last, "jMax": record.certs_per_period,
                "plvs": [base64.b64encode(p.enc_plv).decode() for p in response.plvs],
            })  # fmt: skip
        return out

    def linkage_value(self, record: RequestRecord, i: int, j: int) -> bytes:
        """plv1 ⊕ plv2 recomputed from the seeds the LAs stored (protocol.md §4.6)."""
        values = []
        for la_id, seeds in ((LA1, self.seeds1), (LA2, self.seeds2)):
            stored = seeds.get(record.chain_id)
            assert stored is not None
            seed = linkage.seed_at(la_id, stored.seed, stored.origin_i, i)
            values.append(linkage.pre_linkage_value(la_id, seed, j))
        return linkage.linkage_value(*values)

    def aca_keyring(self) -> Keyring:
        ring = Keyring()
        ring.add_symmetric(self.key1)
        ring.add_symmetric(self.key2)
        return ring


def _issue(hierarchy: Hierarchy, las: Las, spdus: list[bytes]) -> list[IssueResult]:
    certificates = [c for r in hierarchy.records() if (c := hierarchy.by_hashed_id8(r.hashed_id8)) is not None]
    return issue_batch(
        spdus,
        aca=hierarchy.signer("aca"),
        ra_certificate_resolver=HierarchyRaCertificates(certificates, hierarchy.anchors(), now=NOW),
        plv_keys=las.aca_keyring(),
        now=NOW,
        policy=IssuePolicy(hierarchy.certificate("root").hashed_id3, 1),
        responses=FakeAcaResponseStore(),
    )


def _expand(hierarchy: Hierarchy, record: RequestRecord, las: Las | None, **kwargs: Any) -> list[PooledRequest]:
    info = None
    if las is not None and record.variant in BUTTERFLY:
        info = linkage_infos(las.results(record), i_first=record.first_i, i_last=record.last_i,
                             j_max=record.certs_per_period)  # fmt: skip
    return expand_chunk(
        record, record.first_i, record.last_i, info, ra=hierarchy.signer("ra"), periods=PERIODS, now=NOW, **kwargs
    )


def open_as_ee(
    device: Device,
    record: RequestRecord,
    pooled: PooledRequest,
    response: bytes,
    aca: Certificate,
    *,
    j: int | None = None,
) -> tuple[Certificate, int]:
    """The EE after download (protocol.md §3.3): open the file of (i, j), decrypt, reconstruct d, check d·G."""
    j = pooled.j if j is None else j
    outer = parse_aca_ra_cert_response(response, issuer=None).content
    form = FORMS.get(record.variant, "private")
    assert outer.response_kind == form
    keyring = None
    key = device.response_private(record, pooled.i, j)
    if key is not None:
        keyring = Keyring()
        keyring.add_response_key(ec.derive_private_key(key, ec.SECP256R1()))
    inner = parse_aca_ee_cert_response(outer.response_spdu, form, keyring=keyring).content
    cert = inner.certificate
    assert cert.issuer_id == aca.hashed_id8
    b = device.signing_private(record, pooled.i, j)
    pki = None if inner.private_key_info is None else int.from_bytes(inner.private_key_info, "big")
    if cert.is_implicit:
        assert pki is not None
        d = butterfly.implicit_private_key(b, ecqv.certificate_hash_e(cert.tbs_encoded, aca.encoded), pki)
    else:
        d = b if pki is None else butterfly.explicit_private_key(b, pki)
    ecqv.check_key_pair(d, points.from_public_key(cert.public_key(aca)))
    return cert, d


# --- end to end, every variant ---------------------------------------------------------------


@pytest.mark.parametrize(("cert_type", "variant"), CASES, ids=[f"{t}-{v}" for t, v in CASES])
def test_every_variant_expands_into_requests_the_aca_issues_and_the_ee_opens(
    hierarchy: Hierarchy, cert_type: str, variant: str
) -> None:
    # Given an accepted request of the variant (2 periods x 3 certificates when butterfly) and real LA PLVs,
    device, las = Device(), Las()
    record = device.record(variant, cert_type)
    # When the RA expands the chunk and the ACA issues every request,
    pooled = _expand(hierarchy, record, las)
    results = _issue(hierarchy, las, [p.spdu for p in pooled])
    # Then there is one request per (i, j), in order, each with its pool key and ACA request id,
    expected = [(i, j) for i in range(record.first_i, record.last_i + 1) for j in range(record.certs_per_period)]
    assert [(p.i, p.j) for p in pooled] == expected
    assert all(p.pool_key == pool_key(record.chain_id, p.i, p.j) for p in pooled)
    assert all(p.aca_request_id == request_hash(p.spdu).hex() for p in pooled)
    aca = hierarchy.certificate("aca")
    private_keys = set()
    for p, result in zip(pooled, results, strict=True):
        # and the ACA issued each; the EE opens it with its own keys and the private key matches (checked inside),
        assert result.refusal is None and result.response is not None, result.refusal
        assert result.request_hash.hex() == p.aca_request_id
        cert, d = open_as_ee(device, record, p, result.response, aca)
        private_keys.add(d)
        assert cert.is_implicit == (cert_type == "implicit")
        tbs = cert.tbs
        assert tbs["appPermissions"] == [{"psid": 32}]
        if variant in BUTTERFLY:
            # with the linkage value plv1 ⊕ plv2 of (i, j), iCert = i, and the validity of period i.
            assert tbs["id"] == ("linkageData", {"iCert": p.i, "linkage-value": las.linkage_value(record, p.i, p.j)})
            assert tbs["validityPeriod"] == PERIODS.validity(p.i)
        else:
            # A single certificate keeps the EE's id and requested validity.
            assert tbs["id"] == ("none", None)
            assert tbs["validityPeriod"] == device.tbs()["validityPeriod"]
    # And every certificate has its own key.
    assert len(private_keys) == len(pooled)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_response_does_not_open_with_another_key_of_the_ee(hierarchy: Hierarchy, variant: str) -> None:
    # Twin of the above: the keys of another j (butterfly) or of another device (single) fail.
    device, las = Device(), Las()
    record = device.record(variant, "implicit")
    pooled = _expand(hierarchy, record, las)[0]
    [result] = _issue(hierarchy, las, [pooled.spdu])
    assert result.response is not None
    aca = hierarchy.certificate("aca")
    open_as_ee(device, record, pooled, result.response, aca)
    if variant in BUTTERFLY:
        with pytest.raises((DecryptionError, InvalidKey)):
            open_as_ee(device, record, pooled, result.response, aca, j=pooled.j + 1)
    else:
        other = Device()
        expected = InvalidKey if variant == "plain" else DecryptionError
        with pytest.raises(expected):
            open_as_ee(other, record, pooled, result.response, aca)


def test_a_tampered_plv_is_refused_by_the_aca_and_the_others_are_issued(hierarchy: Hierarchy) -> None:
    # Given LA results where one encrypted PLV (LA2, (6, 1)) had a ciphertext octet flipped on the way,
    device, las = Device(), Las()
    record = device.record("unified", "explicit")
    results = las.results(record)
    data = bytearray(base64.b64decode(_entry(results, 1, 6, 1)))
    data[-5] ^= 0x01
    _set_entry(results, 1, 6, 1, base64.b64encode(bytes(data)).decode())
    # When the RA (which cannot read PLVs) expands the chunk and the ACA issues it,
    info = linkage_infos(results, i_first=I_FIRST, i_last=I_LAST, j_max=J_MAX)
    pooled = expand_chunk(record, I_FIRST, I_LAST, info, ra=hierarchy.signer("ra"), periods=PERIODS, now=NOW)
    issued = _issue(hierarchy, las, [p.spdu for p in pooled])
    # Then that request alone is refused 400-41.
    refusals = {(p.i, p.j): r.refusal for p, r in zip(pooled, issued, strict=True) if r.refusal is not None}
    assert refusals == {(6, 1): ErrorCode.DECRYPTION_FAILED}


# --- what the ACA sees -----------------------------------------------------------------------


@pytest.mark.parametrize(("cert_type", "variant"), CASES, ids=[f"{t}-{v}" for t, v in CASES])
def test_each_request_holds_the_cocoon_key_and_response_form_of_its_variant(
    hierarchy: Hierarchy, cert_type: str, variant: str
) -> None:
    device, las = Device(), Las()
    record = device.record(variant, cert_type)
    for p in _expand(hierarchy, record, las):
        opened = parse_ra_aca_cert_request(p.spdu)
        content: RaAcaCertRequest = opened.content
        assert opened.signer == hierarchy.certificate("ra") and opened.spdu_hash.hex() == p.aca_request_id
        assert content.generation_time == NOW and content.type == cert_type and content.violations() == ()
        tbs = content.tbs_cert
        kind, body = tbs["verifyKeyIndicator"]
        point = body[1] if kind == "verificationKey" else body
        key = points.from_public_key(keys.point_from_asn1(point))
        assert kind == ("verificationKey" if cert_type == "explicit" else "reconstructionValue")
        enc = None if content.cert_enc_key is None else points.from_public_key(content.cert_enc_key)
        if variant in BUTTERFLY:
            b = butterfly.cocoon_public_key(device.A, butterfly.Expander(device.ck), p.i, p.j, "signing")
            assert key == b and content.butterfly_explicit == (cert_type == "explicit")
            assert content.cubk == (variant == "compactUnified") and content.linkage_info is not None
            assert tbs["id"][0] == "linkageData" and tbs["id"][1]["iCert"] == p.i
            assert tbs["validityPeriod"] == PERIODS.validity(p.i)
            if variant == "original":
                assert enc == butterfly.cocoon_public_key(
                    device.H, butterfly.Expander(device.ek), p.i, p.j, "encryption"
                )
            elif variant == "unified":
                assert enc == butterfly.response_encryption_public_key("unified", cocoon_signing=b, i=p.i, j=p.j)
            else:
                assert enc is None
        else:
            assert key == device.A and not content.butterfly_explicit and not content.cubk
            assert content.linkage_info is None and tbs["id"] == ("none", None)
            assert enc == (device.K if variant == "encryptionKey" else None)


@pytest.mark.parametrize("variant", BUTTERFLY)
def test_no_request_carries_the_chain_id_expansion_keys_or_caterpillar_keys(hierarchy: Hierarchy, variant: str) -> None:
    # Given a device's butterfly request,
    device, las = Device(), Las()
    record = device.record(variant, "explicit")
    pooled = _expand(hierarchy, record, las)
    secrets = {
        "chain id": record.chain_id, "ck": device.ck, "ek": device.ek, "A": device.A[0].to_bytes(32, "big"),
        "H": device.H[0].to_bytes(32, "big"), "request hash": record.request_hash, "device": b"obu-7",
        "enrollment certificate": bytes.fromhex(record.enrollment_cert_id),
    }  # fmt: skip
    # Then no request holds any of them (only cocoon keys and encrypted PLVs travel to the ACA),
    for p in pooled:
        for name, value in secrets.items():
            assert value not in p.spdu, name
    # and the dummy linkage values are fresh per request: no constant field links them.
    dummies = {parse_ra_aca_cert_request(p.spdu).content.tbs_cert["id"][1]["linkage-value"] for p in pooled}
    assert len(dummies) == len(pooled)


def test_the_privacy_check_above_can_fail() -> None:
    # Twin of the above: the same scan finds A in the EE's own request template.
    device = Device()
    record = device.record("unified", "explicit")
    assert device.A[0].to_bytes(32, "big") in record.tbs_template


def test_region_and_assurance_level_reach_the_aca_and_a_pseudonym_gets_no_tbs_encryption_key(
    hierarchy: Hierarchy,
) -> None:
    # Given an EE request with a region, an assurance level and a tbs encryptionKey (asn1tools path for the level),
    device, las = Device(), Las()
    extra = {
        "region": ("identifiedRegion", [("countryOnly", 840)]),
        "assuranceLevel": b"\x20",
        "encryptionKey": {"supportedSymmAlg": "aes128Ccm", "publicKey": ("eciesNistP256", _compressed_value(device.K))},
        "canRequestRollover": None,
    }
    pseudonym = device.record("original", "implicit", **extra)
    single = device.record("encryptionKey", "explicit", **extra)
    # When both are expanded,
    for record, keeps_key in ((pseudonym, False), (single, True)):
        pooled = _expand(hierarchy, record, las)
        tbs = parse_ra_aca_cert_request(pooled[0].spdu).content.tbs_cert
        # Then region and assuranceLevel are asked for; the encryptionKey only for the single certificate,
        assert tbs["region"] == extra["region"] and tbs["assuranceLevel"] == b"\x20"
        assert ("encryptionKey" in tbs) == keeps_key
        assert "canRequestRollover" not in tbs
        # and the ACA issues them.
        results = _issue(hierarchy, las, [p.spdu for p in pooled])
        assert all(r.refusal is None for r in results)
        cert, _ = open_as_ee(device, record, pooled[0], results[0].response or b"", hierarchy.certificate("aca"))
        assert cert.tbs["region"] == extra["region"]


# --- skip, bounds, pool keys -----------------------------------------------------------------


def test_skip_leaves_out_exactly_the_pairs_pooled_or_delivered_before(hierarchy: Hierarchy) -> None:
    device, las = Device(), Las()
    record = device.record("compactUnified", "implicit")
    everything = _expand(hierarchy, record, las)
    rest = _expand(hierarchy, record, las, skip={(5, 0), (6, 2)})
    assert [(p.i, p.j) for p in rest] == [(p.i, p.j) for p in everything if (p.i, p.j) not in {(5, 0), (6, 2)}]
    assert {p.pool_key for p in rest} < {p.pool_key for p in everything}
    # A retried chunk produces new request octets (fresh signature and dummy) under the same pool keys.
    assert not {p.spdu for p in rest} & {p.spdu for p in everything}
    all_pairs = {(i, j) for i in (5, 6) for j in range(J_MAX)}
    assert _expand(hierarchy, record, las, skip=all_pairs) == []


def test_a_butterfly_chunk_without_its_linkage_information_is_refused(hierarchy: Hierarchy) -> None:
    device, las = Device(), Las()
    record = device.record("original", "explicit")
    info = linkage_infos(las.results(record), i_first=I_FIRST, i_last=I_LAST, j_max=J_MAX)
    signer = hierarchy.signer("ra")
    assert len(expand_chunk(record, 5, 6, info, ra=signer, periods=PERIODS, now=NOW)) == 6
    with pytest.raises(PlvResultInvalid):
        expand_chunk(record, 5, 6, None, ra=signer, periods=PERIODS, now=NOW)
    partial = {key: value for key, value in info.items() if key != (6, 2)}
    with pytest.raises(PlvResultInvalid):
        expand_chunk(record, 5, 6, partial, ra=signer, periods=PERIODS, now=NOW)
    # Unless that (i, j) is skipped.
    assert len(expand_chunk(record, 5, 6, partial, ra=signer, periods=PERIODS, now=NOW, skip={(6, 2)})) == 5


@pytest.mark.parametrize(
    ("bounds", "change"),
    [
        ((4, 6), {}),
        ((5, 7), {}),
        ((6, 5), {}),
        ((5, 6), {"variant": "quantum"}),
        ((5, 6), {"cert_type": "x"}),
        ((5, 6), {"signing_expansion": b"short"}),
        ((5, 6), {"caterpillar_key": b"\x02" + b"\xff" * 32}),
        ((5, 6), {"tbs_template": b"\x00"}),
    ],
    ids=["before-first", "after-last", "reversed", "variant", "cert-type", "expansion-key", "caterpillar", "template"],
)
def test_a_chunk_outside_the_request_or_a_broken_record_is_refused(
    hierarchy: Hierarchy, bounds: tuple[int, int], change: dict[str, Any]
) -> None:
    device, las = Device(), Las()
    record = device.record("unified", "implicit")
    info = linkage_infos(las.results(record), i_first=I_FIRST, i_last=I_LAST, j_max=J_MAX)
    signer = hierarchy.signer("ra")
    assert expand_chunk(record, 5, 6, info, ra=signer, periods=PERIODS, now=NOW)
    with pytest.raises(ChunkInvalid):
        expand_chunk(replace(record, **change), *bounds, info, ra=signer, periods=PERIODS, now=NOW)


def test_pool_key_is_sha256_of_chain_i_j_and_differs_per_pair_and_chain() -> None:
    chain, other = os.urandom(16), os.urandom(16)
    key = pool_key(chain, 5, 3)
    assert key == hashlib.sha256(chain + (5).to_bytes(4, "big") + (3).to_bytes(4, "big")).hexdigest()[:32]
    assert key == pool_key(chain, 5, 3) and len(key) == 32
    keys_of_chain = {pool_key(chain, i, j) for i in range(20) for j in range(20)}
    assert len(keys_of_chain) == 400
    assert pool_key(other, 5, 3) != key and pool_key(chain, 3, 5) != key


# --- LA results ------------------------------------------------------------------------------


def test_linkage_infos_pairs_la1_and_la2_in_either_order() -> None:
    record, las = Device().record("original", "explicit"), Las()
    results = las.results(record)
    forward = linkage_infos(results, i_first=I_FIRST, i_last=I_LAST, j_max=J_MAX)
    backward = linkage_infos(list(reversed(results)), i_first=I_FIRST, i_last=I_LAST, j_max=J_MAX)
    assert forward == backward and set(forward) == {(i, j) for i in (5, 6) for j in range(J_MAX)}
    info: LinkageInfo = forward[(6, 2)]
    assert (info.enc_plv1.la_id, info.enc_plv2.la_id) == (LA1, LA2)
    expected = base64.b64decode(_entry(results, 0, 6, 2))
    assert b"\x02" + info.enc_plv1.la_id + info.enc_plv1.enc_plv == expected


def _index(result: dict[str, Any], i: int, j: int) -> int:
    """Where (i, j) sits in an LA's positional answer."""
    return int((i - result["iFirst"]) * result["jMax"] + j)


def _entry(results: list[dict[str, Any]], la: int, i: int, j: int) -> str:
    entry: str = results[la]["plvs"][_index(results[la], i, j)]
    return entry


def _set_entry(results: list[dict[str, Any]], la: int, i: int, j: int, value: Any) -> None:
    results[la]["plvs"][_index(results[la], i, j)] = value


def _missing_la(r: list[dict[str, Any]]) -> Any:
    return r[:1]


def _repeated_la(r: list[dict[str, Any]]) -> Any:
    return [r[0], copy.deepcopy(r[0])]


def _unknown_la(r: list[dict[str, Any]]) -> Any:
    r[1]["laId"] = "0003"
    return r


def _missing_entry(r: list[dict[str, Any]]) -> Any:
    r[1]["plvs"].pop()
    return r


def _extra_entry(r: list[dict[str, Any]]) -> Any:
    r[0]["plvs"].append(r[0]["plvs"][0])
    return r


def _other_i_first(r: list[dict[str, Any]]) -> Any:
    r[0]["iFirst"] = I_FIRST + 1  # an answer for other periods, however many entries it has
    return r


def _other_i_last(r: list[dict[str, Any]]) -> Any:
    r[1]["iLast"] = I_LAST + 1
    return r


def _other_j_max(r: list[dict[str, Any]]) -> Any:
    r[0]["jMax"] = J_MAX + 1
    return r


def _no_bounds(r: list[dict[str, Any]]) -> Any:
    del r[1]["jMax"]
    return r


def _not_base64(r: list[dict[str, Any]]) -> Any:
    _set_entry(r, 0, 5, 1, "not base64!")
    return r


def _not_a_string(r: list[dict[str, Any]]) -> Any:
    _set_entry(r, 0, 5, 1, {"encPlv": _entry(r, 0, 5, 1)})  # the former shape of an entry
    return r


def _swapped_la(r: list[dict[str, Any]]) -> Any:
    # LA2's encrypted PLV under LA1's result: the LaId inside says otherwise.
    _set_entry(r, 0, 5, 1, _entry(r, 1, 5, 1))
    return r


def _not_coer(r: list[dict[str, Any]]) -> Any:
    _set_entry(r, 0, 5, 1, base64.b64encode(b"\x02\x00\x01" + b"\xff" * 20).decode())
    return r


def _string_i(r: list[dict[str, Any]]) -> Any:
    r[0]["iFirst"] = str(r[0]["iFirst"])
    return r


def _no_plvs(r: list[dict[str, Any]]) -> Any:
    del r[1]["plvs"]
    return r


REFUSALS: dict[str, Callable[[list[dict[str, Any]]], Any]] = {
    "missing-la": _missing_la, "repeated-la": _repeated_la, "unknown-la": _unknown_la,
    "missing-entry": _missing_entry, "extra-entry": _extra_entry, "other-i-first": _other_i_first,
    "other-i-last": _other_i_last, "other-j-max": _other_j_max, "no-bounds": _no_bounds,
    "not-base64": _not_base64, "not-a-string": _not_a_string, "wrong-la-inside": _swapped_la,
    "not-coer": _not_coer, "string-i": _string_i,
    "no-plvs": _no_plvs, "not-a-list": lambda r: {"laId": "0001"},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_linkage_infos_refuses_results_that_do_not_match_the_chunk(name: str) -> None:
    record, las = Device().record("unified", "explicit"), Las()
    results = las.results(record)
    # Twin: the untouched results are accepted.
    assert len(linkage_infos(copy.deepcopy(results), i_first=I_FIRST, i_last=I_LAST, j_max=J_MAX)) == 6
    with pytest.raises(PlvResultInvalid) as raised:
        linkage_infos(REFUSALS[name](results), i_first=I_FIRST, i_last=I_LAST, j_max=J_MAX)
    # The message names what is wrong, never an encrypted PLV.
    assert all(e[:16] not in str(raised.value) for r in las.results(record) for e in r["plvs"])


def test_linkage_infos_refuses_an_answer_for_another_chunk() -> None:
    record, las = Device().record("unified", "explicit"), Las()
    results = las.results(record, 5, 6)
    assert linkage_infos(results, i_first=5, i_last=6, j_max=J_MAX)
    with pytest.raises(PlvResultInvalid):
        linkage_infos(results, i_first=5, i_last=5, j_max=J_MAX)
    with pytest.raises(PlvResultInvalid):
        linkage_infos(results, i_first=5, i_last=6, j_max=J_MAX + 1)
