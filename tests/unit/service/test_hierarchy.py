"""The CA hierarchy with in-memory stores: contents per role, chains, idempotency, rotation, tampering, secrecy."""

from __future__ import annotations

import copy
import io
import json
import logging
from dataclasses import dataclass, replace

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from scms_service.auth import ApiKeyCheck, key_digest
from scms_service.config import Settings, load_settings
from scms_service.errors import Forbidden
from scms_service.hierarchy import (
    ELECTORS,
    ROLES,
    Hierarchy,
    HierarchyError,
    RotationRefused,
    cert_key,
    chain_key,
    ctl_key,
    ensure_management_api_key,
    init_hierarchy,
    key_secret_name,
    rotate,
    validity_start,
)
from scms_service.iperiod import IPeriods
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.ca import CaRecord, InMemoryCaStore, InMemoryKeyVault

from scms_cli.init_cmd import execute
from scms_codec import asn1
from scms_codec.cert.certificate import Certificate
from scms_codec.cert.chain import verify_chain
from scms_codec.cert.permissions import ee_type_bits
from scms_codec.crypto.hashing import digest
from scms_codec.errors import ChainError, CodecError
from scms_codec.spdu.ctl import elector_entry, parse_multi_signed_ctl_spdu, verify_ctl_signatures

NOW = 700_000_000
CAS = [r for r in ROLES if r not in ELECTORS]
ISSUED = [r for r in CAS if r != "root"]
SSP_35 = {
    "root": "810002",
    "ica": "830002",
    "eca": "840002",
    "aca": "850002",
    "ra": "8b0002",
    "la1": "8800020001",
    "la2": "8800020002",
    "ma": "8a000201010120",
    "crlg": "860002",
    "elector1": "800002",
    "elector2": "800002",
}


@dataclass
class World:
    settings: Settings
    store: InMemoryCaStore
    vault: InMemoryKeyVault
    artifacts: InMemoryArtifacts
    hierarchy: Hierarchy


def _world(settings: Settings | None = None) -> World:
    settings = settings or load_settings({})
    store, vault, artifacts = InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts()
    hierarchy, created = init_hierarchy(settings, store, vault, artifacts, now=NOW)
    assert created
    return World(settings, store, vault, artifacts, hierarchy)


@pytest.fixture(scope="module")
def world() -> World:
    """An initialized hierarchy that tests only read."""
    return _world()


@pytest.fixture
def fresh() -> World:
    """An initialized hierarchy a test may change."""
    return _world()


def _ssp(cert: Certificate, psid: int) -> str | None:
    for entry in cert.tbs.get("appPermissions", []):
        if entry["psid"] == psid:
            return bytes(entry["ssp"][1]).hex()
    return None


def _state(w: World) -> tuple[object, dict[str, str | None], dict[str, bytes]]:
    return w.store.snapshot(), {n: w.vault.get(n) for n in w.vault.names()}, dict(w.artifacts.objects)


# --- contents and chains ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ISSUED)
def test_every_issued_role_chains_to_the_root(world: World, role: str) -> None:
    chain = world.hierarchy.chain(role)
    path = verify_chain(chain[0], chain[1:], [world.hierarchy.certificate("root")], at=NOW + 1)
    assert [c.hashed_id8 for c in path] == [c.hashed_id8 for c in chain]
    assert chain[-1] == world.hierarchy.certificate("root") and len(chain) == (2 if role in ("ica", "crlg") else 3)


@pytest.mark.parametrize("role", ISSUED)
def test_issued_role_does_not_chain_to_another_root(world: World, role: str) -> None:
    other = _world().hierarchy.certificate("root")
    chain = world.hierarchy.chain(role)
    with pytest.raises(ChainError):
        verify_chain(chain[0], chain[1:-1], [other], at=NOW + 1)


@pytest.mark.parametrize("role", ["root", *ELECTORS])
def test_roots_and_electors_are_self_signed_anchors(world: World, role: str) -> None:
    cert = world.hierarchy.certificate(role)
    assert cert.is_self_signed and world.hierarchy.chain(role) == [cert]
    assert verify_chain(cert, [], [cert], at=NOW) == [cert]
    assert (cert in world.hierarchy.anchors()) == (role == "root")
    assert cert.hash_algorithm == ("sha384" if role in ELECTORS else "sha256")  # P-384 electors sign CTLs


