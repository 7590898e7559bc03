"""moto's DynamoDB requests parsed and answers written without its model-walking wire code (local stack; issue #5 §7).

moto 5.2.5 parses every JSON request with a generic parser that looks each member of each shape up
in the botocore model through ``getattr`` and ``serialization.get`` per value, and writes every
answer with a generic serializer that tries up to a dozen alias keys per member. Under cProfile a
burst's ``scms serve`` seemed to spend about a tenth of its CPU there
(bench/results/profile-burst-cubk-explicit-1.txt), but the profiler's cost per Python call inflates
such call-heavy code: timed without it (thread CPU time around moto's parse and serialize), a
156-period burst spends 79 ms of the main process's ~6 s there, 35 ms with these patches. Per
request: a 25-item BatchWriteItem parses in 0.2 ms instead of 0.8 ms and its answer is written in
0.01 ms instead of 0.16 ms; 3,120 items put 25 at a time, queried 200 at a time and deleted cost a
moto server 0.91 s of CPU instead of 1.10 s.

The two patches here compile each hot operation's input and output shapes once into plain functions
that produce exactly what moto produces: the same members in the same (model) order, members that
are absent or ``null`` left out, members the model does not know dropped, binaries base64-decoded
on the way in and encoded on the way out, the same body text. They take only values of the
modelled JSON types (a ``str`` where a string is modelled, a ``dict`` where a structure or map is,
...); anything else, a body that is not UTF-8 JSON, a request with a legacy parameter
(``Expected``, ``KeyConditions``, ...), another operation or another service goes to moto's own
code, which answers it (or fails on it) as before. tests/functional/test_local_moto_wire.py
compares both with moto's own for a corpus of requests and answers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

__all__ = ["dynamodb_answers_written_as_json", "dynamodb_requests_parsed_as_json"]

# The operations the local stack uses hot; others keep moto's code.
_OPERATIONS = frozenset(
    {
        "PutItem",
        "GetItem",
        "DeleteItem",
        "UpdateItem",
        "Query",
        "BatchWriteItem",
        "BatchGetItem",
        "TransactWriteItems",
    }
)
# The pre-expression parameters: a request that names one is parsed by moto.
_LEGACY = frozenset(
    {
        "Expected",
        "KeyConditions",
        "QueryFilter",
        "AttributeUpdates",
        "ScanFilter",
        "AttributesToGet",
        "ConditionalOperator",
    }
)

_Convert = Callable[[Any], Any]


class _Unmodelled(Exception):
    """A value the compiled converters leave to moto (a type the model does not expect there)."""


def _decode_blob(text: str) -> bytes:
    """A request's binary as moto's parser reads it (``moto.core.parse.default_blob_parser``)."""
    return base64.b64decode(text)


def _encode_blob(value: bytes | str) -> str:
    """A result's binary as moto's serializer writes it (``ResponseSerializer._base64``)."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return base64.b64encode(raw).strip().decode("utf-8")


# Strings, booleans and integers are read and written as they are (moto: as they are, ``str()`` or ``int()``).
def _string(value: Any) -> Any:
    if type(value) is str:
        return value
    raise _Unmodelled


def _boolean(value: Any) -> Any:
    if type(value) is bool:
        return value
    raise _Unmodelled


def _integer(value: Any) -> Any:
    if type(value) is int:
        return value
    raise _Unmodelled


# --- requests: JSON document -> moto's parameters ---


def _blob_in(value: Any) -> Any:
    if type(value) is str:
        return _decode_blob(value)
    raise _Unmodelled


def _unmodelled(value: Any) -> Any:
    raise _Unmodelled


def _attribute_value_in(value: Any) -> Any:
    """An AttributeValue as moto's parser builds it; the common one-member forms without walking the model."""
    if type(value) is dict and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind == "S" or kind == "N":
            if type(inner) is str:
                return {kind: inner}
        elif kind == "M":
            if type(inner) is dict:
                return {"M": {k: _attribute_value_in(v) for k, v in inner.items()}}
        elif kind == "B":
            if type(inner) is str:
                return {"B": _decode_blob(inner)}
        elif kind == "L":
            if type(inner) is list:
                return {"L": [_attribute_value_in(v) for v in inner]}
        elif kind == "SS" or kind == "NS":
            if type(inner) is list and all(type(v) is str for v in inner):
                return {kind: list(inner)}
        elif kind == "BS":
            if type(inner) is list and all(type(v) is str for v in inner):
                return {"BS": [_decode_blob(v) for v in inner]}
        elif (kind == "NULL" or kind == "BOOL") and type(inner) is bool:
            return {kind: inner}
    # Several members, none, an unknown one or a null: the model's own walk (below) decides.
    return _INPUT_SHAPES["AttributeValue"](value)


