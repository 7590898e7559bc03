"""scms-ee opens authorization certificates: every variant x type end to end through the real RA and ACA use cases.

The world: a hierarchy, a device enrolled through the real ECA use case, its ``scms_ee.provision`` request
accepted by ``scms_ra.authorize``, expanded by ``scms_ra.expand.expand_chunk`` with PLVs of two simulated
LAs, issued by ``scms_aca.issue.issue_batch`` and zipped with ``scms_ra.batch_files.period_zip``. Each
positive test has its failing twin (wrong key, tampered certificate, repeated linkage value, wrong i).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest
from scms_aca.issue import IssuePolicy, issue_batch
from scms_ee import wire
from scms_ee.download import _check_distinct, open_period
from scms_ee.enroll import VerificationFailed
from scms_ee.provision import PreparedRequest, build_request, default_schedule, verify_ack
from scms_ee.pseudonyms import VARIANTS, DeviceKeys, Expected, Opener, Pseudonym
from scms_ra.authorize import authorize
from scms_ra.batch_files import period_zip
from scms_ra.expand import expand_chunk
from scms_service.config import Settings, load_settings
from scms_service.hierarchy import Hierarchy, init_hierarchy
from scms_service.iperiod import IPeriods
from scms_service.stores.aca_responses import FakeAcaResponseStore
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.auth_requests import FakeAuthRequestStore
from scms_service.stores.ca import InMemoryCaStore, InMemoryKeyVault
from scms_service.stores.devices import InMemoryDeviceStore
from scms_service.stores.eca_requests import FakeEcaRequestStore

from scms_codec.cert.certificate import Certificate
from scms_codec.crypto import ecqv, points
from scms_codec.secured.signer import Signer
from scms_codec.spdu.ra_aca import LinkageInfo, parse_aca_ra_cert_response
from scms_codec.spdu.ra_ee_ack import RaEeCertInfo
from scms_codec.spdu.scms_pdu import request_hash
from tests.unit.aca.conftest import resolver_for
from tests.unit.aca.simulator import Linkage
from tests.unit.ra.ee_auth import EnrolledEe

NOW = 700_000_000
COMBOS = [(v, t) for t in ("explicit", "implicit") for v in VARIANTS]
IDS = [f"{v}-{t}" for v, t in COMBOS]


@dataclass
class World:
    """A hierarchy and an enrolled device; ``issue`` runs one request through RA and ACA."""

    hierarchy: Hierarchy
    settings: Settings
    devices: InMemoryDeviceStore
    ee: EnrolledEe

    @property
    def aca(self) -> Certificate:
        return self.hierarchy.certificate("aca")

    def prepare(self, variant: Any, cert_type: Any, periods: int = 1, **kwargs: Any) -> PreparedRequest:
        return build_request(
            DeviceKeys.generate(variant), cert_type, ((32, None),),
            enrollment=Signer(self.ee.ee.enrollment, self.ee.certificate),
            ra_certificate=self.hierarchy.certificate("ra"),
            now=NOW, schedule=default_schedule(), periods=periods, **kwargs,
        )  # fmt: skip

    def issue(
        self,
        prepared: PreparedRequest,
        *,
        linkage: dict[tuple[int, int], LinkageInfo] | None = None,
        lines: Linkage | None = None,
    ) -> Issued:
        """Accept, expand, issue and zip ``prepared`` as the pipeline does (no server)."""
        ack, responses, zips, lines = self.run(prepared.spdu, linkage=linkage, lines=lines)
        verify_ack(prepared, ack, self.hierarchy.certificate("ra"))
        return Issued(prepared, responses, zips, lines)

    def run(
        self,
        spdu: bytes,
        *,
        linkage: dict[tuple[int, int], LinkageInfo] | None = None,
        lines: Linkage | None = None,
        now: int = NOW,
    ) -> tuple[bytes, dict[tuple[int, int], bytes], dict[int, bytes], Linkage]:
        """The RA and ACA side of one EeRaCertRequestSpdu: the ack, every response by (i, j), the zips by i."""
        periods = IPeriods.from_settings(self.settings)
        requests = FakeAuthRequestStore()
        ack = authorize(spdu, now=now, settings=self.settings, periods=periods, devices=self.devices,
                        requests=requests, ra=self.hierarchy)  # fmt: skip
        rh = request_hash(spdu)
        record = requests.get(rh)
        assert record is not None
        lines = lines or Linkage()
        pairs = [(i, j) for i in range(record.first_i, record.last_i + 1) for j in range(record.certs_per_period)]
        if linkage is None and record.variant in ("original", "unified", "compactUnified"):
            linkage = {(i, j): lines.info(i, j) for i, j in pairs}
        pooled = expand_chunk(record, record.first_i, record.last_i, linkage, ra=self.hierarchy.signer("ra"),
                              periods=periods, now=now)  # fmt: skip
        results = issue_batch(
            [p.spdu for p in pooled], aca=self.hierarchy.signer("aca"),
            ra_certificate_resolver=resolver_for(self.hierarchy),
            plv_keys=lines.aca_keyring(), now=now, policy=IssuePolicy(self.hierarchy.certificate("root").hashed_id3, 1),
            responses=FakeAcaResponseStore(),
        )  # fmt: skip
        responses: dict[tuple[int, int], bytes] = {}
        for p, result in zip(pooled, results, strict=True):
            assert result.response is not None, result.refusal
            responses[p.i, p.j] = parse_aca_ra_cert_response(result.response).content.response_spdu
        zips = {}
        for i in range(record.first_i, record.last_i + 1):
            info = RaEeCertInfo(now, i, rh, periods.next_download_time(i + 1))
            zips[i] = period_zip(rh, i, {j: d for (k, j), d in responses.items() if k == i}, info)
        return ack, responses, zips, lines

    def opener(self, prepared: PreparedRequest, **changes: Any) -> Opener:
        device = changes.pop("device", prepared.keys)
        expected = dataclasses.replace(prepared.expected, **changes)
        return Opener(device, expected, [self.aca])


@dataclass
class Issued:
    prepared: PreparedRequest
    responses: dict[tuple[int, int], bytes]
    zips: dict[int, bytes]
    lines: Linkage


@pytest.fixture(scope="module")
def world() -> World:
    settings = load_settings({})
    ca, _ = init_hierarchy(settings, InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts(), now=NOW - 8 * 86_400)
    devices = InMemoryDeviceStore()
    ee = EnrolledEe.enroll(hierarchy=ca, devices=devices, eca_requests=FakeEcaRequestStore(), settings=settings,
                           now=NOW - 5000)  # fmt: skip
    return World(ca, settings, devices, ee)


Batches = dict[tuple[str, str], Issued]


@pytest.fixture(scope="module")
def issued(world: World) -> Batches:
    """Two periods of every variant x type (one certificate for plain and private), issued once."""
    return {(v, t): world.issue(world.prepare(v, t, periods=2)) for v, t in COMBOS}


def _open_all(world: World, issued: Issued, opener: Opener | None = None) -> list[Pseudonym]:
    opener = opener or world.opener(issued.prepared)
    out: list[Pseudonym] = []
    for i, data in issued.zips.items():
        out.extend(open_period(opener, issued.prepared.request_hash, i, data).pseudonyms)
    return out


@pytest.mark.parametrize(("variant", "cert_type"), COMBOS, ids=IDS)
def test_every_variant_and_type_is_decrypted_verified_and_its_keys_rebuilt(
    world: World, issued: Batches, variant: str, cert_type: str
) -> None:
    # Given the batches the RA and ACA made for the device's request,
    batch = issued[variant, cert_type]
    # When the device opens every response,
    found = _open_all(world, batch)
    # Then every certificate is there, of the requested type, issued by the ACA, with a key that matches,
    butterfly = batch.prepared.keys.butterfly
    assert len(found) == (2 * 20 if butterfly else 1)
    for p in found:
        cert = Certificate.from_bytes(p.certificate)
        assert cert.is_implicit == (cert_type == "implicit") and cert.issuer_id == world.aca.hashed_id8
        assert points.base_mul(p.private_key) == points.from_public_key(cert.public_key(world.aca))
        assert cert.hashed_id8 == p.hashed_id8
        if butterfly:
            assert cert.tbs["id"][1]["iCert"] == p.i
            assert p.linkage_value == batch.lines.linkage_value(p.i, p.j)
    # and the linkage values of the request all differ.
    _check_distinct(tuple(found))


@pytest.mark.parametrize(("variant", "cert_type"), COMBOS, ids=IDS)
def test_another_devices_keys_open_nothing(world: World, issued: Batches, variant: Any, cert_type: str) -> None:
    # Twin of the above: the same batches with keys of another request of the same variant.
    batch = issued[variant, cert_type]
    stranger = world.opener(batch.prepared, device=DeviceKeys.generate(variant))
    (i, j), data = next(iter(batch.responses.items()))
    with pytest.raises(VerificationFailed, match=f"{i:x}_{j:x}: "):
        stranger.open(i, j, data)


@pytest.mark.parametrize("variant", ["obk", "ubk", "cubk"])
def test_a_response_opened_as_another_i_fails(world: World, issued: Batches, variant: str) -> None:
    batch = issued[variant, "explicit"]
    opener = world.opener(batch.prepared)
    (i, j), data = next(iter(batch.responses.items()))
    assert opener.open(i, j, data).i == i
    with pytest.raises(VerificationFailed):
        opener.open(i + 1, j, data)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@pytest.mark.parametrize("cert_type", ["explicit", "implicit"])
def test_a_tampered_plain_certificate_is_refused(world: World, issued: Batches, cert_type: str) -> None:
    batch = issued["plain", cert_type]
    opener = world.opener(batch.prepared)
    (i, j), data = next(iter(batch.responses.items()))
    opener.open(i, j, data)
    # The last octet of an explicit certificate is its signature's; of an implicit one the reconstruction value's x.
    # (The response ends with privateKeyInfo when there is one; plain explicit has none.)
    offset = len(data) - 1 if cert_type == "explicit" else len(data) - 33
    with pytest.raises(VerificationFailed):
        opener.open(i, j, _flip(data, offset))


@pytest.mark.parametrize("variant", ["obk", "private"])
def test_a_tampered_private_response_signature_is_refused(world: World, issued: Batches, variant: str) -> None:
    batch = issued[variant, "explicit"]
    opener = world.opener(batch.prepared)
    (i, j), data = next(iter(batch.responses.items()))
    opener.open(i, j, data)
    with pytest.raises(VerificationFailed, match="signature"):
        opener.open(i, j, _flip(data, len(data) - 1))


@pytest.mark.parametrize("variant", ["cubk", "ubk"])
def test_a_tampered_ciphertext_does_not_decrypt(world: World, issued: Batches, variant: str) -> None:
    batch = issued[variant, "implicit"]
    opener = world.opener(batch.prepared)
    (i, j), data = next(iter(batch.responses.items()))
    # cubk ends with the ccm ciphertext; a private response ends with its signature, so flip inside the payload.
    offset = len(data) - 1 if variant == "cubk" else len(data) - 100
    with pytest.raises(VerificationFailed):
        opener.open(i, j, _flip(data, offset))


def test_certificates_of_an_untrusted_aca_are_refused(world: World, issued: Batches) -> None:
    batch = issued["ubk", "explicit"]
    (i, j), data = next(iter(batch.responses.items()))
    world.opener(batch.prepared).open(i, j, data)
    untrusted = Opener(batch.prepared.keys, batch.prepared.expected, [world.hierarchy.certificate("eca")])
    with pytest.raises(VerificationFailed, match="not a trusted ACA"):
        untrusted.open(i, j, data)


def test_certificates_outside_the_devices_schedule_are_refused(world: World, issued: Batches) -> None:
    batch = issued["cubk", "explicit"]
    (i, j), data = next(iter(batch.responses.items()))
    world.opener(batch.prepared).open(i, j, data)
    shifted = dataclasses.replace(batch.prepared.expected.schedule, epoch=batch.prepared.expected.schedule.epoch + 3600)
    with pytest.raises(VerificationFailed, match="validity"):
        world.opener(batch.prepared, schedule=shifted).open(i, j, data)


def test_other_app_permissions_than_requested_are_refused(world: World, issued: Batches) -> None:
    batch = issued["obk", "implicit"]
    (i, j), data = next(iter(batch.responses.items()))
    with pytest.raises(VerificationFailed, match="appPermissions"):
        world.opener(batch.prepared, permissions=((33, None),)).open(i, j, data)


def test_a_repeated_linkage_value_is_refused(world: World) -> None:
    # Given an ACA fed the same PLVs for j = 0 and j = 1 (a broken LA or RA),
    prepared = world.prepare("ubk", "explicit")
    lines = Linkage()
    i = prepared.first_i
    linkage = {(i, j): lines.info(i, 0 if j == 1 else j) for j in range(20)}
    batch = world.issue(prepared, linkage=linkage, lines=lines)
    # each certificate opens on its own, but the request as a whole is refused.
    found = _open_all(world, batch)
    assert len(found) == 20
    with pytest.raises(VerificationFailed, match="linkage value"):
        _check_distinct(tuple(found))
    _check_distinct(tuple(p for p in found if p.j != 1))


STRICT = [("private", "implicit"), ("cubk", "explicit"), ("plain", "explicit")]


@pytest.mark.parametrize(("variant", "cert_type"), STRICT)
def test_the_strict_codec_path_opens_the_same_certificates(
    world: World, issued: Batches, variant: str, cert_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given responses the fast reader declines (as it would any unusual shape),
    batch = issued[variant, cert_type]
    (i, j), data = next(iter(batch.responses.items()))
    fast = world.opener(batch.prepared).open(i, j, data)
    monkeypatch.setattr(wire, "read_response", lambda _data: None)
    # Then the codec's strict parser gives the same certificate and key,
    strict = world.opener(batch.prepared).open(i, j, data)
    assert (strict.certificate, strict.private_key, strict.linkage_value) == (
        fast.certificate,
        fast.private_key,
        fast.linkage_value,
    )
    # and refuses the same tampering.
    with pytest.raises(VerificationFailed):
        world.opener(batch.prepared, device=DeviceKeys.generate(variant)).open(i, j, data)  # type: ignore[arg-type]


def test_an_implicit_key_check_uses_the_acas_key(world: World, issued: Batches) -> None:
    # The reconstructed d must satisfy d·G = e·P_U + Q_ACA; with another CA key in its place it does not.
    batch = issued["cubk", "implicit"]
    (i, j), data = next(iter(batch.responses.items()))
    pseudonym = world.opener(batch.prepared).open(i, j, data)
    cert = Certificate.from_bytes(pseudonym.certificate)
    other = world.hierarchy.certificate("eca")
    with pytest.raises(Exception):  # noqa: B017 - InvalidKey from the codec
        ecqv.check_key_pair(pseudonym.private_key, points.from_public_key(cert.public_key(other)))


def test_device_keys_hide_their_secrets_and_round_trip(world: World) -> None:
    keys = DeviceKeys.generate("obk")
    assert f"{keys.signing:x}" not in repr(keys) and "signing_expansion" not in repr(keys)
    assert DeviceKeys.from_json(keys.to_json()) == keys
    with pytest.raises(ValueError, match="encryption"):
        DeviceKeys("ubk", keys.signing, keys.encryption, keys.signing_expansion)


def test_expected_is_what_the_request_asked(world: World) -> None:
    prepared = world.prepare("obk", "explicit", periods=3)
    assert prepared.expected == Expected("obk", "explicit", ((32, None),), NOW, prepared.expected.request_end,
                                         default_schedule())  # fmt: skip
    assert prepared.last_i == prepared.first_i + 2