@pytest.mark.parametrize("role", CAS)
def test_every_ca_key_is_p256_so_ecqv_issuance_works(world: World, role: str) -> None:
    assert isinstance(world.hierarchy.signer(role).key.curve, ec.SECP256R1)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_carries_its_security_management_ssp(world: World, role: str) -> None:
    assert _ssp(world.hierarchy.certificate(role), 35) == SSP_35[role]


def test_only_the_crl_generator_may_sign_crls(world: World) -> None:
    crl_ssp = asn1.decode("CrlSsp", bytes.fromhex(_ssp(world.hierarchy.certificate("crlg"), 256) or ""))
    series = [world.settings.crl_series, world.settings.crl_hash_series]
    assert series[0] != series[1]
    assert crl_ssp == {"version": 1, "associatedCraca": "issuerIsCraca", "crls": sorted(series)}
    assert [r for r in ROLES if _ssp(world.hierarchy.certificate(r), 256) is not None] == ["crlg"]


def test_only_ra_and_ma_have_encryption_keys_matching_their_private_keys(world: World) -> None:
    for role in ROLES:
        public = world.hierarchy.certificate(role).encryption_key()
        if role in ("ra", "ma"):
            assert public == world.hierarchy.encryption_private_key(role).public_key()
        else:
            assert public is None
            with pytest.raises(HierarchyError, match="no encryption key"):
                world.hierarchy.encryption_private_key(role)


def test_issue_and_request_permissions_fit_each_role(world: World) -> None:
    tbs = {r: world.hierarchy.certificate(r).tbs for r in ROLES}
    assert ee_type_bits(tbs["eca"]["certIssuePermissions"][0]) == 0x40  # enrol: enrollment certificates
    assert ee_type_bits(tbs["aca"]["certIssuePermissions"][0]) == 0x80  # app: authorization certificates
    assert tbs["aca"]["flags"] == (b"\x80", 8)  # usesCubk
    assert "flags" not in tbs["eca"]
    assert tbs["ra"]["certRequestPermissions"][0]["subjectPermissions"] == ("all", None)
    assert [r for r in ROLES if "certIssuePermissions" in tbs[r]] == ["root", "ica", "eca", "aca"]


def test_validity_nests_root_over_ica_over_the_other_cas(world: World) -> None:
    h = world.hierarchy
    ends = {r: h.certificate(r).validity[1] for r in ROLES}
    back = NOW - world.settings.i_period_length - world.settings.time_overlap
    assert all(h.certificate(r).validity[0] == back for r in ROLES)
    assert ends["root"] > ends["ica"] > ends["eca"] == ends["ra"] == ends["ma"]


def test_cas_start_early_enough_for_the_current_periods_pseudonyms(world: World) -> None:
    # Given the i-period schedule: the current period began before `scms init` ran
    periods = IPeriods.from_settings(world.settings)
    current = periods.period(periods.i_at(NOW))
    # Then the ACA and every CA above it are valid from the current period's start
    for role in ("root", "ica", "aca"):
        assert world.hierarchy.certificate(role).validity[0] <= current.start


def test_a_rotated_ca_starts_no_earlier_than_its_issuer() -> None:
    w = _world()
    later = NOW + 1000
    rotate("aca", w.settings, w.store, w.vault, w.artifacts, now=later)
    aca, ica = Hierarchy.load(w.store, w.vault).certificate("aca"), w.hierarchy.certificate("ica")
    assert aca.validity[0] == max(ica.validity[0], later - w.settings.i_period_length - w.settings.time_overlap)
    # Twin: a CA starting before its issuer would not nest
    assert validity_start(w.settings, NOW - 10**6, ica) == ica.validity[0]


def test_child_validity_is_cut_to_end_with_its_issuer() -> None:
    # Given a root that lives shorter than the configured ICA validity
    w = _world(load_settings({}, root_validity_years=3, ica_validity_years=30, ca_validity_years=2))
    root, ica = w.hierarchy.certificate("root"), w.hierarchy.certificate("ica")
    # Then the ICA ends no later than the root, and the chain still verifies
    assert ica.validity[1] <= root.validity[1] and ica.tbs["validityPeriod"]["duration"][0] == "sixtyHours"
    verify_chain(w.hierarchy.certificate("eca"), [ica], [root], at=NOW)


