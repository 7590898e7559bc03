"""covered.mark_covered_reports: NEW reports whose suspect a revocation's entries cover become REVOKED by it.

The suspects are real certificates (linkage data or not); "covered" is the receiver's check of
scms_codec.crl_check against the entries seen as CRLs. Every positive case has its failing twin:
another linkage value, a period before the entry's i or after its iMax, another HashedId10.
"""

from __future__ import annotations

import hashlib

import pytest
from scms_ma.covered import mark_covered_reports
from scms_ma.revoke import RevocationRequest, revoke
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy
from scms_service.iperiod import IPeriods
from scms_service.stores.crl_entries import HashedEntry, LinkedEntry
from scms_service.stores.ma_records import FakeMaRecordStore, MaRecordStore, ReportRecord

from scms_codec.crypto import linkage
from scms_codec.crypto.hashing import hashed_id10
from scms_codec.secured.signer import Signer
from tests.unit.ma.conftest import NOW, pseudonym
from tests.unit.ma.fakes import FakeAuthorities, device

LA1, LA2 = b"\x00\x01", b"\x00\x02"
SEED1, SEED2 = bytes(range(16)), bytes(range(16, 32))
I_SEED, I_MAX, J_MAX = 10, 20, 4
RID = "5e" * 8


def lv(i: int, j: int, seed1: bytes = SEED1, seed2: bytes = SEED2, i_seed: int = I_SEED) -> bytes:
    """The linkage value (i, j) of the chain whose seeds at ``i_seed`` are ``seed1``/``seed2``."""
    a = linkage.pre_linkage_value(LA1, linkage.seed_at(LA1, seed1, i_seed, i), j)
    b = linkage.pre_linkage_value(LA2, linkage.seed_at(LA2, seed2, i_seed, i), j)
    return linkage.linkage_value(a, b)


ENTRY = LinkedEntry(LA1, LA2, SEED1, SEED2, I_SEED, J_MAX, I_MAX, RID, NOW)


def report(records: MaRecordStore, n: int, suspect: Signer, *, status: str = "NEW") -> str:
    assert suspect.certificate is not None
    report_id = f"{n:016x}"
    records.put_report(ReportRecord(report_id, NOW, suspect.certificate.encoded, suspect.certificate.hashed_id8.hex(),
                                    b"evidence", 32, "00" * 8, f"{n:016x}", status=status))  # fmt: skip
    return report_id


def status(records: MaRecordStore, report_id: str) -> tuple[str, str | None]:
    stored = records.get_report(report_id)
    assert stored is not None
    return stored.status, stored.revocation_id


def test_a_report_whose_pseudonym_the_linked_entry_covers_is_revoked_and_the_others_stay_new(
    hierarchy: Hierarchy,
) -> None:
    aca, records = hierarchy.signer("aca"), FakeMaRecordStore()
    # Given reports on pseudonyms of the chain (at the entry's i, later, last j) and on others,
    covered = [report(records, 1, pseudonym(aca, i_cert=I_SEED, linkage_value=lv(I_SEED, 0))),
               report(records, 2, pseudonym(aca, i_cert=15, linkage_value=lv(15, J_MAX - 1))),
               report(records, 3, pseudonym(aca, i_cert=I_MAX, linkage_value=lv(I_MAX, 2)))]  # fmt: skip
    twins = [
        report(records, 4, pseudonym(aca, i_cert=15, linkage_value=lv(15, 0, seed1=SEED2, seed2=SEED1))),  # other chain
        report(records, 5, pseudonym(aca, i_cert=I_SEED - 1, linkage_value=lv(I_SEED - 1, 0, i_seed=I_SEED - 1))),
        report(records, 6, pseudonym(aca, i_cert=I_MAX + 1, linkage_value=lv(I_MAX + 1, 0))),  # after iMax
        report(records, 7, pseudonym(aca, i_cert=15, linkage_value=lv(15, J_MAX))),  # j beyond jmax
        report(records, 8, pseudonym(aca, linkage=False)),  # no linkage data
    ]
    # When the revocation's entries are the linked entry alone,
    out = mark_covered_reports([ENTRY], [], RID, records=records)
    # Then exactly the chain's reports from its i to its iMax are REVOKED by it.
    assert (out.checked, out.marked, out.more) == (8, 3, False)
    assert [status(records, r) for r in covered] == [("REVOKED", RID)] * 3
    assert [status(records, r) for r in twins] == [("NEW", None)] * 5


