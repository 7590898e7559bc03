"""The ACA's per-certificate core, built from the real codec API, one step at a time.

Steps per certificate (protocol.md §3.3 "ACA (per request)", §4.3, §4.5; performance.md §5):
expansion (the RA's B = A + f_k(i, j)·G, and Q for the original variant), randomisation
(explicit U = B + c·G, implicit P_U = B + k·G), to-be-signed encoding, signing (explicit) or
the reconstruction value r = e·k + d (implicit) with the certificate encoding, and the response
(AcaEeCertResponse in its Plain, Private or Cubk SPDU, protocol.md §3.3 table).

Each codec module is imported when a core is built; a module that has not landed yet makes the
step that needs it ``None`` and is named in ``AcaCore.missing``, so the harness reports a
partial figure instead of failing.
"""

from __future__ import annotations

import functools
import importlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec import asn1
from scms_codec.asn1._spec import specification
from scms_codec.crypto import butterfly, ecdsa, ecqv, hashing, keys, points
from scms_codec.crypto.points import Point
from scms_codec.secured import template as coer

CertType = Literal["explicit", "implicit"]
Butterfly = Literal["original", "unified", "compact-unified", "none"]
ResponseForm = Literal["private", "cubk", "plain"]

SECURITY_MGMT_PSID = 35
"""SecurityMgmtPsid, the PSID of the Private response's outer signature (protocol.md §3.3)."""
GENERATION_TIME = 600_000_000
"""A fixed Time32 (2023-12) so every run encodes the same shapes."""
STEP_NAMES = ("expansion", "randomisation", "tbs encoding", "sign / reconstruction", "response")


@dataclass(frozen=True)
class Variant:
    """One certificate type and butterfly variant; ``none`` is the non-butterfly Plain response."""

    cert_type: CertType
    butterfly: Butterfly

    @property
    def name(self) -> str:
        """``explicit/original`` and so on."""
        return f"{self.cert_type}/{self.butterfly}"

    @property
    def response_form(self) -> ResponseForm:
        """Which AcaEeCertResponse SPDU the ACA sends (protocol.md §3.3 certEncKey/cubk table)."""
        forms: dict[Butterfly, ResponseForm] = {
            "original": "private",
            "unified": "private",
            "compact-unified": "cubk",
            "none": "plain",
        }
        return forms[self.butterfly]


VARIANTS = tuple(
    Variant(t, b) for t in ("explicit", "implicit") for b in ("original", "unified", "compact-unified", "none")
)


@dataclass(frozen=True)
class EcOps:
    """The EC operations one certificate needs at the C level (performance.md §6); ``verify`` for the ACA's path."""

    fixed_base: int
    sign: int
    ecdh: int
    verify: int = 0

    def budget_us(self, *, fixed_base_us: float, sign_us: float, ecdh_us: float, verify_us: float = 0.0) -> float:
        """The C-level EC cost of one certificate; symmetric work (< 2 µs) is left out, as in §6."""
        return self.fixed_base * fixed_base_us + self.sign * sign_us + self.ecdh * ecdh_us + self.verify * verify_us

    def label(self) -> str:
        """``3kG+1S+1DH`` (and ``+1V`` when verifies count)."""
        text = f"{self.fixed_base}kG+{self.sign}S+{self.ecdh}DH"
        return text + (f"+{self.verify}V" if self.verify else "")


def ec_ops(variant: Variant) -> EcOps:
    """Count k·G, ECDSA signs and ECDHs per certificate for ``variant`` (protocol.md §4.3-§4.5).

    Expansion: f·G per butterfly key (two for original). Randomisation: c·G or k·G, except an
    explicit non-butterfly key, which the ACA certifies as it is. Certificate: one sign if
    explicit. Response: ECIES (ephemeral v·G and one ECDH) unless Plain, and the ACA's outer
    signature for Private.
    """
    butterfly_on = variant.butterfly != "none"
    fixed_base = (2 if variant.butterfly == "original" else 1) if butterfly_on else 0
    if butterfly_on or variant.cert_type == "implicit":
        fixed_base += 1
    sign = 1 if variant.cert_type == "explicit" else 0
    ecdh = 0
    if variant.response_form in ("private", "cubk"):
        fixed_base += 1
        ecdh += 1
    if variant.response_form == "private":
        sign += 1
    return EcOps(fixed_base, sign, ecdh)


