"""receive_report: accepted once, replays answered from the store, every refusal in protocol.md §2.4 order."""

from __future__ import annotations

import pytest
from scms_ma.report import receive_report
from scms_service.config import Settings
from scms_service.errors import ScmsError
from scms_service.stores.ma_records import FakeMaRecordStore

from scms_codec.errors import ErrorCode
from scms_codec.secured.encrypted_data import encrypt
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.recipients import CertRecipient
from scms_codec.secured.signed_data import sign_tbs_data
from scms_codec.secured.signer import Signer
from scms_codec.spdu.misbehavior import MISBEHAVIOR_REPORT_PSID
from tests.support.pki import issue
from tests.unit.ma.conftest import NOW, Parties, evidence, new_key, pseudonym


def receive(parties: Parties, data: bytes, records: FakeMaRecordStore, settings: Settings, now: int = NOW) -> str:
    return receive_report(data, now=now, settings=settings, keys=parties.hierarchy, records=records)


def refused(parties: Parties, data: bytes, settings: Settings, code: ErrorCode, now: int = NOW) -> None:
    records = FakeMaRecordStore()
    with pytest.raises(ScmsError) as info:
        receive(parties, data, records, settings, now)
    assert info.value.code is code
    assert records.reports == {} and records.signed == {}


def test_report_is_stored_with_suspect_and_evidence(parties: Parties, settings: Settings) -> None:
    # Given a report about the suspect's message, When the MA receives it
    records = FakeMaRecordStore()
    data = parties.report()
    report_id = receive(parties, data, records, settings)
    # Then it is stored once, NEW, naming the suspect's and the reporter's certificates
    record = records.reports[report_id]
    assert record.status == "NEW" and record.received_at == NOW
    assert record.suspect_cert == parties.suspect.certificate.encoded  # type: ignore[union-attr]
    assert record.suspect_cert_id == parties.suspect.certificate.hashed_id8.hex()  # type: ignore[union-attr]
    assert record.reporter_cert_id == parties.reporter.certificate.hashed_id8.hex()  # type: ignore[union-attr]
    assert record.evidence_psid == 32 and len(records.reports) == 1


def test_same_report_twice_is_answered_with_the_same_id_and_stored_once(parties: Parties, settings: Settings) -> None:
    records = FakeMaRecordStore()
    data = parties.report()
    first = receive(parties, data, records, settings)
    # A day later (past ra-maxAge) the same bytes still get the same answer
    assert receive(parties, data, records, settings, now=NOW + 86_400) == first
    assert len(records.reports) == 1


def test_another_encryption_of_a_stored_report_is_its_replay(parties: Parties, settings: Settings) -> None:
    records = FakeMaRecordStore()
    inner = sign_tbs_data(
        {
            "payload": {"data": {"protocolVersion": 3, "content": ("unsecuredData", evidence(parties.suspect))}},
            "headerInfo": {"psid": MISBEHAVIOR_REPORT_PSID, "generationTime": (NOW - 10) * 1_000_000},
        },
        parties.reporter,
    )
    first = receive(parties, encrypt(inner, CertRecipient(parties.ma_cert)), records, settings)
    again = receive(parties, encrypt(inner, CertRecipient(parties.ma_cert)), records, settings)
    assert again == first and len(records.reports) == 1
    # Twin: a new report of the same evidence is a report of its own
    assert receive(parties, parties.report(), records, settings) != first
    assert len(records.reports) == 2


def test_truncated_report_is_400_42(parties: Parties, settings: Settings) -> None:
    refused(parties, parties.report()[:-3], settings, ErrorCode.FAILED_PARSING)


def test_unencrypted_report_is_400_10(parties: Parties, settings: Settings) -> None:
    refused(parties, evidence(parties.suspect), settings, ErrorCode.NOT_ENCRYPTED)


def test_report_to_another_recipient_is_400_41(parties: Parties, settings: Settings) -> None:
    data = encrypt(evidence(parties.suspect), CertRecipient(parties.hierarchy.certificate("ra")))
    refused(parties, data, settings, ErrorCode.DECRYPTION_FAILED)


def test_report_signed_with_a_wrong_key_is_400_43(parties: Parties, settings: Settings) -> None:
    impostor = Signer(new_key(), parties.reporter.certificate)
    refused(parties, parties.report(reporter=impostor), settings, ErrorCode.SIGNATURE_VERIFICATION_FAILED)


def test_reporter_outside_the_hierarchy_is_400_40(parties: Parties, settings: Settings) -> None:
    # A self-made "ACA" issues the reporter: its chain reaches no root of ours
    rogue = pseudonym(issue("aca", None))
    refused(parties, parties.report(reporter=rogue), settings, ErrorCode.CHAIN_VERIFICATION_FAILED)


def test_reporter_without_psid_38_is_400_40(parties: Parties, settings: Settings) -> None:
    no_report_permission = pseudonym(parties.hierarchy.signer("aca"), psids=(32,))
    refused(parties, parties.report(reporter=no_report_permission), settings, ErrorCode.CHAIN_VERIFICATION_FAILED)


def test_report_from_the_future_is_400_50(parties: Parties, settings: Settings) -> None:
    data = parties.report(at=NOW + settings.clock_skew + 1)
    refused(parties, data, settings, ErrorCode.GENERATION_TIME_IN_FUTURE)
    assert receive(parties, parties.report(at=NOW + settings.clock_skew), FakeMaRecordStore(), settings)


def test_report_older_than_ra_max_age_is_400_77(parties: Parties, settings: Settings) -> None:
    refused(parties, parties.report(at=NOW - settings.ra_max_age - 1), settings, ErrorCode.RA_MAX_AGE)
    assert receive(parties, parties.report(at=NOW - settings.ra_max_age), FakeMaRecordStore(), settings)


def test_forged_evidence_is_400_43(parties: Parties, settings: Settings) -> None:
    forged = evidence(Signer(new_key(), parties.suspect.certificate))
    refused(parties, parties.report(evidence_bytes=forged), settings, ErrorCode.SIGNATURE_VERIFICATION_FAILED)


def test_suspect_outside_the_hierarchy_is_400_40(parties: Parties, settings: Settings) -> None:
    rogue_suspect = pseudonym(issue("aca", None))
    data = parties.report(evidence_bytes=evidence(rogue_suspect))
    refused(parties, data, settings, ErrorCode.CHAIN_VERIFICATION_FAILED)


def test_evidence_observed_outside_the_suspect_validity_is_400_40(parties: Parties, settings: Settings) -> None:
    late = pseudonym(parties.hierarchy.signer("aca"), start=NOW - 100)
    data = parties.report(evidence_bytes=evidence(late, at=NOW - 200))
    refused(parties, data, settings, ErrorCode.CHAIN_VERIFICATION_FAILED)
    assert receive(parties, parties.report(evidence_bytes=evidence(late, at=NOW - 50)), FakeMaRecordStore(), settings)


def test_keyring_for_the_ma_only_opens_reports_to_the_ma(parties: Parties) -> None:
    keyring = Keyring()
    keyring.add_certificate(parties.ma_cert, parties.hierarchy.encryption_private_key("ma"))
    assert len(keyring) == 1