def test_rotation_is_refused_when_the_issuer_expires_too_soon() -> None:
    w = _world(load_settings({}, root_validity_years=1, ica_validity_years=1, ca_validity_years=1))
    end = w.hierarchy.certificate("ica").validity[1]
    with pytest.raises(HierarchyError, match="expires too soon"):
        rotate("eca", w.settings, w.store, w.vault, w.artifacts, now=end - 100)


def test_configured_region_is_on_every_certificate_and_chains() -> None:
    w = _world(load_settings({}, ca_region_countries="840, 124"))
    region = ("identifiedRegion", [("countryOnly", 840), ("countryOnly", 124)])
    assert all(w.hierarchy.certificate(r).tbs["region"] == region for r in ROLES)
    chain = w.hierarchy.chain("ra")
    verify_chain(chain[0], chain[1:], [chain[-1]], at=NOW)


def test_no_region_by_default(world: World) -> None:
    assert all("region" not in world.hierarchy.certificate(r).tbs for r in ROLES)


def test_bad_region_setting_is_a_clear_error() -> None:
    with pytest.raises(HierarchyError, match="ca_region_countries"):
        _world(load_settings({}, ca_region_countries="US"))


# --- signer, keys, lookup --------------------------------------------------------------------------


class CountingVault(InMemoryKeyVault):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, name: str) -> str | None:
        self.reads += 1
        return super().get(name)


def test_signer_signs_with_the_certificate_key_and_reads_the_vault_once() -> None:
    settings, store, vault = load_settings({}), InMemoryCaStore(), CountingVault()
    init_hierarchy(settings, store, vault, InMemoryArtifacts(), now=NOW)
    h = Hierarchy.load(store, vault)
    before = vault.reads
    signers = [h.signer("eca") for _ in range(3)]
    assert vault.reads == before + 1
    signature = signers[0].key.sign(b"data", ec.ECDSA(hashes.SHA256()))
    h.certificate("eca").public_key().verify(signature, b"data", ec.ECDSA(hashes.SHA256()))
    assert signers[0].certificate == h.certificate("eca")


def test_unknown_role_has_no_signer(world: World) -> None:
    with pytest.raises(HierarchyError, match="scms init"):
        world.hierarchy.signer("pg")


def test_by_hashed_id8_finds_every_ca_and_nothing_else(world: World) -> None:
    for role in ROLES:
        cert = world.hierarchy.certificate(role)
        assert world.hierarchy.by_hashed_id8(cert.hashed_id8) == cert
    assert world.hierarchy.by_hashed_id8(b"\x00" * 8) is None


def test_private_keys_are_pkcs8_pem_in_one_secret_per_role_and_certificate(world: World) -> None:
    for role in ROLES:
        cert = world.hierarchy.certificate(role)
        name = key_secret_name(world.settings, role, cert.hashed_id8)
        assert world.hierarchy.record(role).key_secret == name == f"scms/ca/{role}/{cert.hashed_id8.hex()}"
        secret = json.loads(world.vault.get(name) or "")
        key = serialization.load_pem_private_key(secret["signingKey"].encode(), None)
        assert key.public_key() == cert.public_key()
        assert ("encryptionKey" in secret) == (role in ("ra", "ma"))


def test_a_secret_holding_another_key_is_refused(fresh: World) -> None:
    # Given the ECA's secret swapped for the ACA's
    eca, aca = fresh.hierarchy.record("eca"), fresh.hierarchy.record("aca")
    fresh.vault._secrets[eca.key_secret] = fresh.vault._secrets[aca.key_secret]
    h = Hierarchy.load(fresh.store, fresh.vault)
    with pytest.raises(HierarchyError, match="does not hold the key"):
        h.signer("eca")
    assert h.signer("aca").certificate == h.certificate("aca")


def test_a_missing_secret_is_a_clear_error(fresh: World) -> None:
    del fresh.vault._secrets[fresh.hierarchy.record("ra").key_secret]
    with pytest.raises(HierarchyError, match="missing"):
        Hierarchy.load(fresh.store, fresh.vault).signer("ra")


# --- publication ---------------------------------------------------------------------------------