def use_case_ops(variant: Variant) -> EcOps:
    """The EC operations of one certificate on the ACA's real path, ``scms_aca.issue`` (protocol.md §3.3).

    The RA expands the cocoon keys, so no expansion here. Verify the RA's request signature; c·G or
    k·G unless an explicit non-butterfly key is certified as it is; one sign for an explicit
    certificate; ECIES (v·G and one ECDH) unless Plain; the Private response's signature; and the
    signature of every AcaRaCertResponseSpdu.
    """
    randomised = variant.butterfly != "none" or variant.cert_type == "implicit"
    fixed_base = int(randomised)
    sign = 1 + (1 if variant.cert_type == "explicit" else 0)
    ecdh = 0
    if variant.response_form in ("private", "cubk"):
        fixed_base += 1
        ecdh += 1
    if variant.response_form == "private":
        sign += 1
    return EcOps(fixed_base, sign, ecdh, verify=1)


class Unavailable(RuntimeError):
    """A codec module the core needs has not landed, or does not offer the contract's API."""


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # Modules land concurrently: a half-written one may fail in any way.
        raise Unavailable(f"{name}: {type(exc).__name__}: {exc}") from exc


@dataclass
class Issued:
    """What one pass of the core produced, for the smoke test's sanity checks."""

    certificate: bytes
    private_key_info: bytes | None
    response: bytes | None
    response_key: Point | None = field(default=None)


def _compressed(p: Point) -> tuple[str, tuple[str, bytes]]:
    """``EccP256CurvePoint`` of a public point through the codec's own conversion (keys.point_to_asn1)."""
    return "ecdsaNistP256", keys.point_to_asn1(points.to_public_key(p))


