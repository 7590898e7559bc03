"""The Table 8 error codes exist once, are unique, and every codec error carries one."""

from __future__ import annotations

import re

import pytest

from scms_codec import errors
from scms_codec.errors import CodecError, ErrorCode


def test_error_codes_are_unique_and_well_formed() -> None:
    values = [code.value for code in ErrorCode]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"(400|403)-\d{2,3}", v) for v in values)


@pytest.mark.parametrize(("code", "status"), [(ErrorCode.FAILED_PARSING, 400), (ErrorCode.RA_MIN_WAIT, 400)])
def test_http_status_is_the_prefix_of_the_code(code: ErrorCode, status: int) -> None:
    assert code.http_status == status


@pytest.mark.parametrize("name", errors.__all__)
def test_every_codec_exception_carries_a_table8_code(name: str) -> None:
    obj = getattr(errors, name)
    if obj is ErrorCode:
        return
    assert issubclass(obj, CodecError)
    assert isinstance(obj.error_code, ErrorCode)


def test_no_other_module_spells_an_error_code() -> None:
    # The table exists once (style.md 12): no "400-NN" literal outside errors.py in the codec and functions.
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(p.relative_to(root))
        for base in ("layers/codec/scms_codec", "functions")
        for p in (root / base).rglob("*.py")
        if p.name != "errors.py" and re.search(r"[\"']40[03]-\d{2,3}[\"']", p.read_text())
    ]
    assert offenders == []
