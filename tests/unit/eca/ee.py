"""The device side of enrollment for the ECA tests: keys, registration, request bytes, response checks."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from scms_eca.policy import canonical_id_of
from scms_service.config import Settings, load_settings
from scms_service.stores.devices import Device, Permission

from scms_codec.cert.certificate import Certificate, issue_explicit
from scms_codec.cert.chain import verify_chain
from scms_codec.crypto import ecqv, keys, points
from scms_codec.secured.cert_request import sign_cert_request
from scms_codec.secured.signer import Signer
from scms_codec.spdu import (
    EcaEeCertResponse,
    EeEcaCertRequest,
    build_ee_eca_cert_request,
    encode_scms_pdu,
    parse_eca_ee_cert_response,
    request_hash,
)


class CaView(Protocol):
    """What the EE side needs to know of the hierarchy (FakeCa or the real Hierarchy)."""

    def certificate(self, role: str) -> Certificate: ...

    def chain(self, role: str) -> list[Certificate]: ...


NOW = 700_000_000  # Time32, fixed: every use case takes ``now``
HIERARCHY_AT = NOW - 10_000
PSID_BSM = 32


@dataclass(frozen=True)
class FakeCa:
    """Root → ICA → ECA with the permissions a real hierarchy gives them (``enroll.CaKeys``)."""

    signers: dict[str, Signer]

    def signer(self, role: str) -> Signer:
        return self.signers[role]

    def certificate(self, role: str) -> Certificate:
        cert = self.signers[role].certificate
        assert cert is not None
        return cert

    def chain(self, role: str) -> list[Certificate]:
        order = ["eca", "ica", "root"]
        return [self.certificate(r) for r in order[order.index(role) :]]


def _ca_tbs(name: str, years: int, issue: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ("name", name),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {"start": HIERARCHY_AT, "duration": ("years", years)},
        "appPermissions": [{"psid": 35}],
        "certIssuePermissions": [issue],
        "verifyKeyIndicator": ("verificationKey", keys.verification_key_to_asn1(_key().public_key())),
    }


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@functools.cache
def hierarchy() -> FakeCa:
    """One CA hierarchy per test process, shaped like ``scms init``'s (root, ICA, ECA issuing enrol only)."""
    any_depth = {
        "subjectPermissions": ("all", None),
        "minChainLength": 1,
        "chainLengthRange": -1,
        "eeType": (b"\xc0", 8),
    }
    enrol_only = {
        "subjectPermissions": ("all", None),
        "minChainLength": 1,
        "chainLengthRange": 0,
        "eeType": (b"\x40", 8),
    }
    root_key, ica_key, eca_key = _key(), _key(), _key()
    root = issue_explicit(_ca_tbs("root", 40, any_depth), root_key.public_key(), None, root_key)
    ica = issue_explicit(_ca_tbs("ica", 30, any_depth), ica_key.public_key(), root, root_key)
    eca = issue_explicit(_ca_tbs("eca", 15, enrol_only), eca_key.public_key(), ica, ica_key)
    return FakeCa({"root": Signer(root_key, root), "ica": Signer(ica_key, ica), "eca": Signer(eca_key, eca)})


def settings(**overrides: Any) -> Settings:
    return load_settings({}, **overrides)


@dataclass
class Ee:
    """A device: canonical key (registered) and the enrollment key it asks to certify."""

    device_id: str = "obu-1"
    canonical: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    enrollment: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def canonical_id(self) -> str:
        return canonical_id_of(self.canonical.public_key())

    def device(
        self,
        *,
        permissions: tuple[Permission, ...] = (Permission(PSID_BSM),),
        region: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
    ) -> Device:
        compressed = self.canonical.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
        return Device(
            device_id=self.device_id,
            canonical_id=self.canonical_id,
            canonical_key=compressed,
            permissions=permissions,
            region=region,
            policy=policy or {},
        )

    def request(
        self,
        *,
        cert_type: str = "explicit",
        generation_time: int = NOW,
        start: int | None = None,
        duration: tuple[str, int] = ("years", 3),
        canonical_id: str | bool | None = True,
        sign_with: ec.EllipticCurvePrivateKey | None = None,
        psids: tuple[int, ...] = (PSID_BSM,),
        tbs_extra: dict[str, Any] | None = None,
        unchecked: bool = False,
    ) -> bytes:
        """``EeEcaCertRequestSpdu`` bytes; ``canonical_id`` True = this device's, None = absent."""
        tbs: dict[str, Any] = {
            "id": ("name", self.device_id),
            "cracaId": b"\x00\x00\x00",
            "crlSeries": 0,
            "validityPeriod": {"start": generation_time if start is None else start, "duration": duration},
            "certRequestPermissions": [
                {"subjectPermissions": ("explicit", [{"psid": p} for p in psids]), "minChainLength": 1}
            ],
            "verifyKeyIndicator": ("verificationKey", keys.verification_key_to_asn1(self.enrollment.public_key())),
            **(tbs_extra or {}),
        }
        cid = self.canonical_id if canonical_id is True else canonical_id
        content = EeEcaCertRequest(generation_time, cert_type, tbs, None if cid is None else str(cid))  # type: ignore[arg-type]
        key = sign_with if sign_with is not None else (self.canonical if cid is not None else self.enrollment)
        if unchecked:
            # What a non-conforming device sends: the builder would refuse to make it.
            return sign_cert_request(encode_scms_pdu(EeEcaCertRequest.PATH, content.to_asn1()), Signer(key))
        return build_ee_eca_cert_request(content, key)

    def accept(self, response: bytes, request: bytes, ca: CaView, *, at: int = NOW) -> Certificate:
        """Everything an EE checks: ECA signature, requestHash, chain to the root, and its own key."""
        opened = parse_eca_ee_cert_response(response)
        content: EcaEeCertResponse = opened.content
        assert opened.signer is not None and opened.signer.hashed_id8 == ca.certificate("eca").hashed_id8
        assert content.request_hash == request_hash(request)
        chain = list(content.eca_cert_chain)
        assert [c.hashed_id8 for c in chain] == [c.hashed_id8 for c in ca.chain("eca")]
        cert = content.certificate
        verify_chain(cert, chain, [ca.certificate("root")], at=at)
        if cert.is_implicit:
            assert content.private_key_info is not None and len(content.private_key_info) == 32
            e = ecqv.certificate_hash_e(cert.tbs_encoded, chain[0].encoded)
            d = ecqv.reconstruct_private(
                e, keys.private_key_to_int(self.enrollment), int.from_bytes(content.private_key_info)
            )
            q = cert.public_key(chain[0])
            ecqv.check_key_pair(d, points.from_public_key(q))
        else:
            assert content.private_key_info is None
            assert cert.public_key() == self.enrollment.public_key()
        return cert