class AcaCore:
    """One variant's per-certificate pipeline with fresh EE caterpillar keys and an ACA key and certificate."""

    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self.missing: list[str] = []
        self._aca_key = ec.generate_private_key(ec.SECP256R1())
        self._aca_private = keys.private_key_to_int(self._aca_key)
        self._aca_cert, self._aca_cert_object = self._aca_certificate()
        self._aca_id = hashing.hashed_id8(self._aca_cert)
        # EE side: the caterpillar signing key A (or the EE's own key for non-butterfly) and, for
        # the original variant, the encryption caterpillar H; the RA sees only these publics.
        self._a, self._A = points.generate()
        self._h, self._H = points.generate()
        self._signing_expander = butterfly.Expander(os.urandom(butterfly.EXPANSION_KEY_SIZE))
        self._encryption_expander = butterfly.Expander(os.urandom(butterfly.EXPANSION_KEY_SIZE))
        self._respond = self._response_step()

    # --- set-up (untimed) ---------------------------------------------------------------------

    def _aca_certificate(self) -> tuple[bytes, Any]:
        """The ACA's certificate: through cert/certificate.py when it exists, else a self-signed stand-in."""
        tbs = {
            "id": ("name", "bench-aca"),
            "cracaId": b"\x00\x00\x00",
            "crlSeries": 0,
            "validityPeriod": {"start": GENERATION_TIME - 3600, "duration": ("years", 3)},
            "appPermissions": [{"psid": SECURITY_MGMT_PSID}],
            # eeType {app, enrol} rather than the DEFAULT {app}: the strict decode rejects an omitted
            # eeType (asn1tools fills the default as a 1-bit BIT STRING; reported, not worked around here).
            "certIssuePermissions": [{"subjectPermissions": ("all", None), "eeType": (b"\xc0", 8)}],
            "verifyKeyIndicator": (
                "verificationKey",
                ("ecdsaNistP256", keys.point_to_asn1(self._aca_key.public_key())),
            ),
        }
        try:
            cert_module = _module("scms_codec.cert.certificate")
            certificate = cert_module.issue_explicit(tbs, self._aca_key.public_key(), None, self._aca_key)
            return bytes(certificate.encoded), certificate
        except (Unavailable, AttributeError) as exc:
            self.missing.append(f"ACA certificate via cert.certificate.issue_explicit ({exc}); hand-built stand-in")
        tbs_coer = asn1.encode("ToBeSignedCertificate", tbs)
        signature = ecdsa.sign(self._aca_key, hashing.signing_digest(tbs_coer, b""))
        value = {
            "version": 3,
            "type": "explicit",
            "issuer": ("self", "sha256"),
            "toBeSigned": tbs,
            "signature": signature,
        }
        return asn1.encode("Certificate", value), None

    def _response_step(self) -> Callable[[dict[str, Any], bytes | None, Point | None], bytes] | None:
        """The response builder for this variant's form, or None (named in ``missing``) if its modules are absent."""
        try:
            scms_pdu = _module("scms_codec.spdu.scms_pdu")
            unsecured = _module("scms_codec.secured.unsecured")
            scms_pdu.encode_scms_pdu, unsecured.wrap_unsecured  # noqa: B018 - the modules must offer the API
        except (Unavailable, AttributeError) as exc:
            self.missing.append(f"response: {exc}")
            return None

        def inner(certificate: dict[str, Any], private_key_info: bytes | None) -> bytes:
            response: dict[str, Any] = {"version": 2, "generationTime": GENERATION_TIME, "certificate": certificate}
            if private_key_info is not None:
                response["privateKeyInfo"] = private_key_info
            # spdu.scms_pdu and secured.unsecured still encode with asn1tools; the ACA builds this
            # response through the COER template switch (secured.template), so that is measured.
            return coer.unsecured_data(
                coer.encode("ScmsPdu", {"version": 2, "content": ("aca-ee", ("acaEeCertResponse", response))})
            )

        form = self.variant.response_form
        if form == "plain":
            return lambda certificate, pki, _q: inner(certificate, pki)
        try:
            encrypted_data = _module("scms_codec.secured.encrypted_data")
            encrypt = encrypted_data.encrypt
            rek_recipient = encrypted_data.RekRecipient
        except (Unavailable, AttributeError) as exc:
            self.missing.append(f"response encryption: {exc}")
            return None

        def encrypted(certificate: dict[str, Any], pki: bytes | None, q: Point | None) -> bytes:
            assert q is not None
            return bytes(encrypt(inner(certificate, pki), rek_recipient(points.to_public_key(q))))

        if form == "cubk":
            return encrypted
        if self._aca_cert_object is None:
            self.missing.append("private response: needs a cert.certificate.Certificate for the ACA signer")
            return None
        try:
            sign_data = _module("scms_codec.secured.signed_data").sign_data
            signer = _module("scms_codec.secured.signer").Signer(self._aca_key, self._aca_cert_object)
        except (Unavailable, AttributeError) as exc:
            self.missing.append(f"private response signature: {exc}")
            return None
        # EncryptedSigned{T, psid} = Signed{Encrypted{T}} (protocol.md §1.3), signed by the issuing ACA.
        return lambda certificate, pki, q: bytes(sign_data(encrypted(certificate, pki, q), SECURITY_MGMT_PSID, signer))

    # --- the five steps -------------------------------------------------------------------------

    def expand(self, i: int, j: int) -> tuple[Point, Point | None]:
        """RA: cocoon key B (the EE key as is without butterfly) and the response key Q (protocol.md §4.5)."""
        kind = self.variant.butterfly
        if kind == "none":
            return self._A, None
        b = butterfly.cocoon_public_key(self._A, self._signing_expander, i, j, "signing")
        q = butterfly.response_encryption_public_key(
            kind,
            cocoon_signing=b,
            encryption_caterpillar=self._H,
            encryption_expander=self._encryption_expander,
            i=i,
            j=j,
        )
        return b, q

    def randomise(self, b: Point) -> tuple[int | None, Point]:
        """ACA: explicit c and U = B + c·G, implicit k and P_U = B + k·G (protocol.md §4.3, §4.5)."""
        if self.variant.cert_type == "implicit":
            return ecqv.ca_randomize(b)
        if self.variant.butterfly == "none":
            return None, b  # An explicit non-butterfly key is certified as it is.
        return butterfly.randomize_explicit(b)

    def encode_tbs(self, i: int, u: Point) -> tuple[dict[str, Any], bytes]:
        """ToBeSignedCertificate of a pseudonym certificate and its COER (the hash input, protocol.md §4.2)."""
        if self.variant.cert_type == "implicit":
            indicator: tuple[str, Any] = ("reconstructionValue", keys.point_to_asn1(points.to_public_key(u)))
        else:
            indicator = ("verificationKey", _compressed(u))
        tbs = {
            "id": ("linkageData", {"iCert": i & 0xFFFF, "linkage-value": os.urandom(9)}),
            "cracaId": self._aca_id[-3:],
            "crlSeries": 1,
            "validityPeriod": {"start": GENERATION_TIME, "duration": ("hours", 168)},
            "appPermissions": [{"psid": 32}],
            "verifyKeyIndicator": indicator,
        }
        return tbs, coer.encode("ToBeSignedCertificate", tbs)

    def certify(
        self, tbs: dict[str, Any], tbs_coer: bytes, scalar: int | None
    ) -> tuple[dict[str, Any], bytes, bytes | None]:
        """Sign over H(H(tbs) ‖ H(ACA cert)) or compute r = e·k + d_ACA, then encode the certificate (§4.2, §4.3)."""
        value: dict[str, Any] = {
            "version": 3,
            "type": self.variant.cert_type,
            "issuer": ("sha256AndDigest", self._aca_id),
            "toBeSigned": tbs,
        }
        if self.variant.cert_type == "explicit":
            value["signature"] = ecdsa.sign(self._aca_key, hashing.signing_digest(tbs_coer, self._aca_cert))
            private_key_info = None if scalar is None else keys.scalar_to_bytes(scalar)
        else:
            assert scalar is not None
            e = ecqv.certificate_hash_e(tbs_coer, self._aca_cert)
            private_key_info = keys.scalar_to_bytes(ecqv.private_reconstruction(e, scalar, self._aca_private))
        return value, coer.encode("Certificate", value), private_key_info

    # --- whole certificates -------------------------------------------------------------------

    def issue(self, i: int, j: int) -> Issued:
        """All steps for certificate (i, j); the response is None while its modules are missing."""
        b, q = self.expand(i, j)
        scalar, u = self.randomise(b)
        tbs, tbs_coer = self.encode_tbs(i, u)
        cert_value, cert, pki = self.certify(tbs, tbs_coer, scalar)
        response = None if self._respond is None else self._respond(cert_value, pki, q)
        return Issued(cert, pki, response, q)

    def issue_steps(self, i: int, j: int) -> tuple[float, ...]:
        """``issue`` with ``perf_counter`` between steps: seconds per step, in ``STEP_NAMES`` order."""
        clock = time.perf_counter
        t0 = clock()
        b, q = self.expand(i, j)
        t1 = clock()
        scalar, u = self.randomise(b)
        t2 = clock()
        tbs, tbs_coer = self.encode_tbs(i, u)
        t3 = clock()
        cert_value, _, pki = self.certify(tbs, tbs_coer, scalar)
        t4 = clock()
        if self._respond is not None:
            self._respond(cert_value, pki, q)
        t5 = clock()
        return (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)

    # --- the EE's side, for sanity checks (never timed) ------------------------------------------

    def ee_response_private_key(self, i: int, j: int) -> int | None:
        """The EE's private key that opens response (i, j); None for Plain (protocol.md §4.5 table)."""
        if self.variant.butterfly == "none":
            return None
        b = butterfly.cocoon_private_key(self._a, self._signing_expander, i, j, "signing")
        return butterfly.response_encryption_private_key(
            self.variant.butterfly,
            cocoon_signing_private=b,
            encryption_caterpillar_private=self._h,
            encryption_expander=self._encryption_expander,
            i=i,
            j=j,
        )

    def ee_certificate_private_key(self, i: int, j: int, tbs_coer: bytes, private_key_info: bytes | None) -> int:
        """The EE's private key for certificate (i, j): u = b + c, d = e·b + r, or its own key (§4.3, §4.5)."""
        if self.variant.butterfly == "none":
            b = self._a
        else:
            b = butterfly.cocoon_private_key(self._a, self._signing_expander, i, j, "signing")
        if self.variant.cert_type == "explicit":
            if private_key_info is None:
                return b
            return butterfly.explicit_private_key(b, int.from_bytes(private_key_info, "big"))
        assert private_key_info is not None
        e = ecqv.certificate_hash_e(tbs_coer, self._aca_cert)
        return butterfly.implicit_private_key(b, e, int.from_bytes(private_key_info, "big"))

    @property
    def aca_certificate_object(self) -> Any:
        """The ACA's ``cert.certificate.Certificate``, or None with the hand-built stand-in."""
        return self._aca_cert_object

    @property
    def aca_certificate(self) -> bytes:
        """COER of the ACA certificate the core issues under."""
        return self._aca_cert

    @property
    def aca_public_key(self) -> ec.EllipticCurvePublicKey:
        """The ACA's verification key."""
        return self._aca_key.public_key()


