"""The CA hierarchy: create it once (``scms init``), load it, rotate one role (issue #4 §3; protocol.md §1.1).

Root (self-signed) → ICA → {ECA, ACA, RA, LA1, LA2, MA, CRLG}; two self-signed electors (P-384,
as CTL signatures need SHA-384) approve the root in a first CTL. Every certificate is explicit
(the CAs' keys P-256) with PSID 35 and its role's ``SecurityMgmtSsp`` (protocol.md §1.1 table); the
CRL generator also holds PSID 256 with a ``CrlSsp``. Private keys are PKCS#8 PEM in one secret per
role and HashedId8; certificates go to the ``CaTable`` and the artifacts bucket. The layout is in
docs/architecture.md "Hierarchy".
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scms_codec import asn1
from scms_codec.cert.certificate import Certificate, issue_explicit, verify_signature
from scms_codec.cert.chain import verify_chain
from scms_codec.crypto.keys import encryption_key_to_asn1
from scms_codec.errors import CodecError
from scms_codec.secured.signer import Signer
from scms_codec.spdu.cert_management import FullIeeeTbsCtl
from scms_codec.spdu.ctl import build_multi_signed_ctl_spdu, elector_entry, sign_ctl
from scms_codec.time32 import DURATION_UNITS

from .auth import key_digest
from .errors import Conflict, ScmsError
from .stores.artifacts import Artifacts
from .stores.ca import CaRecord, CaStore, CtlRecord, KeyVault

if TYPE_CHECKING:
    from .config import Settings

__all__ = [
    "ELECTORS",
    "ENCRYPTING_ROLES",
    "ISSUER",
    "ROLES",
    "SECURITY_MGMT_PSID",
    "Hierarchy",
    "HierarchyError",
    "RotationRefused",
    "cert_key",
    "chain_key",
    "ctl_key",
    "ensure_management_api_key",
    "init_hierarchy",
    "key_secret_name",
    "rotate",
    "validity_start",
]

_log = logging.getLogger(__name__)

SECURITY_MGMT_PSID: Final = 35
CRL_PSID: Final = 256
# Creation order: every issuer comes before what it issues.
ROLES: Final = ("root", "ica", "eca", "aca", "ra", "la1", "la2", "ma", "crlg", "elector1", "elector2")
ELECTORS: Final = ("elector1", "elector2")
ISSUER: Final[dict[str, str | None]] = {
    "root": None,
    "ica": "root",
    # The CRL generator is issued by the root, the CRACA every certificate names (cracaId = HashedId3
    # of the root), so that its CrlSsp can say issuerIsCraca (1609.2 CracaType): it signs CRLs for the
    # certificates that chain to its issuer, and a rotated CRL generator keeps signing them.
    "crlg": "root",
    **{r: "ica" for r in ("eca", "aca", "ra", "la1", "la2", "ma")},
    **{e: None for e in ELECTORS},
}
# Roles whose certificate carries an ECIES encryptionKey (EEs encrypt to them, protocol.md §1.1).
ENCRYPTING_ROLES: Final = frozenset({"ra", "ma"})
# The trust anchors change only through a new CTL signed by the electors (``ctl_issue``, ``scms ctl``).
_NOT_ROTATABLE: Final = frozenset({"root", *ELECTORS})

_YEAR: Final = int(DURATION_UNITS["years"])
_SIXTY_HOURS: Final = int(DURATION_UNITS["sixtyHours"])
_CTL_FIRST_SEQUENCE: Final = 1
_EE_APP_ENROL: Final = (b"\xc0", 8)
_EE_ENROL: Final = (b"\x40", 8)
_USES_CUBK: Final = (b"\x80", 8)


class HierarchyError(ScmsError):
    """The hierarchy is missing, inconsistent or tampered with (500; the message names role and certificate)."""


class RotationRefused(HierarchyError):
    """``rotate`` was asked for a role it cannot rotate (unknown role, root, elector, or not created yet)."""

    HTTP_STATUS = 409


def key_secret_name(settings: Settings, role: str, hashed_id8: bytes) -> str:
    """``<secret_prefix>ca/<role>/<HashedId8 hex>``: the secret holding the role's private key(s)."""
    return f"{settings.secret_prefix}ca/{role}/{hashed_id8.hex()}"