def test_a_report_whose_certificate_the_hash_entry_covers_is_revoked(hierarchy: Hierarchy) -> None:
    aca, records = hierarchy.signer("aca"), FakeMaRecordStore()
    plain, other = pseudonym(aca, linkage=False), pseudonym(aca, linkage=False)
    assert plain.certificate is not None
    mine, theirs = report(records, 1, plain), report(records, 2, other)
    entry = HashedEntry(hashed_id10(plain.certificate.encoded), NOW + 100, RID)
    assert mark_covered_reports([], [entry], RID, records=records).marked == 1
    # Twin: another certificate's report stays NEW.
    assert status(records, mine) == ("REVOKED", RID) and status(records, theirs) == ("NEW", None)


def test_reports_revoked_before_keep_their_revocation_and_a_second_pass_changes_nothing(hierarchy: Hierarchy) -> None:
    aca, records = hierarchy.signer("aca"), FakeMaRecordStore()
    suspect = pseudonym(aca, i_cert=12, linkage_value=lv(12, 1))
    earlier = report(records, 1, suspect, status="NEW")
    records.mark_revoked(earlier, "77" * 8)
    fresh = report(records, 2, suspect)
    assert mark_covered_reports([ENTRY], [], RID, records=records).marked == 1  # only the NEW one is read
    assert status(records, earlier) == ("REVOKED", "77" * 8) and status(records, fresh) == ("REVOKED", RID)
    again = mark_covered_reports([ENTRY], [], "99" * 8, records=records)
    assert (again.checked, again.marked) == (0, 0) and status(records, fresh) == ("REVOKED", RID)


def test_at_most_max_reports_are_read_a_pass_and_the_rest_are_left_new(hierarchy: Hierarchy) -> None:
    aca, records = hierarchy.signer("aca"), FakeMaRecordStore()
    ids = [report(records, n, pseudonym(aca, i_cert=12, linkage_value=lv(12, n % J_MAX))) for n in range(1, 6)]
    out = mark_covered_reports([ENTRY], [], RID, records=records, max_reports=3)
    assert (out.checked, out.marked, out.more) == (3, 3, True)
    assert [status(records, r)[0] for r in ids] == ["REVOKED"] * 3 + ["NEW"] * 2
    # Twin: the next pass (another revocation of the same chain, say) reads the two left.
    assert mark_covered_reports([ENTRY], [], RID, records=records, max_reports=3) == type(out)(2, 2, False)


def test_no_entries_read_no_reports(hierarchy: Hierarchy) -> None:
    records = FakeMaRecordStore()
    report(records, 1, pseudonym(hierarchy.signer("aca")))
    assert mark_covered_reports([], [], RID, records=records).checked == 0


def _fake_seed(la: str, chain_id: str, i: int) -> bytes:
    # FakeAuthorities.la's seed of (chain, i).
    return bytes.fromhex(hashlib.sha256(f"{la}{chain_id}{i}".encode()).hexdigest()[:32])


@pytest.mark.parametrize("by", ["device", "report"])
def test_a_revocation_marks_the_reports_on_the_revoked_devices_pseudonyms(
    hierarchy: Hierarchy, settings: Settings, by: str
) -> None:
    # Given two NEW reports on pseudonyms of the device's chain (the fake LAs' seeds at the current
    # i-period) and one on another device's pseudonym,
    aca, records, fake = hierarchy.signer("aca"), FakeMaRecordStore(), FakeAuthorities()
    i_now = IPeriods.from_settings(settings).i_at(NOW)
    chain = "00" * 16
    s1, s2 = _fake_seed("1", chain, i_now), _fake_seed("2", chain, i_now)
    on_chain = [pseudonym(aca, i_cert=i_now + k, linkage_value=lv(i_now + k, k, s1, s2, i_now)) for k in (0, 1)]
    first, second = (report(records, n, p) for n, p in enumerate(on_chain, 1))
    bystander = report(records, 3, pseudonym(aca, i_cert=i_now, linkage_value=lv(i_now, 0)))
    fake.devices["device:obu-1"] = {**device(), "chains": [{"chainId": chain, "iFirst": i_now - 1, "iLast": i_now + 5,
                                                            "jMax": J_MAX}]}  # fmt: skip
    assert on_chain[0].certificate is not None
    fake.issued[on_chain[0].certificate.hashed_id8.hex()] = "11" * 8
    fake.devices["acaRequest:" + "11" * 8] = fake.devices["device:obu-1"]
    request = RevocationRequest("device", "obu-1", "x") if by == "device" else RevocationRequest("report", first, "x")
    # When the device is revoked (by its id, or by the first report),
    record, _ = revoke(request, now=NOW, periods=IPeriods.from_settings(settings), records=records,
                       authorities=fake.authorities())  # fmt: skip
    # Then both reports on its pseudonyms are REVOKED by that revocation; the bystander's stays NEW.
    assert status(records, first) == status(records, second) == ("REVOKED", record.revocation_id)
    assert status(records, bystander) == ("NEW", None)