_INPUT_SCALARS: dict[str, _Convert] = {
    "string": _string,
    "boolean": _boolean,
    "integer": _integer,
    "long": _integer,
    "blob": _blob_in,
}
# Compiled converters by shape name; the AttributeValue's generic walk is compiled on first use.
_INPUT_SHAPES: dict[str, _Convert] = {}
_INPUT_OPERATIONS: dict[str, _Convert] = {}


def _compile_input(shape: Any, fast_attribute_value: bool = True) -> _Convert:
    """A function doing what ``moto.core.parse.BaseJSONParser`` does for ``shape`` (dict maps), strictly typed."""
    if shape.type_name in _INPUT_SCALARS:
        return _INPUT_SCALARS[shape.type_name]
    if shape.name == "AttributeValue" and fast_attribute_value:
        if "AttributeValue" not in _INPUT_SHAPES:
            # The walk refers back to this AttributeValue (in M and L): a placeholder until it is compiled
            # (a value that needs it meanwhile is moto's).
            _INPUT_SHAPES["AttributeValue"] = _unmodelled
            _INPUT_SHAPES["AttributeValue"] = _compile_input(shape, fast_attribute_value=False)
        return _attribute_value_in
    if shape.type_name == "list":
        item = _compile_input(shape.member)

        def convert_list(value: Any) -> Any:
            if type(value) is not list:
                raise _Unmodelled
            return [item(v) for v in value]

        return convert_list
    if shape.type_name == "map":
        key, item = _compile_input(shape.key), _compile_input(shape.value)

        def convert_map(value: Any) -> Any:
            if type(value) is not dict:
                raise _Unmodelled
            return {key(k): item(v) for k, v in value.items()}

        return convert_map
    if shape.type_name == "structure" and not shape.is_document_type:
        # moto reads each member under its serialized name and keeps the member name (the same here).
        members = [
            (name, member.serialization.get("name", name), _compile_input(member))
            for name, member in shape.members.items()
        ]

        def convert_structure(value: Any) -> Any:
            if type(value) is not dict:
                raise _Unmodelled
            parsed = {}
            for name, wire_name, convert in members:
                raw = value.get(wire_name)
                if raw is not None:
                    parsed[name] = convert(raw)
            return parsed

        return convert_structure
    return _unmodelled  # timestamps, floats, documents: not in these operations' inputs


def _input_converter(operation_model: Any) -> _Convert:
    name = operation_model.name
    convert = _INPUT_OPERATIONS.get(name)
    if convert is None:
        convert = _INPUT_OPERATIONS[name] = _compile_input(operation_model.input_shape)
    return convert


def dynamodb_requests_parsed_as_json() -> Callable[[], None]:
    """moto reads the hot DynamoDB requests with ``json.loads`` and compiled converters (idempotent); the undo.

    The patched ``JSONParser.parse`` yields what moto's own parse yields (``DynamoHandler.params``, then
    its ``self.body``) for the operations in ``_OPERATIONS`` whose body is UTF-8 JSON of the modelled
    types and names no legacy parameter; it hands everything else to moto's parse unchanged, so a
    malformed request gets moto's own answer.
    """
    from moto.core.parse import JSONParser, default_blob_parser

    current = JSONParser.__dict__.get("parse")
    if getattr(current, "_scms_undo", None) is not None:
        return current._scms_undo  # type: ignore[union-attr,no-any-return]
    original = JSONParser.parse

    def parse(self: Any, request_dict: Any) -> Any:
        operation = self.operation_model
        if (
            type(self) is JSONParser
            and operation.name in _OPERATIONS
            and operation.service_model.service_name == "dynamodb"
            and self.MAP_TYPE is dict
            and self._blob_parser is default_blob_parser
        ):
            body = request_dict["body"]
            try:
                # moto decodes UTF-8 and then json.loads; an empty, non-UTF-8 or non-JSON body is moto's case.
                text = body.decode("utf-8") if type(body) is bytes else body
                document = json.loads(text) if type(text) is str else None
                if type(document) is dict and _LEGACY.isdisjoint(document):
                    return _input_converter(operation)(document)
            except Exception:  # noqa: S110 (anything unexpected is moto's to parse, or to refuse)
                pass
        return original(self, request_dict)

    def undo() -> None:
        if current is None:
            del JSONParser.parse
        else:
            JSONParser.parse = current  # type: ignore[method-assign]

    parse._scms_undo = undo  # type: ignore[attr-defined]
    JSONParser.parse = parse  # type: ignore[method-assign]
    return undo