@dataclass(frozen=True)
class Asn1Share:
    """How much of a certificate's time asn1tools takes (performance.md §4: 20-30 µs per encode)."""

    calls_per_cert: float
    asn1_us_per_cert: float
    total_us_per_cert: float

    @property
    def share(self) -> float:
        """The fraction of the whole certificate spent inside asn1tools encode/decode."""
        return self.asn1_us_per_cert / self.total_us_per_cert


def asn1_share(core: AcaCore, *, certificates: int) -> Asn1Share:
    """Issue ``certificates`` with the compiled specification's encode/decode wrapped in a timer.

    The wrapper costs about 0.2 µs per call, small against an asn1tools call; the specification
    is restored afterwards, even on error.
    """
    spec = specification()
    calls = 0
    spent = 0.0
    clock = time.perf_counter

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls, spent
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                spent += clock() - start
                calls += 1

        return wrapper

    saved = {name: spec.__dict__.get(name) for name in ("encode", "decode")}
    spec.encode, spec.decode = timed(spec.encode), timed(spec.decode)
    try:
        start = clock()
        for j in range(certificates):
            core.issue(2, j)
        total = clock() - start
    finally:
        for name, original in saved.items():
            if original is None:
                delattr(spec, name)
            else:
                setattr(spec, name, original)
    return Asn1Share(calls / certificates, spent / certificates * 1e6, total / certificates * 1e6)


