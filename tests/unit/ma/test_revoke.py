"""revoke: certificate → ACA → RA → LA1/LA2 → CRL entries → CRLG, once per target; refusals and failures."""

from __future__ import annotations

import pytest
from scms_ma.authorities import AuthorityFailed, AuthorityUnavailable, TargetNotFound
from scms_ma.revoke import RevocationRequest, parse_revocation, revocation_id, revoke
from scms_service.config import Settings
from scms_service.errors import BadRequest, NotFound
from scms_service.iperiod import IPeriods
from scms_service.stores.ma_records import FakeMaRecordStore, ReportRecord, RevocationRecord

from scms_codec.crypto.hashing import hashed_id10
from scms_codec.secured.signer import Signer
from tests.unit.ma.conftest import NOW, Parties, pseudonym
from tests.unit.ma.fakes import ENROLLMENT_HASH, FakeAuthorities, device


def cert_hex(signer: Signer) -> str:
    assert signer.certificate is not None
    return signer.certificate.encoded.hex()


def run(
    request: RevocationRequest, fake: FakeAuthorities, records: FakeMaRecordStore, settings: Settings
) -> tuple[RevocationRecord, bool]:
    return revoke(
        request, now=NOW, periods=IPeriods.from_settings(settings), records=records, authorities=fake.authorities()
    )


def issued(parties: Parties, fake: FakeAuthorities, signer: Signer, chains: int = 1) -> None:
    assert signer.certificate is not None
    fake.issued[signer.certificate.hashed_id8.hex()] = "11" * 8
    fake.devices["acaRequest:" + "11" * 8] = device(chains=chains)


def test_pseudonym_revocation_goes_aca_ra_las_crl_store_crlg(parties: Parties, settings: Settings) -> None:
    # Given a butterfly certificate the ACA issued for a request of a device with two chains
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    issued(parties, fake, parties.suspect, chains=2)
    request = RevocationRequest("certificate", cert_hex(parties.suspect), "sent false positions")
    # When the operator revokes it
    record, created = run(request, fake, records, settings)
    # Then the ACA, the RA, both LAs per chain and the CRLG were asked, in that order
    assert created
    assert fake.names() == ["aca", "ra", "la1", "la2", "la1", "la2", "crlg"]
    i_now = IPeriods.from_settings(settings).i_at(NOW)
    assert all(event["i"] == i_now for name, event in fake.calls if name.startswith("la"))
    assert fake.calls[1][1] == {
        "task": "revoke",
        "by": "acaRequest",
        "value": "11" * 8,
        "cause": "sent false positions",
        "correlationId": record.revocation_id,
    }
    # And a linked entry per chain and a hash entry per enrollment certificate are stored
    assert len(fake.linked) == 2 and {e.i_seed for e in fake.linked.values()} == {i_now}
    assert {e.la1_id + e.la2_id for e in fake.linked.values()} == {b"\x00\x01\x00\x02"}
    assert list(fake.hashed) == [bytes.fromhex(ENROLLMENT_HASH)[-10:]]
    assert record.linked_entries == 2 and record.hash_entries == 1
    assert records.revocations[record.revocation_id] is record


def test_same_target_again_answers_the_stored_revocation_without_calls(parties: Parties, settings: Settings) -> None:
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    issued(parties, fake, parties.suspect)
    request = RevocationRequest("certificate", cert_hex(parties.suspect), "x")
    first, _ = run(request, fake, records, settings)
    calls = len(fake.calls)
    again, created = run(
        RevocationRequest("certificate", cert_hex(parties.suspect), "another cause"), fake, records, settings
    )
    assert not created and again == first and len(fake.calls) == calls


def test_half_done_revocation_completes_when_sent_again(parties: Parties, settings: Settings) -> None:
    # Given a CRLG that fails the first time (after the RA revoked and the entries were written)
    fake, records = FakeAuthorities(fail={"crlg": "TransientStoreError"}), FakeMaRecordStore()
    issued(parties, fake, parties.suspect)
    request = RevocationRequest("certificate", cert_hex(parties.suspect), "x")
    with pytest.raises(AuthorityUnavailable):
        run(request, fake, records, settings)
    assert records.revocations == {}
    # When it is sent again, Then it completes with the same entries (the RA says alreadyRevoked)
    fake.fail.clear()
    record, created = run(request, fake, records, settings)
    assert created and record.already_revoked and record.linked_entries == 1
    assert len(fake.linked) == 1 and len(fake.hashed) == 1