# --- answers: moto's result -> JSON body ---


def _double_out(value: Any) -> Any:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise _Unmodelled


def _blob_out(value: Any) -> Any:
    if type(value) is bytes or type(value) is str:
        return _encode_blob(value)
    raise _Unmodelled


def _attribute_value_out(value: Any) -> Any:
    """An AttributeValue as moto's serializer writes it; the common one-member forms without the alias search."""
    if type(value) is dict and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind == "S" or kind == "N":
            if type(inner) is str:
                return {kind: inner}
        elif kind == "M":
            if type(inner) is dict and "" not in inner:
                return {"M": {k: _attribute_value_out(v) for k, v in inner.items()}}
        elif kind == "B":
            if type(inner) is bytes or type(inner) is str:
                return {"B": _encode_blob(inner)}
        elif kind == "L":
            if type(inner) is list:
                return {"L": [_attribute_value_out(v) for v in inner]}
        elif kind == "SS" or kind == "NS":
            if type(inner) is list and all(type(v) is str for v in inner):
                return {kind: list(inner)}
        elif kind == "BS":
            if type(inner) is list and all(type(v) is bytes or type(v) is str for v in inner):
                return {"BS": [_encode_blob(v) for v in inner]}
        elif (kind == "NULL" or kind == "BOOL") and type(inner) is bool:
            return {kind: inner}
    return _OUTPUT_SHAPES["AttributeValue"](value)


_OUTPUT_SCALARS: dict[str, _Convert] = {
    "string": _string,
    "boolean": _boolean,
    "integer": _integer,
    "long": _integer,
    "double": _double_out,
    "float": _double_out,
    "blob": _blob_out,
}
_OUTPUT_SHAPES: dict[str, _Convert] = {}
_OUTPUT_OPERATIONS: dict[str, _Convert] = {}


def _compile_output(shape: Any, fast_attribute_value: bool = True) -> _Convert:
    """A function doing what moto's ``JSONSerializer`` does for ``shape``, for results that are plain dicts.

    moto picks each member's value from a result dict under the first of several keys that is present
    (``_alias_keys``): for most members just the member name, for some its shape name or snake_case form
    first. The converter takes ``value[member]`` and leaves to moto any dict that holds one of the other
    keys; keys no member is looked up under are ignored, as moto ignores them (DeleteItem's
    ``ConsumedCapacityUnits``).
    """
    if shape.type_name in _OUTPUT_SCALARS:
        return _OUTPUT_SCALARS[shape.type_name]
    if shape.name == "AttributeValue" and fast_attribute_value:
        if "AttributeValue" not in _OUTPUT_SHAPES:
            # The walk refers back to this AttributeValue (in M and L): a placeholder until it is compiled
            # (a value that needs it meanwhile is moto's).
            _OUTPUT_SHAPES["AttributeValue"] = _unmodelled
            _OUTPUT_SHAPES["AttributeValue"] = _compile_output(shape, fast_attribute_value=False)
        return _attribute_value_out
    if shape.type_name == "list":
        item = _compile_output(shape.member)

        def convert_list(value: Any) -> Any:
            # moto writes a null element as it is (or fails on it): left to moto.
            if type(value) is not list or None in value:
                raise _Unmodelled
            return [item(v) for v in value]

        return convert_list
    if shape.type_name == "map":
        key, item = _compile_output(shape.key), _compile_output(shape.value)

        def convert_map(value: Any) -> Any:
            # moto writes a structure under an empty key into the map itself, and leaves a null value's
            # key out or fails on it: left to moto.
            if type(value) is not dict or "" in value or None in value.values():
                raise _Unmodelled
            return {key(k): item(v) for k, v in value.items()}

        return convert_map
    if shape.type_name == "structure" and not shape.is_document_type:
        aliases = _alias_keys(shape)
        if not aliases.isdisjoint(shape.members):
            return _unmodelled  # a member could be picked under another's name: moto's (none in DynamoDB's)
        members = [(name, _compile_output(member)) for name, member in shape.members.items()]

        def convert_structure(value: Any) -> Any:
            if type(value) is not dict or not aliases.isdisjoint(value):
                raise _Unmodelled
            written = {}
            for name, convert in members:
                raw = value.get(name)
                if raw is not None:
                    written[name] = convert(raw)
            return written

        return convert_structure
    return _unmodelled


