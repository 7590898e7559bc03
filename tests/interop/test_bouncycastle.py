"""Bouncy Castle 1.72's ITS OER classes parse our bytes and the public samples, and re-encode them identically.

Known BC 1.72 defects are asserted precisely, not skipped (tests/interop/expected.py, protocol.md §7).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.interop.conftest import Item, item_params, items
from tests.interop.expected import (
    bc_parse_failure,
    bc_summary,
    has_2022_additions,
    without_2022_additions,
)
from tests.interop.tools import BcResult


def _hexdiff(a: bytes, b: bytes) -> str:
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"lengths {len(a)}/{len(b)}, first difference at octet {first}: {a[first:first + 16].hex()} != " + (
        b[first : first + 16].hex()
    )


@pytest.mark.parametrize("item", item_params())
def test_bouncycastle_reads_the_same_encoding(item: Item, bc: Any) -> None:
    # Given an encoding and our strict decode of it
    value = item.value
    # When Bouncy Castle parses and re-encodes it
    result: BcResult = bc(item.asn1_type, item.data)
    # Then it fails exactly where a documented BC defect applies, and otherwise agrees octet for octet
    failure = bc_parse_failure(value)
    if failure is not None:
        assert not result.ok and result.error is not None, result
        assert result.error.startswith(failure + ":"), result.error
        return
    assert result.ok, result.error
    assert result.trailing == 0
    assert result.summary == bc_summary(item.asn1_type, value)
    assert result.generic is not None and result.typed is not None
    if has_2022_additions(value):
        # BC drops the 2022 additions: its re-encoding is ours without them, so its hashes differ.
        dropped = without_2022_additions(item.asn1_type, value)
        assert dropped != item.data
        assert result.generic == dropped, _hexdiff(result.generic, dropped)
        assert result.typed == dropped, _hexdiff(result.typed, dropped)
    else:
        assert result.generic == item.data, _hexdiff(result.generic, item.data)
        assert result.typed == item.data, _hexdiff(result.typed, item.data)


@pytest.mark.parametrize("item", item_params())
def test_bouncycastle_rejects_the_truncated_twin(item: Item, bc: Any) -> None:
    result: BcResult = bc(item.asn1_type, item.data[:-1])
    assert not result.ok or result.typed != item.data


@pytest.mark.parametrize("item", [p for p in item_params() if bc_parse_failure(p.values[0].value) is None])
def test_bouncycastle_reports_a_trailing_octet(item: Item, bc: Any) -> None:
    # Items BC 1.72 cannot parse at all (documented defects) are left out: there is nothing to trail.
    result: BcResult = bc(item.asn1_type, item.data + b"\x00")
    assert result.ok and result.trailing == 1, result


def test_a_changed_field_changes_what_bouncycastle_reads(bc: Any) -> None:
    # Given our signed SPDU under PSID 35, with the psid octet changed to 36 (0x23 -> 0x24)
    signed = next(i for i in items() if i.name == "spdu-signed-digest")
    # The payload (unsecuredData 0286), then headerInfo: preamble 00, psid length 01, psid 23.
    at = signed.data.index(bytes.fromhex("0286000123")) + 4
    changed = signed.data[:at] + b"\x24" + signed.data[at + 1 :]
    # When BC reads both, Then the psid it reports follows the octet, and the summaries differ
    assert bc(signed.asn1_type, signed.data).summary["psid"] == 35
    assert bc(signed.asn1_type, changed).summary["psid"] == 36


def test_known_defect_list_is_exercised_by_our_items() -> None:
    # The precise-defect branches above must each be taken by at least one item, or they assert nothing.
    ours = [i for i in items() if i.ours]
    assert any(has_2022_additions(i.value) for i in ours)
    assert {bc_parse_failure(i.value) for i in ours} >= {
        "java.lang.ArrayIndexOutOfBoundsException",
        "java.lang.IndexOutOfBoundsException",
    }