def test_butterfly_certificate_the_aca_never_issued_is_404(parties: Parties, settings: Settings) -> None:
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    with pytest.raises(TargetNotFound):
        run(RevocationRequest("certificate", cert_hex(parties.suspect), "x"), fake, records, settings)
    assert fake.names() == ["aca"] and records.revocations == {} and fake.linked == {}


def test_non_butterfly_certificate_gets_a_hash_entry_of_its_own(parties: Parties, settings: Settings) -> None:
    # Given a certificate without linkage data that neither the ACA nor the RA knows
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    plain = pseudonym(parties.hierarchy.signer("aca"), linkage=False)
    record, created = run(RevocationRequest("certificate", cert_hex(plain), "x"), fake, records, settings)
    # Then it alone is on the hash CRL (the RA was asked by it as an enrollment certificate)
    assert plain.certificate is not None
    assert list(fake.hashed) == [hashed_id10(plain.certificate.encoded)]
    assert fake.hashed[hashed_id10(plain.certificate.encoded)].expiry == plain.certificate.validity[1]
    assert created and record.hash_entries == 1 and record.linked_entries == 0
    assert fake.calls[1][1]["by"] == "enrollmentCert"


def test_non_butterfly_certificate_the_aca_issued_also_revokes_its_device(parties: Parties, settings: Settings) -> None:
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    plain = pseudonym(parties.hierarchy.signer("aca"), linkage=False)
    issued(parties, fake, plain)
    record, _ = run(RevocationRequest("certificate", cert_hex(plain), "x"), fake, records, settings)
    assert record.hash_entries == 2 and record.linked_entries == 1


@pytest.mark.parametrize("kind", ["enrollmentCert", "device"])
def test_enrollment_certificate_or_device_goes_straight_to_the_ra(kind: str, settings: Settings) -> None:
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    value = "22" * 8 if kind == "enrollmentCert" else "dev-1"
    fake.devices[f"{kind}:{value}"] = device()
    record, created = run(RevocationRequest(kind, value, "x"), fake, records, settings)
    assert created and fake.names() == ["ra", "la1", "la2", "crlg"]
    assert record.target_kind == kind and record.target_value == value
    # Twin: an unknown one is 404 and nothing is stored
    with pytest.raises(TargetNotFound):
        run(RevocationRequest(kind, "33" * 8 if kind == "enrollmentCert" else "dev-2", "x"), fake, records, settings)
    assert len(records.revocations) == 1


def test_report_target_revokes_its_suspect_and_marks_it_revoked(parties: Parties, settings: Settings) -> None:
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    issued(parties, fake, parties.suspect)
    assert parties.suspect.certificate is not None
    records.put_report(
        ReportRecord("aa" * 8, NOW, parties.suspect.certificate.encoded, "00" * 8, b"e", 32, "11" * 8, "bb" * 8)
    )
    record, _ = run(RevocationRequest("report", "aa" * 8, "x"), fake, records, settings)
    assert records.reports["aa" * 8].status == "REVOKED"
    assert records.reports["aa" * 8].revocation_id == record.revocation_id
    with pytest.raises(NotFound):
        run(RevocationRequest("report", "cc" * 8, "x"), fake, records, settings)


def test_las_answering_later_origin_give_entries_at_that_origin(parties: Parties, settings: Settings) -> None:
    fake, records = FakeAuthorities(origin=IPeriods.from_settings(settings).i_at(NOW) + 3), FakeMaRecordStore()
    issued(parties, fake, parties.suspect)
    run(RevocationRequest("certificate", cert_hex(parties.suspect), "x"), fake, records, settings)
    assert [e.i_seed for e in fake.linked.values()] == [fake.origin]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("TransientStoreError", AuthorityUnavailable),
        ("InvalidTaskInput", AuthorityFailed),
        ("SeedMismatch", AuthorityFailed),
    ],
)
def test_la_failure_stores_nothing(parties: Parties, settings: Settings, error: str, expected: type[Exception]) -> None:
    fake, records = FakeAuthorities(fail={"la2": error}), FakeMaRecordStore()
    issued(parties, fake, parties.suspect)
    with pytest.raises(expected):
        run(RevocationRequest("certificate", cert_hex(parties.suspect), "x"), fake, records, settings)
    assert records.revocations == {} and fake.linked == {}


