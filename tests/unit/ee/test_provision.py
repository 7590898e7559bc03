"""scms-ee provision/download: requests the RA accepts, the ack checks, polling, and the whole command on a fake RA.

The fake RA answers over a ``Transport`` with the real use cases behind it (``test_pseudonyms.World``):
``POST`` runs authorize, expansion and ACA issuance at once and keeps the zips; ``GET`` checks the
``Ieee-1609.2.1-Authorization`` header (decrypts and reads it at the RA) and answers 404 with
``Retry-After`` a chosen number of times before serving each zip.
"""

from __future__ import annotations

import base64
import json
import stat
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from scms_ee.client import Client, HttpError, Response
from scms_ee.download import NotReady, _Fetcher, download, fetch_batch, retry_after_seconds
from scms_ee.enroll import VerificationFailed
from scms_ee.fetch_chain import certificate_role
from scms_ee.main import EXIT_OK, EXIT_REFUSED, main
from scms_ee.provision import (
    ProvisioningStore,
    build_request,
    default_schedule,
    provision,
    request_validity,
    verify_ack,
)
from scms_ee.pseudonyms import VARIANTS, DeviceKeys
from scms_ee.state import DeviceState, StateError
from scms_ee.trace import Trace
from scms_ra.batch_files import parse_batch_filename, period_zip, read_period_zip

from scms_codec import time32
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.signer import Signer
from scms_codec.spdu.download import parse_ee_ra_download_request
from scms_codec.spdu.ra_ee_ack import parse_ra_ee_cert_ack
from scms_codec.spdu.scms_pdu import request_hash
from tests.unit.ee.test_pseudonyms import COMBOS, IDS, NOW, World
from tests.unit.ee.test_pseudonyms import world as world  # the module-scoped fixture

RA_VARIANT = {"obk": "original", "ubk": "unified", "cubk": "compactUnified", "plain": "plain",
              "private": "encryptionKey"}  # fmt: skip


# --- the request and the ack ----------------------------------------------------------------------


@pytest.mark.parametrize(("variant", "cert_type"), COMBOS, ids=IDS)
def test_every_variant_and_type_is_a_request_the_ra_accepts(world: World, variant: Any, cert_type: str) -> None:
    # Given a request of the device for three periods,
    prepared = world.prepare(variant, cert_type, periods=3)
    # When the RA's use case takes it,
    ack_spdu, _, zips, _ = world.run(prepared.spdu)
    # Then the ack checks out, names the periods the device computed, and the RA recorded the variant asked.
    ack = verify_ack(prepared, ack_spdu, world.hierarchy.certificate("ra"))
    assert ack.request_hash == prepared.request_hash == request_hash(prepared.spdu)
    assert sorted(zips) == list(range(prepared.first_i, prepared.last_i + 1))
    assert len(zips) == (3 if prepared.keys.butterfly else 1)
    assert (ack.first_i is not None) == prepared.keys.butterfly


def test_an_ack_of_another_request_or_signer_is_refused(world: World) -> None:
    prepared = world.prepare("ubk", "implicit")
    other = world.prepare("ubk", "implicit")
    ack_spdu, *_ = world.run(other.spdu)
    verify_ack(other, ack_spdu, world.hierarchy.certificate("ra"))
    with pytest.raises(VerificationFailed, match="names request"):
        verify_ack(prepared, ack_spdu, world.hierarchy.certificate("ra"))
    with pytest.raises(VerificationFailed, match="not signed by the RA"):
        verify_ack(other, ack_spdu, world.hierarchy.certificate("eca"))


def test_an_ack_whose_first_i_disagrees_with_the_devices_schedule_is_refused(world: World) -> None:
    # The device assumes a schedule one period off the RA's: its first i differs, so the later checks would too.
    shifted = default_schedule(epoch=default_schedule().epoch + 604_800)
    prepared = build_request(
        DeviceKeys.generate("cubk"), "explicit", ((32, None),), enrollment=Signer(world.ee.ee.enrollment,
        world.ee.certificate), ra_certificate=world.hierarchy.certificate("ra"), now=NOW, schedule=shifted,
    )  # fmt: skip
    ack_spdu, *_ = world.run(prepared.spdu)
    assert parse_ra_ee_cert_ack(ack_spdu).content.first_i == prepared.first_i + 1
    with pytest.raises(VerificationFailed, match="schedule"):
        verify_ack(prepared, ack_spdu, world.hierarchy.certificate("ra"))


