"""Management API key check: missing → Unauthorized, wrong → Forbidden, right → passes; the digest stays hidden."""

from __future__ import annotations

import pytest
from scms_service.auth import ApiKeyCheck, key_digest
from scms_service.errors import Forbidden, ScmsError, Unauthorized

KEY = "s3cret-key"


def test_right_key_passes() -> None:
    ApiKeyCheck(lambda: key_digest(KEY))(KEY)


@pytest.mark.parametrize("presented", [None, ""])
def test_missing_key_is_unauthorized(presented: str | None) -> None:
    with pytest.raises(Unauthorized):
        ApiKeyCheck(lambda: key_digest(KEY))(presented)


def test_wrong_key_is_forbidden() -> None:
    with pytest.raises(Forbidden):
        ApiKeyCheck(lambda: key_digest(KEY))(KEY + "x")


def test_secret_that_is_not_a_digest_is_refused_without_echoing_it() -> None:
    with pytest.raises(ScmsError) as info:
        ApiKeyCheck(lambda: KEY)(KEY)
    assert KEY not in str(info.value)


def test_digest_is_read_once() -> None:
    calls = []

    def load() -> str:
        calls.append(1)
        return key_digest(KEY)

    check = ApiKeyCheck(load)
    check(KEY)
    check(KEY)
    assert len(calls) == 1
    assert key_digest(KEY) not in repr(check)
