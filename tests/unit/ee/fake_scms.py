"""An in-memory SCMS for scms-ee unit tests: a hierarchy built like tests/support/pki.py plus an ECA and a
management API behind a ``Transport``, with switches that make the ECA misbehave."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from scms_ee.client import ERROR_HEADER, Response

from scms_codec import time32
from scms_codec.cert.certificate import Certificate, issue_explicit, issue_implicit
from scms_codec.crypto import keys, points
from scms_codec.errors import CodecError
from scms_codec.secured.signer import Signer
from scms_codec.spdu.eca_ee import EcaEeCertResponse, build_eca_ee_cert_response, parse_ee_eca_cert_request
from tests.support.pki import new_key, tbs

API_KEY = "test-api-key"
ALL_CA = {"subjectPermissions": ("all", None), "minChainLength": 1, "chainLengthRange": -1, "eeType": (b"\xc0", 8)}
# The ECA issues enrollment certificates: eeType {enrol}.
ECA_ISSUE = [{"subjectPermissions": ("all", None), "minChainLength": 1, "eeType": (b"\x40", 8)}]


def _ca(role: str, issuer: Signer | None, start: int, issue_permissions: list[dict[str, Any]]) -> Signer:
    value = tbs(role)
    value["validityPeriod"] = {"start": start, "duration": ("years", 10)}
    value["certIssuePermissions"] = issue_permissions
    key = new_key()
    issuer_cert = None if issuer is None else issuer.certificate
    return Signer(key, issue_explicit(value, key.public_key(), issuer_cert, key if issuer is None else issuer.key))


@dataclass(frozen=True)
class Hierarchy:
    """root → ICA → ECA, valid from ``start`` for 10 years."""

    root: Signer
    ica: Signer
    eca: Signer

    @classmethod
    def build(cls, start: int | None = None) -> Hierarchy:
        begin = (time32.now() - 3600) if start is None else start
        root = _ca("root", None, begin, [ALL_CA])
        ica = _ca("ica", root, begin, [dict(ALL_CA)])
        return cls(root, ica, _ca("eca", ica, begin, ECA_ISSUE))

    def cert(self, role: str) -> Certificate:
        signer: Signer = getattr(self, role)
        certificate = signer.certificate
        assert certificate is not None
        return certificate

    @property
    def chain(self) -> tuple[Certificate, ...]:
        return (self.cert("eca"), self.cert("ica"), self.cert("root"))


@dataclass
class FakeScms:
    """Answers ``POST /v3/enrollment-certificate`` and ``POST /manage/v1/devices`` like the real SCMS."""

    hierarchy: Hierarchy = field(default_factory=Hierarchy.build)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # canonical_id → registration JSON
    blocked: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, bytes | None, Response]] = field(default_factory=list)
    # Misbehaviour switches (each test flips one).
    mutate_response: Callable[[bytes], bytes] | None = None
    wrong_request_hash: bool = False
    chain_signer: Hierarchy | None = None  # sign with another hierarchy's ECA
    bad_private_key_info: bool = False
    issue_type: str | None = None  # issue another type than requested
    issued_key: ec.EllipticCurvePublicKey | None = None  # put another key in an explicit cert

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Response:
        path = "/" + url.split("/", 3)[3]
        if method == "POST" and path == "/manage/v1/devices":
            answer = self._register(headers, body or b"")
        elif method == "POST" and path == "/v3/enrollment-certificate":
            assert headers["Content-Type"] == "application/octet-stream"
            answer = self._enroll(body or b"")
        else:
            answer = Response(404, {}, b"not found")
        self.calls.append((method, path, body, answer))
        return answer

    def _register(self, headers: Mapping[str, str], body: bytes) -> Response:
        if headers.get("X-Api-Key") != API_KEY:
            return Response(403, {}, b"forbidden")
        device = json.loads(body)
        self.devices[device["canonical_id"]] = device
        answer = json.dumps({**device, "state": "Registered"}).encode()
        return Response(201, {"content-type": "application/json"}, answer)

    def _refuse(self, code: str, text: str) -> Response:
        return Response(int(code.split("-")[0]), {ERROR_HEADER.lower(): code}, text.encode())

    def _enroll(self, data: bytes) -> Response:
        def registered_key(pdu: dict[str, Any]) -> ec.EllipticCurvePublicKey:
            device = self.devices[pdu["content"][1][1]["canonicalId"]]
            return keys.public_key_from_sec1(bytes.fromhex(device["canonical_public_key"]))

        try:
            request = parse_ee_eca_cert_request(data, self_key=registered_key)
        except KeyError:
            return self._refuse("400-21", "unregistered")
        except CodecError as exc:
            return self._refuse(exc.error_code.value, type(exc).__name__)
        content = request.content
        if content.canonical_id in self.blocked:
            return self._refuse("400-20", "blocked")
        h = self.chain_signer or self.hierarchy
        tbs_cert = copy.deepcopy(content.tbs_cert)
        requested = keys.verification_key_from_asn1(tbs_cert["verifyKeyIndicator"][1])
        private_key_info = None
        if (self.issue_type or content.type) == "implicit":
            cert, r = issue_implicit(tbs_cert, points.from_public_key(requested), h.cert("eca"), h.eca.key)
            private_key_info = (r + (1 if self.bad_private_key_info else 0)).to_bytes(32, "big")
        else:
            cert = issue_explicit(tbs_cert, self.issued_key or requested, h.cert("eca"), h.eca.key)
        request_hash = b"\x00" * 8 if self.wrong_request_hash else request.spdu_hash
        response = EcaEeCertResponse(time32.now(), request_hash, h.chain, cert, private_key_info)
        spdu = build_eca_ee_cert_response(response, h.eca)
        if self.mutate_response is not None:
            spdu = self.mutate_response(spdu)
        return Response(200, {"content-type": "application/octet-stream"}, spdu)