def test_certificates_and_chains_are_published(world: World) -> None:
    objects = world.artifacts.objects
    for role in ROLES:
        cert = world.hierarchy.certificate(role)
        assert objects[cert_key(cert.hashed_id8)] == cert.encoded
        chain = asn1.decode("SequenceOfCertificate", objects[chain_key(role)])
        assert [Certificate.from_value(v) for v in chain] == world.hierarchy.chain(role)


def test_first_ctl_is_signed_by_both_electors_and_approves_the_root(world: World) -> None:
    root = world.hierarchy.certificate("root")
    spdu = world.artifacts.objects[ctl_key(root.hashed_id8, 1)]
    ctl = parse_multi_signed_ctl_spdu(spdu).content
    electors = {c.hashed_id8 for c in verify_ctl_signatures(ctl)}
    assert electors == {world.hierarchy.certificate(e).hashed_id8 for e in ELECTORS}
    assert ctl.tbs_ctl.root_ca_approve == (digest(root.encoded, "sha256"),)
    assert set(ctl.tbs_ctl.elector_approve) == {elector_entry(world.hierarchy.certificate(e)) for e in ELECTORS}
    assert (ctl.tbs_ctl.ctl_series_id, ctl.tbs_ctl.sequence_number, ctl.tbs_ctl.quorum) == (root.hashed_id8, 1, 2)
    assert [c.spdu for c in world.store.ctls(root.hashed_id8)] == [spdu]


def test_a_tampered_ctl_does_not_verify(world: World) -> None:
    root = world.hierarchy.certificate("root")
    ctl = parse_multi_signed_ctl_spdu(world.artifacts.objects[ctl_key(root.hashed_id8, 1)]).content
    forged = replace(ctl, tbs_ctl=replace(ctl.tbs_ctl, root_ca_approve=(b"\x00" * 32,)))
    with pytest.raises(CodecError):
        verify_ctl_signatures(forged)


# --- idempotency ---------------------------------------------------------------------------------


def test_init_again_changes_nothing(fresh: World) -> None:
    before = copy.deepcopy(_state(fresh))
    hierarchy, created = init_hierarchy(fresh.settings, fresh.store, fresh.vault, fresh.artifacts, now=NOW + 3600)
    assert not created
    assert _state(fresh) == before
    assert [hierarchy.certificate(r) for r in ROLES] == [fresh.hierarchy.certificate(r) for r in ROLES]


def test_init_on_a_partial_hierarchy_adds_only_the_missing_roles(fresh: World) -> None:
    # Given a store that holds only the root and the ICA of an earlier run
    store = InMemoryCaStore()
    for role in ("root", "ica"):
        store.create(fresh.hierarchy.record(role))
    # When init runs again
    hierarchy, created = init_hierarchy(fresh.settings, store, fresh.vault, InMemoryArtifacts(), now=NOW + 60)
    # Then it keeps those two and creates the rest under them
    assert created
    for role in ROLES:
        same = hierarchy.certificate(role) == fresh.hierarchy.certificate(role)
        assert same == (role in ("root", "ica"))
    chain = hierarchy.chain("eca")
    assert chain[1] == fresh.hierarchy.certificate("ica")


# --- rotation ------------------------------------------------------------------------------------


def test_rotation_adds_an_active_certificate_and_keeps_the_old_one(fresh: World) -> None:
    old = fresh.hierarchy.certificate("eca")
    old_secret = fresh.hierarchy.record("eca").key_secret
    new = rotate("eca", fresh.settings, fresh.store, fresh.vault, fresh.artifacts, now=NOW + 100)
    h = Hierarchy.load(fresh.store, fresh.vault)
    assert new != old and h.certificate("eca") == new and h.by_hashed_id8(old.hashed_id8) == old
    assert [r.active for r in fresh.store.records("eca")] == [False, True]
    assert fresh.vault.get(old_secret) is not None
    assert fresh.artifacts.objects[cert_key(old.hashed_id8)] == old.encoded
    assert fresh.artifacts.objects[cert_key(new.hashed_id8)] == new.encoded
    assert asn1.decode("SequenceOfCertificate", fresh.artifacts.objects[chain_key("eca")])[0] == new.value
    # Both still verify: the old one stays valid until it expires
    ica, root = h.certificate("ica"), h.certificate("root")
    for cert in (old, new):
        verify_chain(cert, [ica], [root], at=NOW + 200)
    assert h.signer("eca").certificate == new