def _alias_keys(shape: Any) -> frozenset[str]:
    """The keys other than its name under which moto 5.2.5's ``XFormedAttributePicker`` may read a member of a dict.

    Its providers, in order: ``ShapeNameAlias`` (a list or structure member's shape name, unless that
    names a sibling), ``NoAlias`` (the name), ``ShapePrefixAlias`` (the name less the structure's name
    as prefix), ``ClassPrefixAlias`` (the name less ``dict``), ``ModelAlias`` (the serialized name);
    each also in ``botocore.xform_name`` form. ``ExplicitAlias`` needs a ``Meta``, which a dict lacks.
    """
    from botocore import xform_name

    keys: set[str] = set()
    for name, member in shape.members.items():
        candidates = [name, member.serialization.get("name", name)]
        if member.type_name in ("list", "structure") and member.name not in shape.members:
            candidates.append(member.name)
        if name.lower().startswith(shape.name.lower()) and name[len(shape.name) :] not in shape.members:
            candidates.append(name[len(shape.name) :])
        if name.lower().startswith("dict"):
            candidates.append(name[len("dict") :])
        keys.update(k for c in candidates for k in (c, xform_name(c)) if k != name)
    return frozenset(keys)


def _output_converter(operation_model: Any) -> _Convert:
    name = operation_model.name
    convert = _OUTPUT_OPERATIONS.get(name)
    if convert is None:
        convert = _OUTPUT_OPERATIONS[name] = _compile_output(operation_model.output_shape)
    return convert


def dynamodb_answers_written_as_json() -> Callable[[], None]:
    """moto writes the hot DynamoDB answers with compiled converters and ``json.dumps`` (idempotent); the undo.

    The patched ``JSONSerializer.serialize`` yields moto's own status, headers and body text for the
    results of the operations in ``_OPERATIONS`` that are dicts of the modelled types
    (``{"UnprocessedItems": {}, "ItemCollectionMetrics": {}, "ConsumedCapacity": [...]}``, ``{}``, counts,
    LastEvaluatedKey, items); errors, prettified answers, other results and other services are moto's.
    It sits below ``cloud.items_serialized_as_json`` (which writes the items itself and hands moto the
    rest), so either may be applied first.
    """
    from moto.core.serialize import (
        DEFAULT_ALIAS_PROVIDERS,
        JSONSerializer,
        XFormedAttributePicker,
    )

    current = JSONSerializer.__dict__.get("serialize")
    if getattr(current, "_scms_undo", None) is not None:
        return current._scms_undo  # type: ignore[union-attr,no-any-return]
    original = JSONSerializer.serialize
    # The alias providers the converters' reasoning holds for (moto 5.2.5's default list).
    providers = tuple(DEFAULT_ALIAS_PROVIDERS)

    def serialize(self: Any, result: Any) -> Any:
        operation = self.operation_model
        picker = self._value_picker
        if (
            type(self) is JSONSerializer
            and type(result) is dict
            and operation.name in _OPERATIONS
            and self.service_model.service_name == "dynamodb"
            and not self.pretty_print
            and not operation.has_event_stream_output
            and type(picker) is XFormedAttributePicker
            and not picker.response_transformers
            and tuple(picker.alias_providers) == providers
        ):
            try:
                written = _output_converter(operation)(result)
            except Exception:  # noqa: S110 (anything unexpected is moto's to write)
                pass
            else:
                response = self._create_default_response()
                response["body"] = json.dumps(written)
                response["headers"]["Content-Type"] = self._get_protocol_specific_content_type()
                return response
        return original(self, result)

    def undo() -> None:
        if current is None:
            del JSONSerializer.serialize
        else:
            JSONSerializer.serialize = current  # type: ignore[method-assign]

    serialize._scms_undo = undo  # type: ignore[attr-defined]
    JSONSerializer.serialize = serialize  # type: ignore[method-assign]
    return undo