# --- the real ACA path: scms_aca.issue.issue_batch ----------------------------------------------

USE_CASE_NOW = GENERATION_TIME + 1_000_000
"""Time32 of the use-case runs: the hierarchy is made 10,000 s before it."""
_KINDS: dict[Butterfly, str] = {"original": "original", "unified": "unified", "compact-unified": "compact-unified",
                                "none": "plain"}  # fmt: skip


@functools.cache
def _bench_hierarchy() -> Any:
    """One in-memory hierarchy (scms init) per process, as one ACA container has."""
    from scms_service.config import load_settings
    from scms_service.hierarchy import init_hierarchy
    from scms_service.stores.artifacts import InMemoryArtifacts
    from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault

    ca, _ = init_hierarchy(load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(),
                           now=USE_CASE_NOW - 10_000)  # fmt: skip
    return ca


@functools.cache
def cpu_fixed_base_us(count: int = 3000) -> float:
    """CPU µs of one ``generate_private_key`` (a random k and k·G in OpenSSL), the k·G stand-in in CPU time."""
    curve = ec.SECP256R1()
    start = time.process_time()
    for _ in range(count):
        ec.generate_private_key(curve)
    return (time.process_time() - start) / count * 1e6


class AcaUseCase:
    """``scms_aca.issue.issue_batch`` for one variant: requests from a simulated RA, a fresh response store per batch.

    Building the requests (the RA's work: expansion, PLVs, signing) is never timed; the resolver
    has seen the RA certificate once, as a warm ACA container has.
    """

    def __init__(self, variant: Variant) -> None:
        from scms_aca.issue import IssuePolicy, issue_batch
        from scms_aca.wiring import ra_certificates

        from tests.unit.aca.simulator import Ra

        self.variant = variant
        self.kind = _KINDS[variant.butterfly]
        ca = _bench_hierarchy()
        self.aca_certificate = ca.certificate("aca")
        self.ra = Ra(ca.signer("ra"), epoch=USE_CASE_NOW - 1000)
        self._issue_batch = issue_batch
        self._kwargs: dict[str, Any] = {
            "aca": ca.signer("aca"),
            "ra_certificate_resolver": ra_certificates(ca, now=USE_CASE_NOW),
            "plv_keys": self.ra.lines.aca_keyring(),
            "now": USE_CASE_NOW,
            "policy": IssuePolicy(ca.certificate("root").hashed_id3, 1),
        }
        self.issue(self.requests(1))

    def requests(self, count: int, *, i: int = 1) -> list[bytes]:
        """``count`` RaAcaCertRequestSpdus of this variant for i-period ``i``, j = 0..count-1 (untimed)."""
        return [self.ra.request(self.variant.cert_type, self.kind, i, j,  # type: ignore[arg-type]
                                generation_time=USE_CASE_NOW).spdu for j in range(count)]  # fmt: skip

    def cpu_us_per_cert(self, requests: list[bytes], *, repeat: int) -> float:
        """Median CPU µs per certificate of ``issue(requests)`` over ``repeat`` runs.

        CPU time (``time.process_time``), not wall time: ``openssl speed`` reports CPU seconds too, so
        the ratio holds on a machine whose other load takes the cores away (a shared bench machine).
        """
        runs = []
        for _ in range(repeat):
            start = time.process_time()
            self.issue(requests)
            runs.append((time.process_time() - start) / len(requests) * 1e6)
        return statistics.median(runs)

    def issue(self, requests: list[bytes]) -> list[Any]:
        """One batch through the use case with an empty store (so every request is really issued)."""
        from scms_service.stores.aca_responses import FakeAcaResponseStore

        results = self._issue_batch(requests, responses=FakeAcaResponseStore(), **self._kwargs)
        if not all(r.ok for r in results):
            raise AssertionError(f"{self.variant.name}: refused {[r.refusal for r in results if not r.ok]}")
        return results