def test_rotating_the_ica_keeps_existing_cas_under_the_old_ica(fresh: World) -> None:
    old_ica = fresh.hierarchy.certificate("ica")
    new_ica = rotate("ica", fresh.settings, fresh.store, fresh.vault, fresh.artifacts, now=NOW + 100)
    new_aca = rotate("aca", fresh.settings, fresh.store, fresh.vault, fresh.artifacts, now=NOW + 200)
    h = Hierarchy.load(fresh.store, fresh.vault)
    assert h.chain("eca")[1] == old_ica and h.chain("aca") == [new_aca, new_ica, h.certificate("root")]
    for role in ("eca", "aca"):
        chain = h.chain(role)
        verify_chain(chain[0], chain[1:], h.anchors(), at=NOW + 300)


@pytest.mark.parametrize(("role", "match"), [("root", "CTL"), ("elector1", "CTL"), ("dcm", "unknown")])
def test_rotation_of_anchors_or_unknown_roles_is_refused_and_changes_nothing(
    fresh: World, role: str, match: str
) -> None:
    before = copy.deepcopy(_state(fresh))
    with pytest.raises(RotationRefused, match=match):
        rotate(role, fresh.settings, fresh.store, fresh.vault, fresh.artifacts, now=NOW + 1)
    assert _state(fresh) == before


def test_rotation_before_init_is_refused() -> None:
    with pytest.raises(RotationRefused, match="scms init"):
        rotate("eca", load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(), now=NOW)


def test_rotation_racing_another_rotation_is_refused(fresh: World) -> None:
    # Given the store's active ECA changes between load and write (another rotation won)
    store = fresh.store
    original_rotate = store.rotate

    def racing(record: CaRecord, previous: bytes) -> None:
        original_rotate(replace(record, hashed_id8=b"\x01" * 8), previous)  # the winner
        original_rotate(record, previous)  # ours, with a stale ``previous``

    store.rotate = racing  # type: ignore[method-assign]
    with pytest.raises(RotationRefused, match="concurrently"):
        rotate("ra", fresh.settings, store, fresh.vault, fresh.artifacts, now=NOW + 1)


# --- tampering -----------------------------------------------------------------------------------


def _tamper(w: World, role: str) -> Certificate:
    record = w.hierarchy.record(role)
    value = copy.deepcopy(w.hierarchy.certificate(role).value)
    value["toBeSigned"]["crlSeries"] = 7
    forged = Certificate.from_value(value)
    del w.store._certs[(role, record.hashed_id8)]
    w.store._certs[(role, forged.hashed_id8)] = replace(
        record, hashed_id8=forged.hashed_id8, certificate=forged.encoded
    )
    w.store._active[role] = forged.hashed_id8
    return forged


@pytest.mark.parametrize("role", ["root", "ica", "ra", "elector2"])
def test_load_detects_a_tampered_stored_certificate(fresh: World, role: str) -> None:
    Hierarchy.load(fresh.store, fresh.vault)  # untouched: loads
    forged = _tamper(fresh, role)
    with pytest.raises(HierarchyError, match=forged.hashed_id8.hex()):
        Hierarchy.load(fresh.store, fresh.vault)


def test_load_detects_a_record_whose_hashed_id8_is_not_its_certificate(fresh: World) -> None:
    record = fresh.hierarchy.record("aca")
    fresh.store._certs[("aca", record.hashed_id8)] = replace(
        record, certificate=fresh.hierarchy.certificate("eca").encoded
    )
    with pytest.raises(HierarchyError, match="hashes to"):
        Hierarchy.load(fresh.store, fresh.vault)


def test_load_detects_a_certificate_filed_under_the_wrong_role(fresh: World) -> None:
    # Given the LA1 certificate also filed as an (inactive) ECA certificate: same issuer, so it loads
    la1 = fresh.hierarchy.record("la1")
    fresh.store._certs[("eca", la1.hashed_id8)] = replace(la1, role="eca", active=False)
    Hierarchy.load(fresh.store, fresh.vault)
    # When the root certificate is filed as an ECA certificate
    root = fresh.hierarchy.record("root")
    fresh.store._certs[("eca", root.hashed_id8)] = replace(root, role="eca", active=False)
    # Then load refuses it: an ECA is issued by the ICA
    with pytest.raises(HierarchyError, match="issued by None, not ica"):
        Hierarchy.load(fresh.store, fresh.vault)


