"""``scms_cli.local.moto_wire``: the patched parse and answers are moto's own, byte for byte, or moto's code runs."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore import xform_name
from scms_service.config import Settings

from scms_cli.local import moto_wire
from scms_cli.local.cloud import items_serialized_as_json
from scms_cli.local.moto_wire import dynamodb_answers_written_as_json, dynamodb_requests_parsed_as_json

_TABLE = "wire-test"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# An item with attributes literally named like the AttributeValue members, nested maps and lists, binary
# sets, an empty binary, unicode (an astral character sent as a surrogate pair) and numbers as strings.
_ITEM: dict[str, Any] = {
    "pk": {"S": "p"}, "sk": {"B": _b64(b"\x00\x01")},
    "B": {"S": "named B"}, "M": {"B": _b64(b"\xff\xfe")}, "L": {"BS": [_b64(b"\x01"), _b64(b"\x02\x03")]},
    "S": {"M": {"S": {"L": [{"B": _b64(b"in a list")}, {"N": "007"}, {"NULL": True}]}, "B": {"BOOL": False}}},
    "empty": {"B": ""}, "text": {"S": "ünïcödé ✓ 𝄞"}, "n": {"N": "-12.5e3"}, "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.50"]}, "deep": {"M": {"a": {"L": [{"M": {"b": {"BS": [_b64(b"")]}}}, {"L": []}]}}},
    "map": {"M": {}}, "flag": {"BOOL": True},
}  # fmt: skip


def _key(pk: str, sk: bytes) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"B": _b64(sk)}}


def _batch_item(n: int) -> dict[str, Any]:
    return {**_key("q", bytes([n, 0xFF])), "n": {"N": str(n)}, "blob": {"B": _b64(bytes([n]) * 40)},
            "nested": {"M": {"B": {"L": [{"B": _b64(bytes([n]))}, {"S": "x"}]}}}}  # fmt: skip


# Every operation the patches take, in an order that leaves answers to read (Attributes, LastEvaluatedKey
# with a binary, UnprocessedItems/Keys, ConsumedCapacity in each form, errors).
_REQUESTS: list[tuple[str, Any]] = [
    ("PutItem", {"TableName": _TABLE, "Item": _ITEM}),
    ("PutItem", {"TableName": _TABLE, "Item": {**_ITEM, **_key("p", b"\x00\x02")}, "ReturnValues": "ALL_OLD"}),
    ("PutItem", {"TableName": _TABLE, "Item": {**_ITEM, "n": {"N": "1"}}, "ReturnValues": "ALL_OLD",
                 "ReturnConsumedCapacity": "TOTAL"}),
    ("PutItem", {"TableName": _TABLE, "Item": _ITEM, "ConditionExpression": "attribute_not_exists(#p)",
                 "ExpressionAttributeNames": {"#p": "pk"}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),
    ("UpdateItem", {"TableName": _TABLE, "Key": _key("p", b"\x00\x01"), "ReturnValues": "ALL_NEW",
                    "UpdateExpression": "SET #c = if_not_exists(#c, :z) + :one, #s.#b = :b ADD #l :bs",
                    "ExpressionAttributeNames": {"#c": "count", "#s": "S", "#b": "B", "#l": "L"},
                    "ExpressionAttributeValues": {":z": {"N": "0"}, ":one": {"N": "1"}, ":b": {"B": _b64(b"new")},
                                                  ":bs": {"BS": [_b64(b"\x09")]}}}),
    ("UpdateItem", {"TableName": _TABLE, "Key": _key("p", b"\x00\x01"), "ReturnValues": "UPDATED_OLD",
                    "UpdateExpression": "REMOVE #e", "ExpressionAttributeNames": {"#e": "empty"},
                    "ReturnConsumedCapacity": "INDEXES"}),
    ("GetItem", {"TableName": _TABLE, "Key": _key("p", b"\x00\x01"), "ConsistentRead": True,
                 "ProjectionExpression": "#b, #m, #s.#s, deep", "ReturnConsumedCapacity": "TOTAL",
                 "ExpressionAttributeNames": {"#b": "B", "#m": "M", "#s": "S"}}),
    ("GetItem", {"TableName": _TABLE, "Key": _key("p", b"absent")}),
    ("BatchWriteItem", {"RequestItems": {_TABLE: [{"PutRequest": {"Item": _batch_item(n)}} for n in range(25)]}}),
    ("Query", {"TableName": _TABLE, "KeyConditionExpression": "pk = :q", "Limit": 7,
               "ExpressionAttributeValues": {":q": {"S": "q"}}}),
    ("Query", {"TableName": _TABLE, "KeyConditionExpression": "pk = :q", "Limit": 200, "ScanIndexForward": False,
               "ExclusiveStartKey": _key("q", bytes([20, 0xFF])), "FilterExpression": "n > :n",
               "ExpressionAttributeValues": {":q": {"S": "q"}, ":n": {"N": "3"}}, "ReturnConsumedCapacity": "TOTAL"}),
    ("Query", {"TableName": _TABLE, "KeyConditionExpression": "pk = :q AND sk BETWEEN :lo AND :hi",
               "Select": "COUNT", "ExpressionAttributeValues": {":q": {"S": "q"}, ":lo": {"B": _b64(b"\x02")},
                                                                 ":hi": {"B": _b64(b"\x09")}}}),
    ("BatchGetItem", {"RequestItems": {_TABLE: {"Keys": [_key("q", b"\x01\xff"), _key("q", b"absent"),
                                                          _key("p", b"\x00\x02")],
                                                 "ProjectionExpression": "pk, sk, nested, #b",
                                                 "ExpressionAttributeNames": {"#b": "B"}, "ConsistentRead": True}},
                      "ReturnConsumedCapacity": "TOTAL"}),
    ("TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": _TABLE, "Item": {**_ITEM, **_key("t", b"\x01")}}},
        {"Update": {"TableName": _TABLE, "Key": _key("p", b"\x00\x02"), "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"N": "99"}}}},
        {"Delete": {"TableName": _TABLE, "Key": _key("q", b"\x00\xff")}},
        {"ConditionCheck": {"TableName": _TABLE, "Key": _key("q", b"\x01\xff"),
                            "ConditionExpression": "attribute_exists(pk)"}}]}),
    ("TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": _TABLE, "Item": {**_ITEM, **_key("t", b"\x02")}}},
        {"ConditionCheck": {"TableName": _TABLE, "Key": _key("q", b"absent"),
                            "ConditionExpression": "attribute_exists(pk)"}}]}),
    ("BatchWriteItem", {"RequestItems": {_TABLE: [{"DeleteRequest": {"Key": _key("q", bytes([n, 0xFF]))}}
                                                  for n in range(1, 25)]}}),
    ("DeleteItem", {"TableName": _TABLE, "Key": _key("p", b"\x00\x02"), "ReturnValues": "ALL_OLD",
                    "ConditionExpression": "attribute_exists(pk)", "ReturnConsumedCapacity": "TOTAL"}),
    ("DeleteItem", {"TableName": _TABLE, "Key": _key("p", b"absent")}),
]  # fmt: skip

# Unusual but modelled: still the fast path, and still moto's parameters (members it drops, nulls it skips,
# an AttributeValue with two members or none, numbers as strings).
_UNUSUAL: list[tuple[str, Any]] = [
    ("PutItem", {"TableName": _TABLE, "Unknown": [1, {"x": None}], "IndexName": "not a PutItem member",
                 "ReturnConsumedCapacity": None, "Item": {**_key("u", b"\x01"), "two": {"S": "x", "N": "1"},
                                                          "extra": {"S": "x", "Extra": 5}, "none": {},
                                                          "nulls": {"S": None, "N": "7"},
                                                          "big": {"N": "1e400"}, "neg": {"N": "-0"}}}),
    ("GetItem", {"TableName": _TABLE, "Key": {"pk": {"S": "u", "B": None}, "sk": {"B": _b64(b"\x01")}}}),
]  # fmt: skip

# Not moto's usual input: each goes to moto's parser (bad JSON, wrong types, nulls in maps and lists, legacy
# parameters, another operation), which answers it or fails on it as it does unpatched.
_UNEXPECTED: list[tuple[str, Any]] = [
    ("PutItem", b'{"TableName": '),
    ("PutItem", b"[]"),
    ("PutItem", b"null"),
    ("PutItem", b""),
    ("PutItem", b'\xef\xbb\xbf{"TableName": "wire-test"}'),
    ("PutItem", b'{"TableName": "wire-test\xff", "Item": {}}'),
    ("PutItem", {"TableName": _TABLE, "Item": {**_key("x", b"\x01"), "b": {"B": "abc"}}}),
    ("PutItem", {"TableName": _TABLE, "Item": {**_key("x", b"\x01"), "b": {"B": 5}}}),
    ("PutItem", {"TableName": _TABLE, "Item": {**_key("x", b"\x01"), "s": {"S": 5}}}),
    ("PutItem", {"TableName": _TABLE, "Item": {**_key("x", b"\x01"), "bs": {"BS": [_b64(b"a"), 7]}}}),
    ("PutItem", {"TableName": _TABLE, "Item": {**_key("x", b"\x01"), "a": None}}),
    ("PutItem", {"TableName": _TABLE, "Item": [_key("x", b"\x01")]}),
    ("Query", {"TableName": _TABLE, "KeyConditionExpression": "pk = :q", "Limit": "2",
               "ExpressionAttributeValues": {":q": {"S": "p"}}}),
    ("Query", {"TableName": _TABLE, "KeyConditionExpression": "pk = :q", "Limit": True, "ConsistentRead": "true",
               "ExpressionAttributeValues": {":q": {"S": "p"}}}),
    ("TransactWriteItems", {"TransactItems": [None]}),
    ("PutItem", {"TableName": _TABLE, "Item": _key("x", b"\x02"), "Expected": {"pk": {"Exists": False}}}),
    ("Query", {"TableName": _TABLE, "KeyConditions": {"pk": {"ComparisonOperator": "EQ",
                                                             "AttributeValueList": [{"S": "p"}]}}}),
    ("UpdateItem", {"TableName": _TABLE, "Key": _key("x", b"\x02"),
                    "AttributeUpdates": {"a": {"Action": "PUT", "Value": {"B": _b64(b"z")}}}}),
    ("GetItem", {"TableName": _TABLE, "Key": _key("p", b"\x00\x01"), "AttributesToGet": ["B"]}),
    ("ListTables", {"Limit": 5}),
]  # fmt: skip


def _request(operation: str, body: Any) -> Any:
    from moto.core.request import Request

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-Amz-Target": f"DynamoDB_20120810.{operation}", "Content-Type": "application/x-amz-json-1.0"}
    return Request.from_primitives("POST", "https://dynamodb.us-east-1.amazonaws.com/", headers, data)


def _typed(value: Any) -> Any:
    """``value`` with every dict's order and every scalar's type spelled out, so that equal means identical."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, value)


