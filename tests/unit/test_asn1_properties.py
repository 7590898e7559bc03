"""Mutated samples make the strict decoder and the nested walker raise CodecError subclasses and nothing else.

No catch-all here: any exception that is not a ``CodecError`` (IndexError, KeyError, asn1tools'
own errors, ...) escapes and fails the test, which is the point (style.md 7, 10).
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scms_codec import asn1
from scms_codec.asn1.nested import nested_layers
from scms_codec.errors import CodecError
from tests.support.vectors import EncodedSample, encoded_params

# 76 samples x 50 examples, two decodes each: about 10 s on one core.
_SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with one bit flipped, cut short, grown by inserted octets, or given trailing octets."""
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "trailing"]))
    if kind == "flip":
        at = draw(st.integers(0, len(data) * 8 - 1))
        out = bytearray(data)
        out[at // 8] ^= 0x80 >> (at % 8)
        return bytes(out)
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    extra = draw(st.binary(min_size=1, max_size=4))
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + extra + data[at:]
    return data + extra


def _decode_and_walk(sample: EncodedSample, mutated: bytes) -> None:
    """Decode like a receiver would; only CodecError may come out (and is then swallowed)."""
    with contextlib.suppress(CodecError):
        value = asn1.decode(sample.asn1_type, mutated)
        nested_layers(value)


@pytest.mark.parametrize("sample", encoded_params())
@_SETTINGS
@given(data=st.data())
def test_mutated_sample_raises_only_codec_errors(sample: EncodedSample, data: st.DataObject) -> None:
    mutated = data.draw(mutations(sample.data))
    assert mutated != sample.data
    _decode_and_walk(sample, mutated)


_LAYERED = [p for p in encoded_params() if nested_layers(asn1.decode(p.values[0].asn1_type, p.values[0].data))]


def _replace(value: Any, path: tuple[Any, ...], new: bytes) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    if isinstance(value, list):
        return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]
    return (value[0], _replace(value[1], rest, new))


@pytest.mark.parametrize("sample", _LAYERED)
@_SETTINGS
@given(data=st.data())
def test_mutated_inner_layer_inside_a_valid_outer_value_raises_only_codec_errors(
    sample: EncodedSample, data: st.DataObject
) -> None:
    # Given a valid outer value whose first nested OCTET STRING is mutated (the outer stays canonical)
    value = asn1.decode(sample.asn1_type, sample.data)
    first = nested_layers(value)[0]
    mutated = _replace(value, first.path, data.draw(mutations(first.encoded)))
    # When the walker decodes the layers, Then only a CodecError can come out
    with contextlib.suppress(CodecError):
        nested_layers(mutated)


def test_there_are_layered_samples_to_mutate() -> None:
    assert len(_LAYERED) >= 5


@pytest.mark.parametrize("sample", encoded_params())
def test_trailing_octet_is_a_codec_error(sample: EncodedSample) -> None:
    # The twin of the property: a known mutation is refused with the typed error, not accepted.
    with pytest.raises(CodecError):
        asn1.decode(sample.asn1_type, sample.data + b"\x00")


def test_a_non_codec_error_is_not_swallowed() -> None:
    # The helper must let foreign exceptions through, or the property could not fail.
    sample = encoded_params()[0].values[0]
    with pytest.raises(TypeError):
        _decode_and_walk(sample, "not bytes")  # type: ignore[arg-type]
