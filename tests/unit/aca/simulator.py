"""The RA and EE sides around the ACA for its tests: requests built as an RA would, responses opened as an EE would.

EE: caterpillar keys (a, A), (h, H) and expansion keys; LA1/LA2: linkage seeds and the keys they
share with the ACA; RA: cocoon keys B (and Q) per (i, j) through ``crypto.butterfly`` and the
encrypted PLVs through ``spdu.plv.encrypt_plv``, signed as ``RaAcaCertRequestSpdu``s. The EE side
opens each ``AcaRaCertResponseSpdu``, decrypts, reconstructs its private key and checks it
(protocol.md §3.3, §4.3, §4.5, §4.6).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec.cert.certificate import Certificate
from scms_codec.crypto import butterfly, ecqv, keys, linkage, points
from scms_codec.crypto.points import Point
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.signer import Signer
from scms_codec.spdu.aca_ee import AcaEeCertResponse, parse_aca_ee_cert_response
from scms_codec.spdu.plv import encrypt_plv
from scms_codec.spdu.ra_aca import (
    AcaRaCertResponse,
    LinkageInfo,
    RaAcaCertRequest,
    build_ra_aca_cert_request,
    parse_aca_ra_cert_response,
)

Kind = Literal["original", "unified", "compact-unified", "plain", "private"]
CertType = Literal["explicit", "implicit"]
KINDS: tuple[Kind, ...] = ("original", "unified", "compact-unified", "plain", "private")
BUTTERFLY: frozenset[str] = frozenset({"original", "unified", "compact-unified"})
LA1_ID, LA2_ID = b"\x00\x01", b"\x00\x02"
PSID_BSM = 32
I_PERIOD = 7 * 24 * 3600


@dataclass
class Linkage:
    """LA1 and LA2 for one EE chain: seeds ls(0) and the AES keys each shares with the ACA (protocol.md §4.6)."""

    la1_key: bytes = field(default_factory=lambda: os.urandom(16), repr=False)
    la2_key: bytes = field(default_factory=lambda: os.urandom(16), repr=False)
    seed1: bytes = field(default_factory=linkage.initial_seed, repr=False)
    seed2: bytes = field(default_factory=linkage.initial_seed, repr=False)

    def plvs(self, i: int, j: int) -> tuple[bytes, bytes]:
        s1 = linkage.seed_at(LA1_ID, self.seed1, 0, i)
        s2 = linkage.seed_at(LA2_ID, self.seed2, 0, i)
        return linkage.pre_linkage_value(LA1_ID, s1, j), linkage.pre_linkage_value(LA2_ID, s2, j)

    def linkage_value(self, i: int, j: int) -> bytes:
        return linkage.linkage_value(*self.plvs(i, j))

    def info(self, i: int, j: int) -> LinkageInfo:
        plv1, plv2 = self.plvs(i, j)
        return LinkageInfo(encrypt_plv(LA1_ID, plv1, self.la1_key), encrypt_plv(LA2_ID, plv2, self.la2_key))

    def aca_keyring(self) -> Keyring:
        ring = Keyring()
        ring.add_symmetric(self.la1_key)
        ring.add_symmetric(self.la2_key)
        return ring


@dataclass
class Ee:
    """One device's keys: the caterpillar (or own) signing pair, the encryption pair, two expansion keys."""

    a: int = 0
    A: Point = (0, 0)
    h: int = 0
    H: Point = (0, 0)
    signing_expander: butterfly.Expander = field(default_factory=lambda: butterfly.Expander(os.urandom(16)))
    encryption_expander: butterfly.Expander = field(default_factory=lambda: butterfly.Expander(os.urandom(16)))

    def __post_init__(self) -> None:
        self.a, self.A = points.generate()
        self.h, self.H = points.generate()

    def signing_private(self, kind: Kind, i: int, j: int) -> int:
        """b = a + f_ck(i, j) for butterfly, else the EE's own key a (protocol.md §4.5)."""
        if kind in BUTTERFLY:
            return butterfly.cocoon_private_key(self.a, self.signing_expander, i, j, "signing")
        return self.a

    def response_private(self, kind: Kind, i: int, j: int) -> int | None:
        """The key that opens response (i, j); None for plain."""
        if kind == "plain":
            return None
        if kind == "private":
            return self.h
        return butterfly.response_encryption_private_key(
            kind,
            cocoon_signing_private=self.signing_private(kind, i, j),
            encryption_caterpillar_private=self.h,
            encryption_expander=self.encryption_expander,
            i=i,
            j=j,
        )