def _params(operation: str, body: Any) -> Any:
    """What DynamoHandler reads as the request's parameters, or the error parsing raised."""
    from moto.dynamodb.responses import DynamoHandler

    handler = DynamoHandler()
    try:
        handler.setup_class(_request(operation, body))
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))
    return _typed(handler.params)


def _answer(operation: str, body: Any) -> Any:
    """moto's whole answer (status, headers but the request id and date, body text), or what it raised."""
    from moto.dynamodb.responses import DynamoHandler

    try:
        status, headers, text = DynamoHandler.dispatch(_request(operation, body))
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))
    kept = {k: v for k, v in headers.items() if k.lower() not in ("x-amzn-requestid", "date")}
    return status, kept, text


_COUNTED = {*moto_wire._OPERATIONS, "ListTables"}


class _Moto:
    """Counts the runs of moto's own JSON parse and result serialization for the operations of the corpus."""

    parsed = 0
    written = 0


@pytest.fixture
def moto_runs(monkeypatch: pytest.MonkeyPatch) -> type[_Moto]:
    """moto's own parser and serializer, counted; a patch a local cloud left applied is off for the test."""
    from moto.core.parse import JSONParser
    from moto.core.serialize import JSONSerializer
    from moto.dynamodb.responses import DynamoResult

    for cls, name in ((JSONParser, "parse"), (JSONSerializer, "serialize"), (DynamoResult, "execute_result")):
        left = cls.__dict__.get(name)
        if getattr(left, "_scms_undo", None) is not None:
            monkeypatch.setattr(cls, name, left)  # put back after the test
            left._scms_undo()  # type: ignore[union-attr]
    counts: type[_Moto] = type("Counts", (_Moto,), {})
    do_parse, serialize_result = JSONParser._do_parse, JSONSerializer._serialize_result

    # The test table's own requests (CreateTable, ...; ListTables answers) are not counted.
    def counted_parse(self: Any, request_dict: Any, shape: Any) -> Any:
        counts.parsed += self.operation_model.name in _COUNTED
        return do_parse(self, request_dict, shape)  # type: ignore[no-untyped-call]

    def counted_result(self: Any, resp: Any, result: Any) -> Any:
        counts.written += self.operation_model.name in moto_wire._OPERATIONS
        return serialize_result(self, resp, result)

    monkeypatch.setattr(JSONParser, "_do_parse", counted_parse)
    monkeypatch.setattr(JSONSerializer, "_serialize_result", counted_result)
    return counts


