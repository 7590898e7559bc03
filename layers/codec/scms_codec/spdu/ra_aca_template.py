"""Hand-written COER of the RA's ``RaAcaCertRequestSpdu``, byte-identical to ``ra_aca.build_ra_aca_cert_request``.

The RA signs one request per pseudonym certificate, thousands per device (issue #5 §7); through
asn1tools one costs about 0.6 ms (encode, decode again to sign, encode twice more), twenty times
the ECDSA signature itself (performance.md §4). This module writes the fixed shape an RA sends
(protocol.md §1.3 SignedCertificateRequest with one certificate signer and a P-256 x-only
signature, §3.3 step 2 RaAcaCertRequest) from the values it already holds; the tbsCert goes
through ``cert.template``. A value outside that shape raises ``Outside`` and the caller falls back
to ``build_ra_aca_cert_request``. tests/unit/test_ra_aca_template.py holds both to the same octets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from ..cert import template as cert_template
from ..cert.template import Outside
from ..secured.signer import Signer
from .ra_aca import LinkageInfo

__all__ = ["Outside", "RaAcaRequestSigner", "linkage_info", "ra_aca_cert_request_pdu"]

# RaAcaCertRequestFlags ::= BIT STRING {butterflyExplicit (0), cubk (1)} (SIZE (8)): one octet, no length.
_BUTTERFLY_EXPLICIT = 0x80
_CUBK = 0x40
# RaAcaCertRequest preamble: extension bit (0), then linkageInfo and certEncKey presence bits.
_HAS_LINKAGE = 0x40
_HAS_CERT_ENC_KEY = 0x20
_CERT_TYPES = {"explicit": b"\x00", "implicit": b"\x01"}
# ScmsPdu {version 2, content aca-ra (alternative 3): raAcaCertRequest (alternative 0)}.
_PDU_HEAD = b"\x02\x83\x80"
_ECDSA_SHA256 = ec.ECDSA(Prehashed(hashes.SHA256()))


def _encrypted_individual_plv(la_id: Any, enc_plv: Any) -> bytes:
    # EncryptedIndividualPLV {version 2, laId, encPlv}: not extensible, no OPTIONAL member, so no
    # preamble; encPlv is an Ieee1609Dot2Data embedded as its own COER.
    if type(enc_plv) is not bytes or not enc_plv:
        raise Outside
    return b"\x02" + cert_template.octets(la_id, 2) + enc_plv


def linkage_info(info: LinkageInfo) -> bytes:
    """COER ``LinkageInfo {encPlv1, encPlv2}`` (extensible, no OPTIONAL member: one preamble octet 00)."""
    return (
        b"\x00"
        + _encrypted_individual_plv(info.enc_plv1.la_id, info.enc_plv1.enc_plv)
        + _encrypted_individual_plv(info.enc_plv2.la_id, info.enc_plv2.enc_plv)
    )


def ra_aca_cert_request_pdu(
    generation_time: int,
    cert_type: str,
    tbs_cert: Mapping[str, Any],
    *,
    butterfly_explicit: bool = False,
    cubk: bool = False,
    linkage: LinkageInfo | None = None,
    cert_enc_key: tuple[str, bytes] | None = None,
) -> bytes:
    """COER ``ScmsPdu {2, aca-ra raAcaCertRequest {2, generationTime, type, flags, linkageInfo?, certEncKey?, tbs}}``.

    The octets ``_wrap.scms_pdu_bytes(RaAcaCertRequest(...))`` gives for the same values (1609.2.1
    §6.3.5, protocol.md §3.3 step 2). ``cert_enc_key`` is the ``EccP256CurvePoint`` of an
    eciesNistP256 aes128Ccm key (compressed). The encPlvs are embedded as given: they must be
    COER ``Ieee1609Dot2Data``. ``Outside`` for any value the template does not cover. The
    RaAcaCertRequest constraints are the caller's (``RaAcaCertRequest.violations``).
    """
    kind = _CERT_TYPES.get(cert_type) if type(cert_type) is str else None
    if kind is None:
        raise Outside
    flags = (_BUTTERFLY_EXPLICIT if butterfly_explicit else 0) | (_CUBK if cubk else 0)
    preamble = (_HAS_LINKAGE if linkage is not None else 0) | (_HAS_CERT_ENC_KEY if cert_enc_key is not None else 0)
    out = [_PDU_HEAD, bytes((preamble, 2)), cert_template.uint(generation_time, 4), kind, bytes((flags,))]
    if linkage is not None:
        out.append(linkage_info(linkage))
    if cert_enc_key is not None:
        # PublicEncryptionKey {supportedSymmAlg aes128Ccm, publicKey eciesNistP256 point}.
        out.append(b"\x00\x80" + cert_template.curve_point(cert_enc_key))
    out.append(cert_template.to_be_signed_certificate(tbs_cert))
    return b"".join(out)


class RaAcaRequestSigner:
    """Signs RaAcaCertRequest ScmsPdus as ``SignedCertificateRequest`` with the RA certificate (protocol.md §1.3).

    Only a P-256 key with its certificate (SHA-256, x-only rSig, as ``ecdsa.sign`` writes it);
    ``Outside`` for any other signer. H(certificate) is computed once; ``sign`` hashes and signs
    with pyca, as ``secured.cert_request.sign_cert_request`` does through asn1tools.
    """

    __slots__ = ("_certificate", "_certificate_hash", "_key")

    def __init__(self, signer: Signer) -> None:
        if not isinstance(signer, Signer):
            raise TypeError(f"signer: expected Signer, got {type(signer).__name__}")
        certificate = signer.certificate
        if certificate is None or not isinstance(signer.key.curve, ec.SECP256R1):
            raise Outside
        self._key = signer.key
        self._certificate = certificate.encoded
        self._certificate_hash = hashlib.sha256(certificate.encoded).digest()

    def __repr__(self) -> str:
        return "RaAcaRequestSigner(<RA key>)"

    def sign(self, tbs_request: bytes) -> bytes:
        """COER ``Ieee1609Dot2Data {3, signedCertificateRequest SignedCertificateRequest {sha256, tbs, cert, sig}}``.

        Signature over H(H(tbsRequest) ‖ H(RA certificate)), 1609.2 §5.3.1 (protocol.md §4.2).
        """
        if type(tbs_request) is not bytes:
            raise TypeError("tbs_request: expected bytes")
        digest = hashlib.sha256(hashlib.sha256(tbs_request).digest() + self._certificate_hash).digest()
        r, s = decode_dss_signature(self._key.sign(digest, _ECDSA_SHA256))
        # hashAlgorithmId sha256 (00), tbsRequest, signer certificate: SEQUENCE OF with quantity 1
        # (81 01 01), signature ecdsaNistP256Signature {rSig x-only, sSig} (80 80 r s).
        inner = b"".join(
            (b"\x00", tbs_request, b"\x81\x01\x01", self._certificate, b"\x80\x80", r.to_bytes(32, "big"),
             s.to_bytes(32, "big"))
        )  # fmt: skip
        # Ieee1609Dot2Data {protocolVersion 3, content signedCertificateRequest (alternative 3) Opaque}.
        return b"\x03\x83" + cert_template.length(len(inner)) + inner