@dataclass(frozen=True)
class Sent:
    """One request as the RA keeps it: which EE (i, j) and variant it was for, and its bytes."""

    spdu: bytes
    cert_type: CertType
    kind: Kind
    i: int
    j: int


@dataclass
class Ra:
    """The RA side: expands, fetches (simulated) PLVs and signs one ``RaAcaCertRequestSpdu`` per certificate."""

    signer: Signer
    ee: Ee = field(default_factory=Ee)
    lines: Linkage = field(default_factory=Linkage)
    epoch: int = 600_000_000

    def content(self, cert_type: CertType, kind: Kind, i: int, j: int, *, generation_time: int) -> RaAcaCertRequest:
        ee = self.ee
        if kind in BUTTERFLY:
            b = butterfly.cocoon_public_key(ee.A, ee.signing_expander, i, j, "signing")
            q: Point | None = butterfly.response_encryption_public_key(
                kind,  # type: ignore[arg-type]
                cocoon_signing=b, encryption_caterpillar=ee.H, encryption_expander=ee.encryption_expander, i=i, j=j,
            )
            if kind == "compact-unified":
                q = None
            ident: tuple[str, Any] = ("linkageData", {"iCert": i, "linkage-value": os.urandom(9)})
            info: LinkageInfo | None = self.lines.info(i, j)
        else:
            b, q = ee.A, (ee.H if kind == "private" else None)
            ident, info = ("none", None), None
        point = keys.point_to_asn1(points.to_public_key(b))
        indicator: tuple[str, Any] = (
            ("verificationKey", ("ecdsaNistP256", point)) if cert_type == "explicit" else ("reconstructionValue", point)
        )
        tbs = {
            "id": ident,
            "cracaId": b"\x00\x00\x00",
            "crlSeries": 0,
            "validityPeriod": {"start": self.epoch + i * I_PERIOD, "duration": ("hours", 169)},
            "appPermissions": [{"psid": PSID_BSM}],
            "verifyKeyIndicator": indicator,
        }
        return RaAcaCertRequest(
            generation_time,
            cert_type,
            tbs,
            butterfly_explicit=cert_type == "explicit" and kind in BUTTERFLY,
            cubk=kind == "compact-unified",
            linkage_info=info,
            cert_enc_key=None if q is None else points.to_public_key(q),
        )

    def request(self, cert_type: CertType, kind: Kind, i: int, j: int, *, generation_time: int, **changes: Any) -> Sent:
        content = self.content(cert_type, kind, i, j, generation_time=generation_time)
        if changes:
            content = replace(content, **changes)
        return Sent(build_ra_aca_cert_request(content, self.signer), cert_type, kind, i, j)

    def batch(self, cert_type: CertType, kind: Kind, i: int, count: int, *, generation_time: int) -> list[Sent]:
        return [self.request(cert_type, kind, i, j, generation_time=generation_time) for j in range(count)]


@dataclass(frozen=True)
class Opened:
    """What the EE gets out of one response: the outer response, the inner one, its checked private key."""

    outer: AcaRaCertResponse
    inner: AcaEeCertResponse
    private_key: int


def open_response(ra: Ra, sent: Sent, response: bytes, aca: Certificate) -> Opened:
    """EE side of protocol.md §3.3 "EE after download": open, decrypt, reconstruct, and check d·G = Q."""
    outer = parse_aca_ra_cert_response(response).content
    form = {"plain": "plain", "private": "private", "compact-unified": "cubk"}.get(sent.kind, "private")
    assert outer.response_kind == form
    keyring = None
    key = ra.ee.response_private(sent.kind, sent.i, sent.j)
    if key is not None:
        keyring = Keyring()
        keyring.add_response_key(ec.derive_private_key(key, ec.SECP256R1()))
    inner = parse_aca_ee_cert_response(outer.response_spdu, form, keyring=keyring).content
    cert = inner.certificate
    assert cert.issuer_id == aca.hashed_id8
    b = ra.ee.signing_private(sent.kind, sent.i, sent.j)
    pki = None if inner.private_key_info is None else int.from_bytes(inner.private_key_info, "big")
    if cert.is_implicit:
        assert pki is not None
        d = butterfly.implicit_private_key(b, ecqv.certificate_hash_e(cert.tbs_encoded, aca.encoded), pki)
    else:
        d = b if pki is None else butterfly.explicit_private_key(b, pki)
    ecqv.check_key_pair(d, points.from_public_key(cert.public_key(aca)))
    return Opened(outer, inner, d)