@pytest.fixture
def fresh_table(aws_settings: Settings) -> Callable[[], None]:
    """Makes the test table anew (empty): a string hash key and a binary range key."""
    client = boto3.client("dynamodb")

    def fresh() -> None:
        if _TABLE in client.list_tables()["TableNames"]:
            client.delete_table(TableName=_TABLE)
        client.create_table(
            TableName=_TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "B"},
            ],
        )

    fresh()
    return fresh


@contextlib.contextmanager
def _applied(*patches: Callable[[], Callable[[], None]]) -> Iterator[None]:
    """``patches`` applied inside the block, undone after it."""
    undos = [patch() for patch in patches]
    try:
        yield
    finally:
        for undo in reversed(undos):
            undo()


def _answers(fresh: Callable[[], None], requests: list[tuple[str, Any]], *patches: Callable[[], Any]) -> list[Any]:
    """Every request's answer in order, on an empty table, with ``patches`` applied meanwhile."""
    fresh()
    with _applied(*patches):
        return [_answer(op, body) for op, body in requests]


def test_patched_parse_gives_moto_s_own_parameters(aws_settings: Settings, moto_runs: type[_Moto]) -> None:
    # Given every operation's requests (and unusual but modelled ones), when they are parsed with the patch,
    corpus = _REQUESTS + _UNUSUAL
    undo = dynamodb_requests_parsed_as_json()
    try:
        assert dynamodb_requests_parsed_as_json() is undo  # applying it twice patches once
        patched = [_params(op, body) for op, body in corpus]
    finally:
        undo()
    # Then moto's parser never ran, and its own parse gives the same parameters (order and types included).
    assert moto_runs.parsed == 0
    plain = [_params(op, body) for op, body in corpus]
    assert moto_runs.parsed == len(corpus)
    assert patched == plain
    item = dict(dict(plain[0][1])["Item"][1])
    assert item["sk"] == ("dict", [("B", ("bytes", b"\x00\x01"))])  # the comparison sees the bytes
    unusual = dict(dict(plain[len(_REQUESTS)][1])["Item"][1])
    assert unusual["two"] == ("dict", [("S", ("str", "x")), ("N", ("str", "1"))])
    assert unusual["extra"] == ("dict", [("S", ("str", "x"))]) and unusual["none"] == ("dict", [])


