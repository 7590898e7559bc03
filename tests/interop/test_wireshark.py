"""tshark 4.0's ieee1609dot2 dissector reads our bytes and the public samples with the fields we encoded.

Certificates are fed inside a SignedData (tshark 4.0 registers only ``ieee1609dot2.data``). Known
dissector bugs in CA certificates are asserted precisely, and the rest of those certificates is
checked on a twin with the unreadable fields at their DEFAULTs (tests/interop/expected.py, protocol.md §7).
"""

from __future__ import annotations

from typing import Any

import pytest

from scms_codec import asn1
from tests.interop.conftest import Item, item_params, items, wireshark_records
from tests.interop.expected import dissector_bug, expected_fields, warnings_allowed
from tests.interop.tools import Dissection, first_missing


def _assert_clean(dissection: Dissection, value: Any) -> None:
    # tshark files its P-384 warnings under the Malformed group, so "malformed" is allowed only with them.
    assert set(dissection.expert) <= warnings_allowed(value), dissection.expert
    assert not dissection.malformed or dissection.expert, "malformed without an expert message"
    assert dissection.top_size() == dissection.length
    assert first_missing(dissection, expected_fields(value)) is None


@pytest.mark.parametrize("item", item_params())
def test_tshark_dissects_every_field_we_encoded(item: Item, dissect: Any) -> None:
    # Given the record tshark reads and our strict decode of it
    records = wireshark_records(item)
    value = asn1.decode("Ieee1609Dot2Data", records["record"])
    # When tshark dissects it
    dissection = dissect(records["record"])
    # Then a known dissector bug stops it with exactly the known message, and the twin without the
    # unreadable fields is read in full; otherwise the record itself is read in full
    bug = dissector_bug(value)
    if bug is not None:
        assert dissection.malformed and dissection.expert == bug
        _assert_clean(dissect(records["stripped"]), value)
    else:
        _assert_clean(dissection, value)


@pytest.mark.parametrize("item", item_params())
def test_tshark_shows_a_flipped_octet_as_a_different_field(item: Item, dissect: Any) -> None:
    records = wireshark_records(item)
    value = asn1.decode("Ieee1609Dot2Data", records["record"])
    assert first_missing(dissect(records["flipped"]), expected_fields(value)) is not None


@pytest.mark.parametrize("item", item_params())
def test_tshark_leaves_a_trailing_octet_outside_the_data(item: Item, dissect: Any) -> None:
    dissection = dissect(wireshark_records(item)["trailing"])
    assert dissection.top_size() == dissection.length - 1


@pytest.mark.parametrize("item", item_params())
def test_tshark_marks_the_truncated_twin_malformed(item: Item, dissect: Any) -> None:
    assert dissect(wireshark_records(item)["truncated"]).malformed


def test_known_dissector_bugs_are_exercised_by_our_items() -> None:
    # The precise-bug branch above must be taken by our own CA certificates, for both bug kinds.
    bugs = {dissector_bug(asn1.decode("Ieee1609Dot2Data", wireshark_records(i)["record"])) for i in items() if i.ours}
    assert any(b is not None and "minChainLength" in b[0] for b in bugs)
    assert any(b is not None and "bitstring" in b[0] for b in bugs)
