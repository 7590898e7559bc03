"""covered.mark_covered_reports on moto's MaTable: the paged Scan of NEW reports and the marks really run.

The same flows as tests/unit/ma/test_covered.py, on the DynamoDB adapter: reports marked REVOKED
while the pages are read do not disturb the paging, the bound leaves the rest NEW, a second pass
reads only those.
"""

from __future__ import annotations

from scms_ma.covered import mark_covered_reports
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy
from scms_service.stores.ma_records import DynamoDbMaRecordStore

from tests.unit.ma.conftest import hierarchy, pseudonym  # noqa: F401 (fixture)
from tests.unit.ma.test_covered import ENTRY, J_MAX, RID, lv, report, status


def test_covered_reports_are_marked_a_bounded_page_at_a_time_on_dynamodb(
    aws_settings: Settings,
    hierarchy: Hierarchy,  # noqa: F811
) -> None:
    records = DynamoDbMaRecordStore.from_settings(aws_settings)
    aca = hierarchy.signer("aca")
    # Given five reports on the chain's pseudonyms and two on another chain's, interleaved,
    covered = [report(records, n, pseudonym(aca, i_cert=12, linkage_value=lv(12, n % J_MAX))) for n in (1, 3, 4, 6, 7)]
    others = [report(records, n, pseudonym(aca, i_cert=12, linkage_value=lv(12, 0, i_seed=11))) for n in (2, 5)]
    # When a pass may read four NEW reports,
    first = mark_covered_reports([ENTRY], [], RID, records=records, max_reports=4)
    # Then it read four (in the table's order), marked the covered among them, and left the rest NEW;
    assert (first.checked, first.more) == (4, True) and 2 <= first.marked <= 4
    assert sum(status(records, r)[0] == "REVOKED" for r in covered) == first.marked
    # and the next pass reads those still NEW (marks made meanwhile do not disturb its pages), marks the
    # remaining covered ones, and never the others.
    second = mark_covered_reports([ENTRY], [], RID, records=records, max_reports=10)
    assert (second.checked, second.marked, second.more) == (7 - first.marked, 5 - first.marked, False)
    assert [status(records, r) for r in covered] == [("REVOKED", RID)] * 5
    assert [status(records, r) for r in others] == [("NEW", None)] * 2