@pytest.mark.parametrize("periods", [1, 2, 20, 156])
@pytest.mark.parametrize("offset", [0, 1, 3599, 3600, 604_799])
def test_the_requested_validity_covers_exactly_n_periods(periods: int, offset: int) -> None:
    schedule = default_schedule()
    start = schedule.start(600) + offset
    validity = request_validity(schedule, start, periods)
    assert validity["start"] == start
    assert schedule.first_i_for(start) == 600
    assert schedule.last_i_for(time32.validity_end(validity)) == 600 + periods - 1


def test_no_validity_for_no_period() -> None:
    with pytest.raises(ValueError, match="periods"):
        request_validity(default_schedule(), NOW, 0)


# --- polling ----------------------------------------------------------------------------------------


@dataclass
class Clock:
    """A fake monotonic clock that ``sleep`` advances; records every sleep."""

    t: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@dataclass
class ScriptedRa:
    """Answers GETs from a script of (status, headers, body); records the requests."""

    script: list[tuple[int, dict[str, str], bytes]]
    calls: list[tuple[str, str, Mapping[str, str]]] = field(default_factory=list)

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Response:
        self.calls.append((method, url, headers))
        status, answer_headers, data = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return Response(status, {k.lower(): v for k, v in answer_headers.items()}, data)


def _fetcher(world: World, transport: ScriptedRa, clock: Clock) -> _Fetcher:
    return _Fetcher(
        Client("http://ra", transport=transport), bytes(8), Signer(world.ee.ee.enrollment, world.ee.certificate),
        world.hierarchy.certificate("ra"), Trace(None), lambda: NOW, clock, clock.sleep, 0.05,
    )  # fmt: skip


NOT_READY_NOW = (404, {"Retry-After": "0", "Scms-Next-Dl-Time": str(NOW)}, b"not generated yet")


def test_a_batch_being_generated_is_polled_every_50_ms_until_it_comes(world: World) -> None:
    # Given an RA that says "not yet, retry now" twice, then serves the zip,
    clock = Clock()
    ra = ScriptedRa([NOT_READY_NOW, NOT_READY_NOW, (200, {}, b"zip")])
    # When the device fetches,
    data, attempts = fetch_batch(_fetcher(world, ra, clock), 5, deadline=10.0)
    # Then it got the zip on the third GET after two 50 ms waits, each GET with a fresh signed request for the file.
    assert (data, attempts, clock.sleeps) == (b"zip", 3, [0.05, 0.05])
    keyring = Keyring()
    keyring.add_certificate(world.hierarchy.certificate("ra"), world.hierarchy.encryption_private_key("ra"))
    for method, url, headers in ra.calls:
        name = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["filename"][0]
        opened = parse_ee_ra_download_request(base64.b64decode(headers["Ieee-1609.2.1-Authorization"]), keyring)
        assert method == "GET" and opened.content.filename == name and parse_batch_filename(name).i == 5
        assert opened.signer == world.ee.certificate


def test_retry_after_is_honoured_when_it_fits_the_wait(world: World) -> None:
    clock = Clock()
    ra = ScriptedRa([(404, {"Retry-After": "3"}, b""), (200, {}, b"zip")])
    assert fetch_batch(_fetcher(world, ra, clock), 5, deadline=10.0) == (b"zip", 2)
    assert clock.sleeps == [3.0]


def test_a_batch_that_never_comes_gives_up_at_the_deadline(world: World) -> None:
    # Twin: the RA says "next week" every time; the device polls what is left of its wait, then stops.
    clock = Clock()
    next_week = formatdate(time32.to_unix(NOW) + 604_800, usegmt=True)
    ra = ScriptedRa([(404, {"Retry-After": next_week}, b"")])
    with pytest.raises(NotReady, match="not generated"):
        fetch_batch(_fetcher(world, ra, clock), 5, deadline=1.0)
    assert clock.t <= 1.0 and len(ra.calls) == len(clock.sleeps) + 1
    assert 19 <= len(clock.sleeps) <= 20 and set(clock.sleeps) == {0.05}