def test_a_wrong_converter_is_seen_by_the_parse_comparison(
    aws_settings: Settings, moto_runs: type[_Moto], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a patch whose binaries are decoded wrongly (text instead of bytes, the same characters),
    monkeypatch.setattr(moto_wire, "_decode_blob", lambda text: base64.b64decode(text).decode("latin-1"))
    undo = dynamodb_requests_parsed_as_json()
    try:
        patched = [_params(op, body) for op, body in _REQUESTS]
    finally:
        undo()
    # Then the parameters differ from moto's; and the comparison tells order and type apart.
    assert patched != [_params(op, body) for op, body in _REQUESTS]
    assert _typed({"a": 1, "b": 2}) != _typed({"b": 2, "a": 1})
    assert _typed({"B": b"x"}) != _typed({"B": "x"})
    assert _typed([1]) != _typed([1.0])


def test_unexpected_requests_are_parsed_by_moto(aws_settings: Settings, moto_runs: type[_Moto]) -> None:
    # Given requests that are not UTF-8 JSON of the modelled types, or use legacy parameters,
    undo = dynamodb_requests_parsed_as_json()
    try:
        patched = [_params(op, body) for op, body in _UNEXPECTED]
    finally:
        undo()
    # Then each went to moto's parser (but the body that is not UTF-8, which moto refuses before it parses),
    # which gave what it gives unpatched (an error where it fails).
    assert moto_runs.parsed == len(_UNEXPECTED) - 1
    assert patched == [_params(op, body) for op, body in _UNEXPECTED]
    assert ("raised", "Error", "Incorrect padding") in patched
    # Twin: the modelled requests did not go to moto's parser (the count can stay still).
    before = moto_runs.parsed
    with _applied(dynamodb_requests_parsed_as_json):
        for op, body in _REQUESTS:
            _params(op, body)
    assert moto_runs.parsed == before


def test_bodies_of_other_types_are_parsed_as_moto_parses_them(moto_runs: type[_Moto]) -> None:
    from moto.core.parse import JSONParser
    from moto.core.utils import get_service_model

    operation = get_service_model("dynamodb").operation_model("GetItem")
    text = json.dumps({"TableName": _TABLE, "Key": _key("p", b"\x01")})
    # Given a body as text, and as a bytearray with a byte order mark (moto keeps the mark and fails on it),
    bodies: list[Any] = [text, bytearray(b"\xef\xbb\xbf" + text.encode()), text.encode()]
    plain = [_typed(JSONParser(operation).parse({"body": body})) for body in bodies]  # type: ignore[typeddict-item]
    with _applied(dynamodb_requests_parsed_as_json):
        patched = [_typed(JSONParser(operation).parse({"body": body})) for body in bodies]  # type: ignore[typeddict-item]
    # Then the patch parses the text as moto does, and leaves the bytearray to moto.
    assert patched == plain
    assert plain[1] == ("dict", []) and plain[0] == plain[2] != plain[1]
    assert moto_runs.parsed == len(bodies) + 1


def test_patched_answers_are_moto_s_own(fresh_table: Callable[[], None], moto_runs: type[_Moto]) -> None:
    # Given the same requests on an empty table, answered by moto unpatched,
    plain = _answers(fresh_table, _REQUESTS)
    assert moto_runs.written > 0
    # When they are answered with both patches (and with the local cloud's item patch, in either order),
    moto_runs.written = 0
    both = _answers(fresh_table, _REQUESTS, dynamodb_requests_parsed_as_json, dynamodb_answers_written_as_json)
    assert moto_runs.written == 0  # every success answer was written by the patch
    with_items = _answers(fresh_table, _REQUESTS, items_serialized_as_json, dynamodb_answers_written_as_json)
    items_first = _answers(fresh_table, _REQUESTS, dynamodb_answers_written_as_json, items_serialized_as_json)
    assert moto_runs.written == 0
    items_alone = _answers(fresh_table, _REQUESTS, items_serialized_as_json)
    # Then status, headers (the body's CRC included) and body text are moto's, request by request (and
    # beside the item patch, which writes its items more compactly, what that patch alone writes).
    assert both == plain
    assert with_items == items_alone
    assert items_first == items_alone
    assert items_alone != plain
    assert '"LastEvaluatedKey": {"pk": {"S": "q"}, "sk": {"B": "Bv8="}}' in plain[9][2]
    assert plain[8][2].startswith('{"UnprocessedItems": {}, "ItemCollectionMetrics": {}, "ConsumedCapacity": [')
    assert sum(answer[0] == 400 for answer in plain) == 2  # the failed condition and the cancelled transaction
    # Twin: another item gives other answers (the comparison can fail).
    other = [(op, json.loads(json.dumps(body).replace("named B", "named C"))) for op, body in _REQUESTS]
    assert _answers(fresh_table, other, dynamodb_answers_written_as_json) != plain


def test_a_wrong_encoder_is_seen_by_the_answer_comparison(
    fresh_table: Callable[[], None], moto_runs: type[_Moto], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _answers(fresh_table, _REQUESTS)
    # Given a patch that writes binaries unpadded (a body a client may still read),
    monkeypatch.setattr(moto_wire, "_encode_blob", lambda value: base64.b64encode(value).decode().rstrip("="))
    # Then its answers differ from moto's.
    assert _answers(fresh_table, _REQUESTS, dynamodb_answers_written_as_json) != plain


def test_unexpected_requests_get_moto_s_own_answers(fresh_table: Callable[[], None], moto_runs: type[_Moto]) -> None:
    # Given malformed and unusual requests after the usual ones,
    corpus = _REQUESTS + _UNUSUAL + _UNEXPECTED
    plain = _answers(fresh_table, corpus)
    # When they are answered with both patches, Then every answer (or error) is moto's.
    patched = _answers(fresh_table, corpus, dynamodb_requests_parsed_as_json, dynamodb_answers_written_as_json)
    assert patched == plain
    assert any(answer[0] == "raised" for answer in plain) and any(answer[0] == 400 for answer in plain)
    # Twin: a different request sequence answers differently.
    assert _answers(fresh_table, corpus[1:], dynamodb_answers_written_as_json) != plain[1:]


def test_results_the_patch_does_not_model_are_written_by_moto(
    fresh_table: Callable[[], None], moto_runs: type[_Moto]
) -> None:
    from moto.core.serialize import JSONSerializer, XFormedAttributePicker
    from moto.core.utils import get_service_model

    operation = get_service_model("dynamodb").operation_model("BatchWriteItem")

    def write(result: Any) -> Any:
        return JSONSerializer(operation, value_picker=XFormedAttributePicker()).serialize(result)

    # Given results moto writes its own way (an alias key, a null in a list, a structure under an empty key,
    # a bool where a double is modelled, a non-dict result),
    odd: list[Any] = [
        {"UnprocessedItems": {}, "consumed_capacity": [{"TableName": "t"}]},
        {"ConsumedCapacity": [None]},
        {"UnprocessedItems": {"t": [{"PutRequest": {"Item": {"": {"S": "x"}}}}]}},
        {"ConsumedCapacity": [{"CapacityUnits": True}]},
        None,
    ]
    plain = [write(result) for result in odd]
    assert moto_runs.written == len(odd)
    # When the patch writes them, Then moto wrote each, as unpatched.
    with _applied(dynamodb_answers_written_as_json):
        assert [write(result) for result in odd] == plain
        assert moto_runs.written == 2 * len(odd)
        # Twin: a plain result is the patch's own.
        write({"UnprocessedItems": {}, "ConsumedCapacity": []})
        assert moto_runs.written == 2 * len(odd)


def _alias_hazards(shape: Any, seen: set[str]) -> list[str]:
    """Members whose value moto might pick under another member's name (see ``_compile_output``)."""
    if shape.name in seen:
        return []
    seen.add(shape.name)
    found: list[str] = []
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            aliases = {xform_name(name), member.serialization.get("name", name)}
            if member.type_name in ("list", "structure") and member.name not in shape.members:
                aliases |= {member.name, xform_name(member.name)}
            found += [f"{shape.name}.{name}: {alias}" for alias in sorted(aliases - {name}) if alias in shape.members]
            if member.serialization.get("name", name) != name or name.lower().startswith("dict"):
                found.append(f"{shape.name}.{name}")
            found += _alias_hazards(member, seen)
    elif shape.type_name == "list":
        found += _alias_hazards(shape.member, seen)
    elif shape.type_name == "map":
        found += _alias_hazards(shape.value, seen)
    return found


def test_no_output_member_is_picked_under_another_member_s_name() -> None:
    from botocore.model import ShapeResolver
    from moto.core.utils import get_service_model

    # Given the output shapes of the operations the patch writes, Then none has an alias hazard.
    service = get_service_model("dynamodb")
    seen: set[str] = set()
    outputs = [service.operation_model(op).output_shape for op in sorted(moto_wire._OPERATIONS)]
    assert [hazard for shape in outputs for hazard in _alias_hazards(shape, seen)] == []
    # Twin: a structure with a member named like another's snake_case form, or like another's shape, is found.
    resolver = ShapeResolver({"Out": {"type": "structure", "members": {"TableName": {"shape": "Name"},
                                                                        "table_name": {"shape": "Name"},
                                                                        "Units": {"shape": "Capacity"},
                                                                        "capacity": {"shape": "Name"}}},
                              "Capacity": {"type": "structure", "members": {}},
                              "Name": {"type": "string"}})  # fmt: skip
    hazard = resolver.get_shape_by_name("Out")
    assert _alias_hazards(hazard, set()) == ["Out.TableName: table_name", "Out.Units: capacity"]
    # And the patch leaves such a structure to moto, but compiles DynamoDB's own.
    assert moto_wire._compile_output(hazard) is moto_wire._unmodelled
    assert all(moto_wire._compile_output(shape) is not moto_wire._unmodelled for shape in outputs)


def test_undo_restores_moto_s_parser_and_serializer(moto_runs: type[_Moto]) -> None:
    from moto.core.parse import JSONParser
    from moto.core.serialize import JSONSerializer

    before = (JSONParser.parse, JSONSerializer.serialize, "parse" in JSONParser.__dict__)
    undo_parse, undo_write = dynamodb_requests_parsed_as_json(), dynamodb_answers_written_as_json()
    assert dynamodb_answers_written_as_json() is undo_write  # applying it twice patches once
    assert (JSONParser.parse, JSONSerializer.serialize) != before[:2]
    undo_write()
    undo_parse()
    assert (JSONParser.parse, JSONSerializer.serialize, "parse" in JSONParser.__dict__) == before
