"""observability.task_correlation_id: the MA's revocation id from a task event, and nothing else."""

from __future__ import annotations

import pytest
from scms_service import observability


@pytest.mark.parametrize(
    ("event", "expected"),
    [({"correlationId": "0123456789abcdef"}, "0123456789abcdef"), ({"correlationId": "0123456789ABCDEF"}, None),
     ({"correlationId": "obu-1"}, None), ({"correlationId": "00" * 9}, None), ({"correlationId": 7}, None),
     ({}, None), (None, None), (["correlationId"], None)],
    ids=["revocation-id", "upper-case", "device-id", "too-long", "int", "absent", "none", "list"],
)  # fmt: skip
def test_a_task_correlation_id_is_a_revocation_id_or_nothing(event: object, expected: str | None) -> None:
    assert observability.task_correlation_id(event) == expected