@pytest.mark.parametrize(("status", "headers"), [(404, {}), (410, {}), (400, {"Ieee-1609.2.1-Error": "400-43"})])
def test_a_refusal_or_a_batch_that_does_not_exist_stops_at_once(
    world: World, status: int, headers: dict[str, str]
) -> None:
    clock = Clock()
    ra = ScriptedRa([(status, headers, b"provisioning failed: ProvisioningStalled")])
    with pytest.raises(HttpError) as info:
        fetch_batch(_fetcher(world, ra, clock), 5, deadline=10.0)
    assert info.value.status == status and info.value.error_code == headers.get("Ieee-1609.2.1-Error")
    assert clock.sleeps == [] and len(ra.calls) == 1


def test_retry_after_reads_seconds_dates_and_the_next_download_time() -> None:
    now = float(time32.to_unix(NOW))
    assert retry_after_seconds({"retry-after": "7"}, now_unix=now) == 7.0
    assert retry_after_seconds({"retry-after": formatdate(now + 60, usegmt=True)}, now_unix=now) == 60.0
    assert retry_after_seconds({"scms-next-dl-time": str(NOW + 5)}, now_unix=now) == 5.0
    assert retry_after_seconds({"retry-after": formatdate(now - 60, usegmt=True)}, now_unix=now) == 0.0
    assert retry_after_seconds({}, now_unix=now) is None
    assert retry_after_seconds({"retry-after": "soon"}, now_unix=now) is None


# --- the whole command on a fake RA ----------------------------------------------------------------


@dataclass
class FakeRa:
    """POST runs the RA and ACA use cases at once; GET serves each zip after ``not_ready`` 404s."""

    world: World
    not_ready: int = 1
    mutate: Any = None  # (i, zip) -> zip
    now: int = NOW
    zips: dict[int, bytes] = field(default_factory=dict)
    gets: dict[str, int] = field(default_factory=dict)

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Response:
        path = urllib.parse.urlsplit(url)
        if method == "POST" and path.path == "/v3/authorization-certificate":
            assert body is not None
            ack, _, self.zips, _ = self.world.run(body, now=self.now)
            return Response(202, {}, ack)
        if method == "GET" and path.path == "/v3/authorization-certificate":
            keyring = Keyring()
            keyring.add_certificate(self.world.hierarchy.certificate("ra"),
                                    self.world.hierarchy.encryption_private_key("ra"))  # fmt: skip
            header = base64.b64decode(headers["Ieee-1609.2.1-Authorization"])
            name = parse_ee_ra_download_request(header, keyring).content.filename
            self.gets[name] = self.gets.get(name, 0) + 1
            if self.gets[name] <= self.not_ready:
                return Response(404, {"retry-after": "0"}, b"")
            i = parse_batch_filename(name).i
            data = self.zips[i] if self.mutate is None else self.mutate(i, self.zips[i])
            return Response(200, {"content-type": "application/zip"}, data)
        return Response(404, {}, b"no route")


def device_state(world: World, root: Path) -> DeviceState:
    """A state directory as init, register, enroll and fetch-chain leave it (no HTTP needed)."""
    state = DeviceState(root)
    state.ensure()
    ca = world.hierarchy
    state.save_canonical_key(ec.generate_private_key(ec.SECP256R1()))
    state.save_enrollment_key(world.ee.ee.enrollment)
    chain = (ca.certificate("eca"), ca.certificate("ica"), ca.certificate("root"))
    state.save_enrollment(world.ee.certificate, chain)
    state.save_root(ca.certificate("root"))
    others = [ca.certificate(role) for role in ("ica", "eca", "aca", "ra")]
    (root / "ccf").mkdir(mode=0o700)
    for cert in others:
        (root / "ccf" / f"{cert.hashed_id8.hex()}.oer").write_bytes(cert.encoded)
    state.update_json(
        permissions=[{"psid": 35, "ssp": "8c0002"}, {"psid": 32}],
        ccf={"certificates": [{"hashed_id8": c.hashed_id8.hex(), "role": certificate_role(c)} for c in others]},
    )
    return state


@pytest.mark.parametrize(("variant", "cert_type", "workers"), [("cubk", "implicit", 2), ("obk", "explicit", 1),
                                                               ("private", "explicit", 1)])  # fmt: skip