def cert_key(hashed_id8: bytes) -> str:
    """Artifacts key of one CA certificate (COER ``Certificate``)."""
    return f"certs/{hashed_id8.hex()}.oer"


def chain_key(role: str) -> str:
    """Artifacts key of a role's active chain (COER ``SequenceOfCertificate``, the role first, the root last)."""
    return f"chain/{role}.oer"


def ctl_key(series_id: bytes, sequence_number: int) -> str:
    """Artifacts key of a CTL (COER ``MultiSignedCtlSpdu``)."""
    return f"ctl/{series_id.hex()}_{sequence_number}.oer"


# ----------------------------------------------------------------------------------------------
# Keys in the vault


@dataclass(frozen=True)
class _RoleKeys:
    # repr=False: a key never reaches a log line or a traceback through this object.
    signing: ec.EllipticCurvePrivateKey
    encryption: ec.EllipticCurvePrivateKey | None = None

    def __repr__(self) -> str:
        return "_RoleKeys(<redacted>)"


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _secret_value(keys: _RoleKeys) -> str:
    value = {"signingKey": _pem(keys.signing)}
    if keys.encryption is not None:
        value["encryptionKey"] = _pem(keys.encryption)
    return json.dumps(value)


def _load_pem(text: Any, what: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(str(text).encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeError):
        # The cause is dropped on purpose: parser messages may quote the secret's content.
        raise HierarchyError(f"{what}: not a PKCS#8 PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise HierarchyError(f"{what}: not an elliptic-curve key")
    return key


def _parse_secret(value: str, name: str) -> _RoleKeys:
    try:
        parsed = json.loads(value)
    except ValueError:
        raise HierarchyError(f"secret {name}: not the JSON this SCMS writes") from None
    if not isinstance(parsed, dict) or "signingKey" not in parsed:
        raise HierarchyError(f"secret {name}: no signingKey")
    encryption = parsed.get("encryptionKey")
    return _RoleKeys(
        _load_pem(parsed["signingKey"], f"secret {name}"),
        None if encryption is None else _load_pem(encryption, f"secret {name}"),
    )


# ----------------------------------------------------------------------------------------------
# The loaded hierarchy


class Hierarchy:
    """Every CA certificate (active or rotated), verified on load; keys fetched from the vault once, on use."""

    def __init__(self, records: Sequence[CaRecord], vault: KeyVault) -> None:
        self._vault = vault
        self._records: dict[bytes, CaRecord] = {}
        self._certs: dict[bytes, Certificate] = {}
        self._active: dict[str, bytes] = {}
        self._keys: dict[bytes, _RoleKeys] = {}
        for record in records:
            self._add(record)

    def __repr__(self) -> str:
        return f"Hierarchy(roles={sorted(self._active)})"

    @classmethod
    def load(cls, ca_store: CaStore, vault: KeyVault) -> Hierarchy:
        """Read every CA certificate and check it: identifier, signature and chain to a root (``HierarchyError``)."""
        records = [r for role in ROLES for r in ca_store.records(role)]
        hierarchy = cls(records, vault)
        hierarchy.verify()
        return hierarchy

    def _add(self, record: CaRecord) -> Certificate:
        try:
            cert = Certificate.from_bytes(record.certificate)
        except CodecError as exc:
            raise HierarchyError(
                f"stored certificate {record.hashed_id8.hex()} of {record.role} does not decode"
            ) from exc
        if cert.hashed_id8 != record.hashed_id8:
            raise HierarchyError(
                f"stored certificate of {record.role} hashes to {cert.hashed_id8.hex()}, "
                f"not its recorded HashedId8 {record.hashed_id8.hex()}"
            )
        self._records[cert.hashed_id8] = record
        self._certs[cert.hashed_id8] = cert
        if record.active:
            self._active[record.role] = cert.hashed_id8
        return cert

    def verify(self) -> None:
        """Check every certificate's signature and chain, each at its own start time (``HierarchyError``)."""
        roots = [c for c in self._certs.values() if c.is_self_signed]
        for h, cert in self._certs.items():
            role = self._records[h].role
            try:
                if cert.is_self_signed:
                    verify_signature(cert, None)
                else:
                    # At the subject's start every issuer above it is valid too (validity nests).
                    verify_chain(cert, list(self._certs.values()), roots, at=cert.validity[0])
            except CodecError as exc:
                raise HierarchyError(f"stored certificate {h.hex()} of {role} does not verify: {exc}") from exc
            expected_issuer = ISSUER.get(role, "?")
            issuer_role = None if cert.issuer_id is None else self._role_of(cert.issuer_id)
            if issuer_role != expected_issuer:
                raise HierarchyError(
                    f"certificate {h.hex()} of {role} is issued by {issuer_role}, not {expected_issuer}"
                )

    def _role_of(self, hashed_id8: bytes) -> str | None:
        record = self._records.get(hashed_id8)
        return None if record is None else record.role

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles that have an active certificate, in creation order."""
        return tuple(r for r in ROLES if r in self._active)

    def record(self, role: str) -> CaRecord:
        """The stored record of the role's active certificate."""
        return self._records[self._active_id(role)]

    def records(self) -> list[CaRecord]:
        """Every record, active or rotated."""
        return list(self._records.values())

    def _active_id(self, role: str) -> bytes:
        try:
            return self._active[role]
        except KeyError:
            raise HierarchyError(f"CA role {role!r} has no certificate; run `scms init`") from None

    def certificate(self, role: str) -> Certificate:
        """The role's active certificate."""
        return self._certs[self._active_id(role)]

    def _keys_for(self, hashed_id8: bytes) -> _RoleKeys:
        keys = self._keys.get(hashed_id8)
        if keys is None:
            record = self._records[hashed_id8]
            value = self._vault.get(record.key_secret)
            if value is None:
                raise HierarchyError(f"secret {record.key_secret} of {record.role} is missing")
            keys = _parse_secret(value, record.key_secret)
            if keys.signing.public_key() != self._certs[hashed_id8].public_key():
                raise HierarchyError(
                    f"secret {record.key_secret} does not hold the key of certificate {hashed_id8.hex()}"
                )
            encryption_cert_key = self._certs[hashed_id8].encryption_key()
            if encryption_cert_key is not None and (
                keys.encryption is None or keys.encryption.public_key() != encryption_cert_key
            ):
                raise HierarchyError(f"secret {record.key_secret} does not hold the certificate's encryption key")
            self._keys[hashed_id8] = keys
        return keys

    def signer(self, role: str) -> Signer:
        """The role's active certificate and signing key (the key is read from the vault once per process)."""
        h = self._active_id(role)
        return Signer(self._keys_for(h).signing, self._certs[h])

    def encryption_private_key(self, role: str) -> ec.EllipticCurvePrivateKey:
        """The ECIES private key behind the active certificate's ``encryptionKey`` (RA, MA)."""
        h = self._active_id(role)
        key = self._keys_for(h).encryption
        if key is None:
            raise HierarchyError(f"CA role {role!r} has no encryption key")
        return key

    def chain(self, role: str) -> list[Certificate]:
        """The role's active certificate, its issuer, … up to the root (self-signed), by issuer HashedId8."""
        out = [self.certificate(role)]
        while (issuer_id := out[-1].issuer_id) is not None:
            issuer = self._certs.get(issuer_id)
            if issuer is None:
                raise HierarchyError(f"issuer {issuer_id.hex()} of {out[-1].hashed_id8.hex()} is not stored")
            out.append(issuer)
        return out

    def by_hashed_id8(self, hashed_id8: bytes) -> Certificate | None:
        """Any CA certificate, active or rotated, by its HashedId8."""
        return self._certs.get(bytes(hashed_id8))

    def anchors(self) -> list[Certificate]:
        """The self-signed root certificates (trust anchors for ``verify_chain``)."""
        return [c for h, c in self._certs.items() if c.is_self_signed and self._records[h].role == "root"]


# ----------------------------------------------------------------------------------------------
# Certificate contents per role (protocol.md §1.1)


def _ssp(value: tuple[str, Any]) -> dict[str, Any]:
    return {"psid": SECURITY_MGMT_PSID, "ssp": ("opaque", asn1.encode("SecurityMgmtSsp", value))}


def _csv_ints(text: str, name: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise HierarchyError(f"setting {name}: expected comma-separated integers, got {text!r}") from None


def _app_permissions(role: str, settings: Settings) -> list[dict[str, Any]]:
    version = 2
    if role == "root":
        return [_ssp(("root", {"version": version}))]
    if role in ("ica", "eca", "aca", "ra"):
        return [_ssp((role, {"version": version}))]
    if role in ("la1", "la2"):
        return [_ssp(("la", {"version": version, "laId": int(role[-1])}))]
    if role == "ma":
        psids = _csv_ints(settings.ma_relevant_psids, "ma_relevant_psids")
        return [_ssp(("ma", {"version": version, "relevantPsids": psids}))]
    if role == "crlg":
        # Both series it signs (docs/architecture.md "CRL generator"): the linked CRLs of pseudonym
        # certificates and the hash CRLs of enrollment and non-butterfly certificates.
        series = sorted({settings.crl_series, settings.crl_hash_series})
        crl_ssp = asn1.encode("CrlSsp", {"version": 1, "associatedCraca": "issuerIsCraca", "crls": series})
        # PsidSsp entries in ascending PSID order (a SequenceOfPsidSsp is sorted by PSID).
        return [_ssp(("crl", {"version": version})), {"psid": CRL_PSID, "ssp": ("opaque", crl_ssp)}]
    if role in ELECTORS:
        return [_ssp(("elector", {"version": version}))]
    raise HierarchyError(f"unknown CA role {role!r}")


def _extra_fields(role: str) -> dict[str, Any]:
    every_psid_any_depth = {
        "subjectPermissions": ("all", None),
        "minChainLength": 1,
        "chainLengthRange": -1,
        "eeType": _EE_APP_ENROL,
    }
    if role in ("root", "ica"):
        return {"certIssuePermissions": [every_psid_any_depth]}
    if role == "eca":
        # Enrollment certificates only, issued directly (chain length 1).
        issue = {"subjectPermissions": ("all", None), "minChainLength": 1, "chainLengthRange": 0, "eeType": _EE_ENROL}
        return {"certIssuePermissions": [issue]}
    if role == "aca":
        # Authorization (app) certificates only, issued directly; eeType {app} is the DEFAULT.
        issue = {"subjectPermissions": ("all", None), "minChainLength": 1, "chainLengthRange": 0}
        return {"certIssuePermissions": [issue], "flags": _USES_CUBK}
    if role == "ra":
        # What the RA asks of the ACA: app certificates for any PSID the device's policy permits.
        return {
            "certRequestPermissions": [
                {"subjectPermissions": ("all", None), "minChainLength": 1, "chainLengthRange": 0}
            ]
        }
    return {}


def _validity_years(role: str, settings: Settings) -> int:
    if role == "root":
        return settings.root_validity_years
    if role == "ica":
        return settings.ica_validity_years
    if role in ELECTORS:
        return settings.elector_validity_years
    return settings.ca_validity_years


def _duration(start: int, now: int, years: int, issuer_end: int | None, role: str) -> tuple[str, int]:
    if years < 1:
        raise HierarchyError(f"{role}: validity must be at least one year")
    if issuer_end is None or start + years * _YEAR <= issuer_end:
        return ("years", years)
    # Cut to end with the issuer (validity must nest, 1609.2 §5.1.2.4), in whole 60-hour units.
    units = (issuer_end - start) // _SIXTY_HOURS
    if start + units * _SIXTY_HOURS <= now:
        raise HierarchyError(f"{role}: its issuer's certificate expires too soon; rotate the issuer first")
    return ("sixtyHours", units)


def validity_start(settings: Settings, now: int, issuer: Certificate | None) -> int:
    """Where a CA certificate made at ``now`` starts: one i-period plus the overlap earlier, inside its issuer.

    Pseudonym certificates of the current i-period began at the period's start, up to one period
    plus the overlap ago; an ACA (and every CA above it) made within that period must already be
    valid then, or it could not issue them (validity nests, 1609.2 §5.1.2.4; 400-35 at the ACA).
    """
    start = max(0, now - settings.i_period_length - settings.time_overlap)
    return start if issuer is None else max(start, issuer.validity[0])


def _tbs(role: str, settings: Settings, now: int, issuer: Certificate | None) -> dict[str, Any]:
    issuer_end = None if issuer is None else issuer.validity[1]
    start = validity_start(settings, now, issuer)
    tbs: dict[str, Any] = {
        "id": ("name", f"openscms-{role}"),
        "cracaId": b"\x00\x00\x00",
        "crlSeries": 0,
        "validityPeriod": {
            "start": start,
            "duration": _duration(start, now, _validity_years(role, settings), issuer_end, role),
        },
        "appPermissions": _app_permissions(role, settings),
    }
    countries = _csv_ints(settings.ca_region_countries, "ca_region_countries")
    if countries:
        tbs["region"] = ("identifiedRegion", [("countryOnly", c) for c in countries])
    tbs.update(_extra_fields(role))
    return tbs


def _signing_curve(role: str) -> ec.EllipticCurve:
    # Electors sign CTLs with SHA-384, so they hold P-384 keys (protocol.md §3.5). Every CA is P-256:
    # the ECA and ACA issue ECQV implicit certificates, which need a P-256 issuer.
    return ec.SECP384R1() if role in ELECTORS else ec.SECP256R1()


def _issue(
    role: str, hierarchy: Hierarchy, settings: Settings, vault: KeyVault, now: int
) -> tuple[CaRecord, Certificate]:
    """A new key (and encryption key) and certificate for ``role``, the key stored in the vault."""
    issuer_role = ISSUER[role]
    issuer = None if issuer_role is None else hierarchy.signer(issuer_role)
    issuer_cert = None if issuer is None else issuer.certificate
    keys = _RoleKeys(
        ec.generate_private_key(_signing_curve(role)),
        ec.generate_private_key(ec.SECP256R1()) if role in ENCRYPTING_ROLES else None,
    )
    tbs = _tbs(role, settings, now, issuer_cert)
    if keys.encryption is not None:
        tbs["encryptionKey"] = encryption_key_to_asn1(keys.encryption.public_key())
    issuer_key = keys.signing if issuer is None else issuer.key
    cert = issue_explicit(tbs, keys.signing.public_key(), issuer_cert, issuer_key)
    if issuer_cert is not None:
        try:
            # Never store a certificate that does not chain to the root now.
            verify_chain(cert, list(hierarchy.chain(issuer_role or "")), hierarchy.anchors(), at=now)
        except CodecError as exc:
            raise HierarchyError(f"{role}: the new certificate does not chain to the root: {exc}") from exc
    name = key_secret_name(settings, role, cert.hashed_id8)
    # The key is in the vault before any item names it: an active certificate always has its key.
    vault.create(name, _secret_value(keys))
    record = CaRecord(role, cert.hashed_id8, cert.encoded, True, now, name)
    return record, cert


# ----------------------------------------------------------------------------------------------
# Use cases


def _publish(hierarchy: Hierarchy, artifacts: Artifacts) -> None:
    """Write every certificate and every active chain to the artifacts, skipping what is there already."""
    for record in hierarchy.records():
        _put_if_changed(artifacts, cert_key(record.hashed_id8), record.certificate)
    for role in hierarchy.roles:
        chain = asn1.encode("SequenceOfCertificate", [c.value for c in hierarchy.chain(role)])
        _put_if_changed(artifacts, chain_key(role), chain)


def _ensure_ctl(hierarchy: Hierarchy, ca_store: CaStore, artifacts: Artifacts, now: int) -> bool:
    """Publish CTL #1 of the series named by the root's HashedId8 unless it exists; True if created."""
    root = hierarchy.certificate("root")
    series = root.hashed_id8
    created = False
    if not ca_store.ctls(series):
        elector_certs = [hierarchy.certificate(e) for e in ELECTORS]
        tbs = FullIeeeTbsCtl(
            ctl_series_id=series,
            sequence_number=_CTL_FIRST_SEQUENCE,
            effective_date=now,
            elector_approve=tuple(elector_entry(c) for c in elector_certs),
            root_ca_approve=(root.hashed_id32,),
            quorum=len(ELECTORS),
        )
        electors = [hierarchy.signer(e) for e in ELECTORS]
        spdu = build_multi_signed_ctl_spdu(sign_ctl(tbs, electors, [root, *elector_certs]))
        try:
            ca_store.put_ctl(CtlRecord(series, _CTL_FIRST_SEQUENCE, spdu, now))
            created = True
            _log.info("published CTL", extra={"ctlSeriesId": series.hex(), "sequenceNumber": _CTL_FIRST_SEQUENCE})
        except Conflict:
            pass  # A concurrent init published it first; the stored one is published below.
    for ctl in ca_store.ctls(series):
        _put_if_changed(artifacts, ctl_key(ctl.series_id, ctl.sequence_number), ctl.spdu)
    return created


def _put_if_changed(artifacts: Artifacts, key: str, data: bytes) -> None:
    if artifacts.get(key) != data:
        artifacts.put(key, data)


def init_hierarchy(
    settings: Settings, ca_store: CaStore, vault: KeyVault, artifacts: Artifacts, *, now: int
) -> tuple[Hierarchy, bool]:
    """Create every missing role, publish certificates, chains and the first CTL; (hierarchy, anything created).

    Idempotent: roles that exist are kept as they are, and what is already published is not rewritten.
    """
    hierarchy = Hierarchy.load(ca_store, vault)
    created = False
    for role in ROLES:
        if role in hierarchy.roles:
            continue
        record, cert = _issue(role, hierarchy, settings, vault, now)
        try:
            ca_store.create(record)
        except Conflict:
            # A concurrent init created the role first; its certificate wins, our secret stays unused.
            _log.warning("CA role created concurrently; keeping the stored one", extra={"role": role})
            hierarchy = Hierarchy.load(ca_store, vault)
            continue
        hierarchy._add(record)
        created = True
        _log.info("created CA certificate", extra={"role": role, "hashedId8": cert.hashed_id8.hex()})
    hierarchy = Hierarchy.load(ca_store, vault)
    _publish(hierarchy, artifacts)
    created = _ensure_ctl(hierarchy, ca_store, artifacts, now) or created
    return hierarchy, created


def rotate(
    role: str, settings: Settings, ca_store: CaStore, vault: KeyVault, artifacts: Artifacts, *, now: int
) -> Certificate:
    """A new key and certificate for ``role``, made active; the old ones stay stored, valid and downloadable.

    The root and the electors are refused (``RotationRefused``): they change through a new CTL.
    """
    if role not in ROLES:
        raise RotationRefused(f"unknown CA role {role!r}; one of {', '.join(ROLES)}")
    if role in _NOT_ROTATABLE:
        raise RotationRefused(
            f"{role} cannot be rotated: trust anchors change through a new CTL signed by the electors "
            "(`scms ctl add-root` / `remove-root`)"
        )
    hierarchy = Hierarchy.load(ca_store, vault)
    if role not in hierarchy.roles:
        raise RotationRefused(f"CA role {role} has no certificate yet; run `scms init` first")
    previous = hierarchy.certificate(role)
    record, cert = _issue(role, hierarchy, settings, vault, now)
    try:
        ca_store.rotate(record, previous.hashed_id8)
    except Conflict as exc:
        raise RotationRefused(f"CA role {role} was rotated concurrently; run again") from exc
    hierarchy._add(record)
    _publish(Hierarchy.load(ca_store, vault), artifacts)
    _log.info(
        "rotated CA certificate", extra={"role": role, "old": previous.hashed_id8.hex(), "new": cert.hashed_id8.hex()}
    )
    return cert


# ----------------------------------------------------------------------------------------------
# The management API key


def ensure_management_api_key(settings: Settings, vault: KeyVault) -> str | None:
    """Create the management API key (32 random octets as 64 hex digits); the key on creation, else None.

    Hex rather than URL-safe base64: a key starting with "-" reads as an option to command lines.

    Only its digest (``auth.key_digest``, what ``auth.ApiKeyCheck`` compares) is stored, so the caller must
    show the returned key once and forget it.
    """
    key = secrets.token_hex(32)
    try:
        vault.create(settings.management_api_key_secret, key_digest(key))
    except Conflict:
        return None
    return key