@pytest.mark.parametrize("la", ["la1", "la2"])
def test_a_chain_an_la_never_saw_is_skipped_and_the_rest_revoked(parties: Parties, settings: Settings, la: str) -> None:
    # UnknownChain: the revocation came between the RA's plan and the LAs' first call, so no
    # certificate carries the chain; the device is still revoked and its enrollment hashes listed.
    fake, records = FakeAuthorities(fail={la: "UnknownChain"}), FakeMaRecordStore()
    issued(parties, fake, parties.suspect)
    record, created = run(RevocationRequest("certificate", cert_hex(parties.suspect), "x"), fake, records, settings)
    assert created and fake.linked == {} and record.linked_entries == 0
    assert len(fake.hashed) == record.hash_entries > 0
    # Twin: the same revocation with both LAs knowing the chain gives linked entries.
    fake2, records2 = FakeAuthorities(), FakeMaRecordStore()
    issued(parties, fake2, parties.suspect)
    record2, _ = run(RevocationRequest("certificate", cert_hex(parties.suspect), "x"), fake2, records2, settings)
    assert record2.linked_entries == len(fake2.linked) > 0


def test_answers_outside_the_contract_are_500(parties: Parties, settings: Settings) -> None:
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    issued(parties, fake, parties.suspect)
    fake.devices["acaRequest:" + "11" * 8]["chains"] = [{"chainId": "not hex", "iFirst": 1, "iLast": 2, "jMax": 3}]
    with pytest.raises(AuthorityFailed):
        run(RevocationRequest("certificate", cert_hex(parties.suspect), "x"), fake, records, settings)


def test_parse_revocation_takes_exactly_one_target_and_a_cause(parties: Parties) -> None:
    good = parse_revocation({"device": "dev-1", "cause": "c"})
    assert good == RevocationRequest("device", "dev-1", "c")
    assert parse_revocation({"enrollmentCert": "AB" * 8, "cause": "c"}).value == "ab" * 8
    assert parse_revocation({"certificate": cert_hex(parties.suspect), "cause": "c"}).kind == "certificate"
    for bad in (
        {"cause": "c"},
        {"device": "d", "report": "aa" * 8, "cause": "c"},
        {"device": "d"},
        {"device": "d", "cause": ""},
        {"device": "d", "cause": "x" * 201},
        {"device": "d", "cause": "c", "extra": 1},
        {"device": 5, "cause": "c"},
        {"device": "bad id!", "cause": "c"},
        {"report": "zz" * 8, "cause": "c"},
        {"enrollmentCert": "ab" * 7, "cause": "c"},
        {"certificate": "0011", "cause": "c"},
        {"certificate": cert_hex(parties.suspect) + "00", "cause": "c"},
        {"certificate": "xyz", "cause": "c"},
    ):
        with pytest.raises(BadRequest):
            parse_revocation(bad)


def test_revocation_id_names_the_target_not_the_cause() -> None:
    assert revocation_id("device", "d") == revocation_id("device", "d")
    assert revocation_id("device", "d") != revocation_id("report", "d")
    assert len(revocation_id("device", "d")) == 16


# --- A device's non-butterfly certificates (hash CRL) through the RA's ACA request handles ---

PLAIN_HID10 = "ab" * 10


def test_a_device_revoked_by_id_gets_its_non_butterfly_certificates_hash_entries_from_the_aca(
    settings: Settings,
) -> None:
    # Given a device whose RA answer names three ACA requests of non-butterfly requests: one the ACA
    # answered with a non-butterfly certificate, one it answered with a butterfly one, one unknown,
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    fake.devices["device:obu-1"] = device(aca_requests=["a1" * 8, "b1" * 8, "c1" * 8])
    fake.hash_crl["a1" * 8] = (PLAIN_HID10, 800_000_000)
    # When the operator revokes the device by its id,
    record, _ = run(RevocationRequest("device", "obu-1", "stolen"), fake, records, settings)
    # Then the ACA was asked for those requests' entries, once, after the RA and the LAs,
    aca_calls = [event for name, event in fake.calls if name == "aca"]
    assert fake.names() == ["ra", "la1", "la2", "aca", "crlg"]
    assert aca_calls == [{"acaRequests": ["a1" * 8, "b1" * 8, "c1" * 8], "correlationId": record.revocation_id}]
    # and the known non-butterfly certificate is on the hash CRL beside the enrollment certificate;
    assert set(fake.hashed) == {bytes.fromhex(PLAIN_HID10), bytes.fromhex(ENROLLMENT_HASH)[-10:]}
    entry = fake.hashed[bytes.fromhex(PLAIN_HID10)]
    assert (entry.expiry, entry.revocation_id) == (800_000_000, record.revocation_id)
    assert record.hash_entries == 2