def test_provision_then_download_verifies_and_saves_every_certificate(
    world: World, tmp_path: Path, variant: Any, cert_type: Any, workers: int
) -> None:
    # Given an enrolled device and an RA that makes each batch wait one poll,
    state = device_state(world, tmp_path / "obu")
    ra = FakeRa(world)
    client = Client("http://scms", transport=ra)
    trace = Trace(tmp_path / "trace")
    # When it provisions three periods and downloads them,
    record = provision(state, client, trace, variant=variant, cert_type=cert_type, now=NOW,
                       schedule=default_schedule(), periods=3)  # fmt: skip
    assert record.ack is not None and record.ack.request_hash == record.request_hash
    clock = Clock()
    result = download(state, client, trace, wait=5.0, workers=workers, now=lambda: NOW, clock=clock,
                      sleep=clock.sleep)  # fmt: skip
    # Then every certificate was verified and saved with its key (0600), each batch after one poll,
    butterfly = variant in ("obk", "ubk", "cubk")
    assert result.verified == (60 if butterfly else 1) and result.workers == workers
    assert result.downloads == 2 * len(result.periods) and clock.sleeps == [0.05] * len(result.periods)
    directory = tmp_path / "obu" / "pseudonyms" / record.request_hash.hex().upper() / f"{record.first_i:x}"
    keys_file = directory / "keys.json"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    first = result.pseudonyms[0]
    assert json.loads(keys_file.read_text())[f"{first.j:x}"] == f"{first.private_key:064x}"
    assert (directory / f"{first.j:x}.oer").read_bytes() == first.certificate
    key_file = ProvisioningStore(state).directory(record.request_hash) / "keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # and the trace holds every message and certificate, signers named.
    index = json.loads((tmp_path / "trace" / "trace.json").read_text())["files"]
    kinds = [e["type"] for e in index if e["kind"] == "message"]
    assert kinds[:2] == ["EeRaCertRequestSpdu", "RaEeCertAckSpdu"]
    assert kinds.count("EeRaDownloadRequestSpdu") == result.downloads
    assert sum(1 for e in index if e.get("role") == "pseudonym") == result.verified
    assert f"{first.private_key:064x}" not in (tmp_path / "trace" / "trace.json").read_text()


def test_the_first_batch_is_polled_alone_then_the_others_come_concurrently(world: World, tmp_path: Path) -> None:
    # Given an RA that makes every batch wait two polls,
    state = device_state(world, tmp_path / "obu")
    ra = FakeRa(world, not_ready=2)
    order: list[str] = []

    def recording(method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float) -> Response:
        order.append(url)
        return ra(method, url, headers, body, timeout)

    client = Client("http://scms", transport=recording)
    record = provision(state, client, Trace(None), variant="ubk", cert_type="implicit", now=NOW,
                       schedule=default_schedule(), periods=5)  # fmt: skip
    clock = Clock()
    # When it downloads with four concurrent fetchers,
    result = download(state, client, Trace(None), wait=5.0, workers=1, fetchers=4, now=lambda: NOW, clock=clock,
                      sleep=clock.sleep)  # fmt: skip
    # Then all 100 certificates verify, and the first period's three GETs came before any other period's.
    assert result.verified == 100 and result.downloads == 15
    first = [n for n, url in enumerate(order) if f"_{record.first_i:x}.zip" in url]
    assert first == [1, 2, 3]  # order[0] is the POST


def test_a_tampered_batch_fails_the_download_and_saves_nothing(world: World, tmp_path: Path) -> None:
    # Twin of the above: one response of the second period has a flipped bit.
    state = device_state(world, tmp_path / "obu")

    def flip_last(i: int, data: bytes) -> bytes:
        return data if i == min(ra.zips) else data[:-200] + bytes([data[-200] ^ 1]) + data[-199:]

    ra = FakeRa(world, not_ready=0, mutate=flip_last)
    client = Client("http://scms", transport=ra)
    record = provision(state, client, Trace(None), variant="ubk", cert_type="explicit", now=NOW,
                       schedule=default_schedule(), periods=2)  # fmt: skip
    with pytest.raises(VerificationFailed):
        download(state, client, Trace(None), wait=1.0, workers=2, now=lambda: NOW)  # the failure crosses the pool
    assert not (tmp_path / "obu" / "pseudonyms" / record.request_hash.hex().upper()).exists()