# --- ``python -m bench.aca_core``: the ACA use case alone --------------------------------------


def use_case_table(*, batch: int, repeat: int, openssl_seconds: int = 1) -> tuple[str, list[dict[str, Any]]]:
    """Every variant's ``issue_batch`` CPU µs per certificate against the C budget of the same run.

    The variants take turns, one batch each per round, so a burst of other load on the machine
    spreads over all of them; each variant's figure is the median of its ``repeat`` batches, and
    the best batch is shown beside it. ``openssl speed`` runs before and after the rounds; the
    budget takes each operation's faster run (the one the machine's other load disturbed less), so
    a ratio is never flattered by a slow OpenSSL run.
    """
    from . import openssl_ref, report
    from .timing import progress

    progress(f"openssl speed -seconds {openssl_seconds} ecdsap256 ecdhp256 (before)")
    speeds = [openssl_ref.run_openssl_speed(seconds=openssl_seconds)]
    if not speeds[0].ok:
        raise SystemExit(f"no OpenSSL reference: {speeds[0].error}")
    cases: list[tuple[AcaUseCase, list[float]]] = [(AcaUseCase(variant), []) for variant in VARIANTS]
    batches = [(case, case.requests(batch)) for case, _ in cases]
    for round_ in range(repeat):
        progress(f"ACA use case, round {round_ + 1} of {repeat}: every variant, a batch of {batch}")
        for (case, runs), (_, requests) in zip(cases, batches, strict=True):
            runs.append(case.cpu_us_per_cert(requests, repeat=1))
    progress(f"openssl speed -seconds {openssl_seconds} ecdsap256 ecdhp256 (after)")
    after = openssl_ref.run_openssl_speed(seconds=openssl_seconds)
    if after.ok:
        speeds.append(after)
    sign_us = min(s.sign_us for s in speeds if s.sign_us)
    ecdh_us = min(s.ecdh_us for s in speeds if s.ecdh_us)
    verify_us = min(1e6 / s.verify_per_s for s in speeds if s.verify_per_s)
    fixed_base_us = cpu_fixed_base_us()
    rows, results = [], []
    for case, runs in cases:
        variant = case.variant
        us, best = statistics.median(runs), min(runs)
        ops = use_case_ops(variant)
        budget = ops.budget_us(fixed_base_us=fixed_base_us, sign_us=sign_us, ecdh_us=ecdh_us, verify_us=verify_us)
        rows.append([variant.name, variant.response_form, ops.label(), us, best, budget, report.ratio(us, budget),
                     report.ratio(best, budget)])  # fmt: skip
        results.append({"variant": variant.name, "us_per_cert": us, "best_us_per_cert": best,
                        "c_budget_us": budget, "ratio": us / budget, "best_ratio": best / budget})  # fmt: skip
    head = (
        f"OpenSSL µs: sign {sign_us:.1f}, verify {verify_us:.1f}, ECDH {ecdh_us:.1f}; "
        f"k·G (generate_private_key, CPU) {fixed_base_us:.1f}; batch {batch}, median and best of {repeat}"
    )
    headers = ["variant", "response", "C-level EC ops", "CPU µs/cert", "best", "C budget µs/cert", "ratio",
               "best ratio"]  # fmt: skip
    return head + "\n" + report.table(headers, rows), results


def main(argv: list[str] | None = None) -> int:
    """Print the ACA use-case table (the part of ``make bench`` that issue #5 §7 sets a target for)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.aca_core", description=use_case_table.__doc__)
    parser.add_argument("--batch", type=int, default=200, help="requests per issue_batch call (default 200)")
    parser.add_argument("--repeat", type=int, default=5, help="batches timed per variant; the median counts")
    args = parser.parse_args(argv)
    text, _ = use_case_table(batch=args.batch, repeat=args.repeat)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