def test_a_device_without_non_butterfly_requests_asks_the_aca_nothing(settings: Settings) -> None:
    # Twin: no ACA request handles from the RA → no ACA call, only the enrollment certificate's entry.
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    fake.devices["device:obu-1"] = device()
    fake.hash_crl["a1" * 8] = (PLAIN_HID10, 800_000_000)
    record, _ = run(RevocationRequest("device", "obu-1", "stolen"), fake, records, settings)
    assert "aca" not in fake.names() and list(fake.hashed) == [bytes.fromhex(ENROLLMENT_HASH)[-10:]]
    assert record.hash_entries == 1


def test_many_aca_requests_are_asked_a_hundred_at_a_time(settings: Settings) -> None:
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    handles = [f"{n:016x}" for n in range(1, 251)]
    fake.devices["device:obu-1"] = device(chains=0, aca_requests=handles)
    fake.hash_crl.update({h: (h + "0000", 800_000_000) for h in handles})
    record, _ = run(RevocationRequest("device", "obu-1", "stolen"), fake, records, settings)
    asked = [event["acaRequests"] for name, event in fake.calls if name == "aca"]
    assert [len(a) for a in asked] == [100, 100, 50] and [h for a in asked for h in a] == handles
    assert record.hash_entries == 251  # + the enrollment certificate


@pytest.mark.parametrize(
    "entry",
    [{"acaRequest": "a1" * 8, "hashedId10": "ab" * 8, "expiry": 1},
     {"acaRequest": "ff" * 8, "hashedId10": PLAIN_HID10, "expiry": 1},
     {"acaRequest": "a1" * 8, "hashedId10": PLAIN_HID10, "expiry": -1},
     {"acaRequest": "a1" * 8, "hashedId10": PLAIN_HID10}],
    ids=["short-hash", "not-asked", "negative-expiry", "no-expiry"],
)  # fmt: skip
def test_an_aca_answer_outside_the_contract_fails_the_revocation_unrecorded(
    settings: Settings, entry: dict[str, object]
) -> None:
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    fake.devices["device:obu-1"] = device(aca_requests=["a1" * 8])
    real = fake.aca

    def broken(event: dict[str, object]) -> object:
        return {"found": [entry], "missing": []} if "acaRequests" in event else real(event)

    fake.aca = broken  # type: ignore[method-assign]
    with pytest.raises(AuthorityFailed):
        run(RevocationRequest("device", "obu-1", "stolen"), fake, records, settings)
    assert records.revocations == {} and fake.hashed == {}


def test_an_ra_answer_without_aca_requests_is_outside_its_contract(settings: Settings) -> None:
    # The RA's contract has acaRequests (maybe empty): an answer without it, or with a bad handle, fails.
    for bad in (None, ["zz" * 8]):
        fake, records = FakeAuthorities(), FakeMaRecordStore()
        fake.devices["device:obu-1"] = {**device(), "acaRequests": bad}
        real = fake.ra

        def without(event: dict[str, object], real: object = real) -> object:
            answer = dict(real(event))  # type: ignore[operator]
            if answer["acaRequests"] is None:
                del answer["acaRequests"]
            return answer

        fake.ra = without  # type: ignore[method-assign]
        with pytest.raises(AuthorityFailed):
            run(RevocationRequest("device", "obu-1", "stolen"), fake, records, settings)


def test_every_callee_gets_the_revocation_id_as_correlation_id(parties: Parties, settings: Settings) -> None:
    fake, records = FakeAuthorities(), FakeMaRecordStore()
    issued(parties, fake, parties.suspect, chains=1)
    fake.devices["acaRequest:" + "11" * 8]["acaRequests"] = ["a1" * 8]
    fake.hash_crl["a1" * 8] = (PLAIN_HID10, 800_000_000)
    record, _ = run(RevocationRequest("certificate", cert_hex(parties.suspect), "x"), fake, records, settings)
    ids = {name: event.get("correlationId") for name, event in fake.calls}
    assert fake.names() == ["aca", "ra", "la1", "la2", "aca", "crlg"]
    assert ids == dict.fromkeys(["aca", "ra", "la1", "la2", "crlg"], record.revocation_id)
