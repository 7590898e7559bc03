"""The device side of an authorization request for the RA tests: an enrolled device and its request bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from scms_eca.enroll import enroll
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy
from scms_service.stores.devices import DeviceStore
from scms_service.stores.eca_requests import EcaRequestStore

from scms_codec.cert.certificate import Certificate
from scms_codec.crypto import keys
from scms_codec.secured.cert_request import sign_cert_request
from scms_codec.secured.encrypted_data import encrypt
from scms_codec.secured.recipients import CertRecipient
from scms_codec.secured.signer import Signer
from scms_codec.spdu import encode_scms_pdu, parse_eca_ee_cert_response
from scms_codec.spdu.ee_ra_cert_request import (
    AdditionalParams,
    ButterflyCompactUnified,
    ButterflyOriginal,
    ButterflyUnified,
    EeRaCertRequest,
    ResponseEncryptionKey,
    build_ee_ra_cert_request,
)
from tests.unit.eca.ee import PSID_BSM, Ee


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def variants() -> dict[str, AdditionalParams | None]:
    """One AdditionalParams of each kind the standard allows, by the RA's variant name."""
    return {
        "original": ButterflyOriginal(b"\x01" * 16, _key().public_key(), b"\x02" * 16),
        "unified": ButterflyUnified(b"\x03" * 16),
        "compactUnified": ButterflyCompactUnified(b"\x04" * 16),
        "encryptionKey": ResponseEncryptionKey(_key().public_key()),
        "plain": None,
    }


@dataclass
class EnrolledEe:
    """A device enrolled through the real ECA use case, holding its enrollment certificate and key."""

    ee: Ee
    certificate: Certificate
    caterpillar: ec.EllipticCurvePrivateKey = field(default_factory=_key)

    @classmethod
    def enroll(
        cls,
        *,
        hierarchy: Hierarchy,
        devices: DeviceStore,
        eca_requests: EcaRequestStore,
        settings: Settings,
        now: int,
        device_id: str = "obu-1",
        registered: Any = None,
    ) -> EnrolledEe:
        ee = Ee(device_id=device_id)
        kwargs = {} if registered is None else {"permissions": registered}
        devices.create(ee.device(**kwargs), actor="test", now_unix=now)
        response = enroll(
            ee.request(generation_time=now), now=now, settings=settings, devices=devices,
            requests=eca_requests, ca=hierarchy,
        )  # fmt: skip
        return cls(ee, parse_eca_ee_cert_response(response).content.certificate)

    def request(
        self,
        ra: Certificate,
        *,
        generation_time: int,
        start: int | None = None,
        duration: tuple[str, int] = ("hours", 169),
        cert_type: str = "explicit",
        params: AdditionalParams | str | None = "unified",
        app_permissions: list[dict[str, Any]] | None = None,
        tbs_extra: dict[str, Any] | None = None,
        unchecked: bool = False,
        sign_with: Signer | None = None,
    ) -> bytes:
        """``EeRaCertRequestSpdu`` bytes; ``params`` a variant name or an AdditionalParams value."""
        tbs: dict[str, Any] = {
            "id": ("none", None),
            "cracaId": b"\x00\x00\x00",
            "crlSeries": 0,
            "validityPeriod": {"start": generation_time if start is None else start, "duration": duration},
            "appPermissions": app_permissions if app_permissions is not None else [{"psid": PSID_BSM}],
            "verifyKeyIndicator": ("verificationKey", keys.verification_key_to_asn1(self.caterpillar.public_key())),
            **(tbs_extra or {}),
        }
        additional = variants()[params] if isinstance(params, str) else params
        content = EeRaCertRequest(generation_time, cert_type, tbs, additional)  # type: ignore[arg-type]
        signer = sign_with if sign_with is not None else Signer(self.ee.enrollment, self.certificate)
        if unchecked:
            # What a non-conforming device sends: the builder would refuse to make it.
            inner = sign_cert_request(encode_scms_pdu(EeRaCertRequest.PATH, content.to_asn1()), signer)
            return encrypt(inner, CertRecipient(ra))
        return build_ee_ra_cert_request(content, signer, CertRecipient(ra))