class Lines:
    """A text sink for ``main(out=...)``."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def _cli(state: DeviceState, ra: FakeRa, *args: str) -> tuple[int, str]:
    out = Lines()
    code = main(["--url", "http://scms", "--state", str(state.root), *args], transport=ra, out=out)  # type: ignore[arg-type]
    return code, out.text


def test_the_cli_provisions_downloads_and_prints_a_summary(world: World, tmp_path: Path) -> None:
    # The CLI runs on the real clock, so the fake RA does too.
    state = device_state(world, tmp_path / "obu")
    ra = FakeRa(world, not_ready=0, now=time32.now())
    code, out = _cli(
        state, ra, "provision", "--variant", "ubk", "--cert", "implicit", "--periods", "2", "--workers", "1"
    )
    assert code == EXIT_OK, out
    assert "acked, firstI" in out and "2 period(s), 20 certificate(s) per period: 40 verified" in out
    # Downloading again (by request hash) verifies the same certificates.
    name = ProvisioningStore(state).latest().hex().upper()
    code, again = _cli(state, ra, "download", "--request", name, "--workers", "1")
    assert code == EXIT_OK and "40 verified" in again
    code, shown = _cli(state, ra, "show")
    assert code == EXIT_OK and f"request {name}: ubk implicit" in shown and "40 certificate(s) in 2 period(s)" in shown


def test_the_cli_reports_a_batch_that_does_not_verify(world: World, tmp_path: Path, capsys: Any) -> None:
    # Twin: the RA serves another device's batch under this request's name.
    state = device_state(world, tmp_path / "obu")
    ra = FakeRa(world, not_ready=0, now=time32.now())
    code, _ = _cli(state, ra, "provision", "--variant", "plain", "--cert", "explicit", "--no-download")
    assert code == EXIT_OK
    stranger = device_state(world, tmp_path / "other")
    _cli(stranger, ra, "provision", "--variant", "plain", "--cert", "explicit", "--no-download")
    ra.zips = {
        ProvisioningStore(state).load(ProvisioningStore(state).latest())[0].first_i: next(iter(ra.zips.values()))
    }
    code, _ = _cli(state, ra, "download", "--workers", "1")
    assert code == EXIT_REFUSED
    assert "verification failed" in capsys.readouterr().err


def test_a_period_whose_certificates_were_all_refused_is_reported_not_hidden(world: World, tmp_path: Path) -> None:
    # Given an RA whose ACA refused every certificate of the first period (e.g. 400-35: the period starts
    # before the ACA certificate), so that batch holds only its .info,
    state = device_state(world, tmp_path / "obu")

    def empty_first(i: int, data: bytes) -> bytes:
        if i != min(ra.zips):
            return data
        info = read_period_zip(data).info
        return period_zip(info.request_hash, i, {}, info)

    ra = FakeRa(world, not_ready=0, mutate=empty_first, now=time32.now())
    code, out = _cli(
        state, ra, "provision", "--variant", "obk", "--cert", "explicit", "--periods", "2", "--workers", "1"
    )
    # Then the other period is verified and saved, the summary shows 0 and 20, and the command fails.
    assert code == EXIT_REFUSED
    assert "0/20 certificate(s) per period: 20 verified" in out
    record, _ = ProvisioningStore(state).load(ProvisioningStore(state).latest())
    saved = tmp_path / "obu" / "pseudonyms" / record.request_hash.hex().upper()
    assert len(list((saved / f"{record.last_i:x}").glob("*.oer"))) == 20
    assert not list((saved / f"{record.first_i:x}").glob("*.oer"))


def test_a_corrupt_key_file_is_reported_without_its_content(world: World, tmp_path: Path) -> None:
    state = device_state(world, tmp_path / "obu")
    ra = FakeRa(world, now=time32.now())
    assert _cli(state, ra, "provision", "--variant", "ubk", "--cert", "explicit", "--no-download")[0] == EXIT_OK
    store = ProvisioningStore(state)
    key_file = store.directory(store.latest()) / "keys.json"
    secret = json.loads(key_file.read_text())["signing"]
    store.load(store.latest())
    key_file.write_text(json.dumps({"variant": "ubk", "signing": secret + "zz", "signing_expansion": "00" * 16}))
    with pytest.raises(StateError) as info:
        store.load(store.latest())
    assert secret not in str(info.value) and info.value.__cause__ is None and info.value.__suppress_context__


def test_download_of_a_device_without_requests_is_a_local_error(world: World, tmp_path: Path) -> None:
    state = device_state(world, tmp_path / "obu")
    assert _cli(state, FakeRa(world), "download")[0] == 2


def test_variants_are_the_five_of_the_standard() -> None:
    assert set(VARIANTS) == set(RA_VARIANT)