# --- secrecy and the CLI ---------------------------------------------------------------------------


def _secret_strings(vault: InMemoryKeyVault) -> list[str]:
    out: list[str] = []
    for name in vault.names():
        value = vault.get(name) or ""
        try:
            parsed = json.loads(value)
        except ValueError:
            out.append(value)  # the management key digest
            continue
        for pem in parsed.values():
            key = serialization.load_pem_private_key(pem.encode(), None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            scalar = key.private_numbers().private_value
            out += [f"{scalar:064x}", f"{scalar:064X}", str(scalar)]
            out += [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return out


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


def test_init_output_and_logs_never_contain_a_private_key(caplog: pytest.LogCaptureFixture) -> None:
    settings, store, vault, artifacts = load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts()
    out, err = io.StringIO(), io.StringIO()
    with caplog.at_level(logging.DEBUG):
        assert execute(None, settings, store, vault, artifacts, now=NOW, out=out, err=err) == 0
        assert execute("ra", settings, store, vault, artifacts, now=NOW + 5, out=out, err=err) == 0
        h = Hierarchy.load(store, vault)
        shown = repr(h) + repr(vault) + repr(h.signer("ra")) + repr(h.record("ra")) + str(h.__dict__)
    secrets = _secret_strings(vault)
    assert len(secrets) > 13 * 3
    everything = out.getvalue() + err.getvalue() + caplog.text + shown
    assert _leaks(everything, secrets) == []
    # The check can fail: a text that does hold a key is caught.
    assert _leaks(everything + secrets[0], secrets) == [secrets[0]]


def test_management_api_key_is_printed_once_and_only_its_digest_stored() -> None:
    settings, store, vault, artifacts = load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts()
    first, second = io.StringIO(), io.StringIO()
    assert execute(None, settings, store, vault, artifacts, now=NOW, out=first, err=io.StringIO()) == 0
    assert execute(None, settings, store, vault, artifacts, now=NOW, out=second, err=io.StringIO()) == 0
    key = first.getvalue().split("digest is stored in scms/management-api-key):\n  ", 1)[1].split()[0]
    assert len(key) == 64 and key not in second.getvalue() and "Management API key" not in second.getvalue()
    stored = vault.get(settings.management_api_key_secret) or ""
    assert key not in stored and stored == key_digest(key)
    check = ApiKeyCheck(lambda: stored)
    check(key)
    with pytest.raises(Forbidden):
        check(key[:-1] + ("A" if key[-1] != "A" else "B"))


def test_ensure_management_api_key_keeps_an_existing_key() -> None:
    settings, vault = load_settings({}), InMemoryKeyVault()
    key = ensure_management_api_key(settings, vault)
    assert key is not None and ensure_management_api_key(settings, vault) is None
    assert vault.get(settings.management_api_key_secret) == key_digest(key)


def test_cli_summary_lists_every_role_with_utc_validity_and_secret_name() -> None:
    out = io.StringIO()
    code = execute(
        None, load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(),
        now=NOW, out=out, err=io.StringIO(),
    )  # fmt: skip
    lines = out.getvalue().splitlines()
    assert code == 0 and "Created the missing CA roles." in lines
    table = lines[lines.index(next(line for line in lines if line.startswith("ROLE"))) + 1 :]
    assert [row.split()[0] for row in table] == list(ROLES)
    assert all(row.split()[2].endswith("Z") and row.split()[4].startswith("scms/ca/") for row in table)


def test_cli_refusal_exits_1_with_a_clear_message_and_changes_nothing() -> None:
    settings, store, vault, artifacts = load_settings({}), InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts()
    out, err = io.StringIO(), io.StringIO()
    assert execute("root", settings, store, vault, artifacts, now=NOW, out=out, err=err) == 1
    assert err.getvalue().startswith("scms init: root cannot be rotated") and out.getvalue() == ""
    assert store.snapshot()["certs"] == {} and vault.names() == []
