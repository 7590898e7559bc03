"""``scms_cli.local.moto_conditions``: moto accepts and refuses the same writes, and keeps the same tables, with it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from scms_service.config import Settings

from scms_cli.local import moto_conditions
from scms_cli.local.moto_conditions import condition_parses_reused, item_validation_short_cut

_TABLE = "conditions"
_BKEYS = "binaryKeys"


@pytest.fixture
def moto_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's own parse and validation during the test, put back as found afterwards.

    A local cloud started earlier in this worker may have left the patches applied.
    """
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.models.table import Table

    for owner, name in ((ConditionExpressionParser, "parse"), (Table, "_validate_item_types"),
                        (Table, "_validate_key_sizes")):  # fmt: skip
        monkeypatch.setattr(owner, name, getattr(owner, name))  # restored after the test
    for patched in (ConditionExpressionParser.parse, Table._validate_item_types):
        undo = getattr(patched, "_scms_undo", None)
        if undo is not None:
            undo()


@pytest.fixture
def client(aws_settings: Settings, moto_own: None) -> Any:
    """A DynamoDB client that sends what it is given (no parameter validation) and never retries."""
    return boto3.client("dynamodb", config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))


def _fresh_tables(client: Any) -> None:
    """The two test tables, empty: ``conditions`` (S keys and a GSI with a binary range key), ``binaryKeys``."""
    existing = client.list_tables()["TableNames"]
    for name in (_TABLE, _BKEYS):
        if name in existing:
            client.delete_table(TableName=name)
    client.create_table(
        TableName=_TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in
                              (("pk", "S"), ("sk", "S"), ("g", "S"), ("r", "B"))],
        GlobalSecondaryIndexes=[{"IndexName": "byG", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
            {"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}]}],
    )  # fmt: skip
    client.create_table(TableName=_BKEYS, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "B"}])  # fmt: skip


def _outcome(call: Callable[..., Any], **kwargs: Any) -> tuple[Any, ...]:
    """What the caller sees: the answer, moto's refusal (code, message, reasons, old item) or what it raised."""
    try:
        out = call(**kwargs)
    except ClientError as exc:
        response = exc.response
        return ("refused", response["Error"], response.get("CancellationReasons"), response.get("Item"))
    except Exception as exc:  # in-process moto raises its parser's own errors: they must match too
        return ("raised", type(exc).__name__, str(exc))
    out.pop("ResponseMetadata", None)
    return ("accepted", out)


def _tables(client: Any) -> list[list[dict[str, Any]]]:
    """Every item of both tables, in a fixed order."""
    return [sorted(client.scan(TableName=name)["Items"], key=repr) for name in (_TABLE, _BKEYS)]


# --- condition expressions ---

_KEY = {"pk": {"S": "a"}, "sk": {"S": "1"}}
# Every attribute type, nested ones, and names that need a placeholder.
_BASE = {
    **_KEY, "n": {"N": "5"}, "s": {"S": "hello"}, "b": {"B": b"\x00\xff"}, "ss": {"SS": ["x", "y"]},
    "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"\x01", b"\x02"]}, "t": {"BOOL": True}, "z": {"NULL": True},
    "l": {"L": [{"S": "first"}, {"N": "2"}]}, "m": {"M": {"x": {"M": {"y": {"N": "1"}}}, "k": {"S": "v"}}},
    "state": {"S": "PENDING"}, "version": {"N": "3"},
}  # fmt: skip

# Another item, checked by a transaction's ConditionCheck: some conditions hold for it, some not.
_CHECKED = {**_BASE, "sk": {"S": "C"}, "n": {"N": "4"}, "s": {"S": "help"}, "l": {"L": [{"S": "first"}]}}

# (condition, names, values): each condition once or more with other values, then errors moto raises itself.
_CONDITIONS: list[tuple[str, dict[str, str] | None, dict[str, Any] | None]] = [
    ("attribute_exists(pk)", None, None),
    ("attribute_not_exists(pk)", None, None),
    ("attribute_not_exists(nope)", None, None),
    ("n = :v", None, {":v": {"N": "5"}}),
    ("n = :v", None, {":v": {"N": "6"}}),  # the same expression, another value: refused
    ("n = :v", None, {":v": {"N": "5.0"}}),
    ("n = :v", None, {":v": {"S": "5"}}),
    ("n < :v", None, {":v": {"N": "6"}}),
    ("n < :v", None, {":v": {"N": "5"}}),
    ("n <= :v", None, {":v": {"N": "5"}}),
    ("n > :v", None, {":v": {"N": "4"}}),
    ("n >= :v", None, {":v": {"N": "9"}}),
    ("n <> :v", None, {":v": {"N": "5"}}),
    ("n <> :v", None, {":v": {"N": "7"}}),
    ("#state = :expected AND version = :version", {"#state": "state"},
     {":expected": {"S": "PENDING"}, ":version": {"N": "3"}}),
    ("#state = :expected AND version = :version", {"#state": "state"},
     {":expected": {"S": "PENDING"}, ":version": {"N": "4"}}),
    ("#state = :expected AND version = :version", {"#state": "s"},  # the same text, another name
     {":expected": {"S": "hello"}, ":version": {"N": "3"}}),
    ("n BETWEEN :lo AND :hi", None, {":lo": {"N": "1"}, ":hi": {"N": "9"}}),
    ("n BETWEEN :lo AND :hi", None, {":lo": {"N": "6"}, ":hi": {"N": "9"}}),
    ("s IN (:a, :b, :c)", None, {":a": {"S": "x"}, ":b": {"S": "hello"}, ":c": {"S": "y"}}),
    ("s IN (:a, :b, :c)", None, {":a": {"S": "x"}, ":b": {"S": "z"}, ":c": {"S": "y"}}),
    ("begins_with(s, :p)", None, {":p": {"S": "he"}}),
    ("begins_with(s, :p)", None, {":p": {"S": "lo"}}),
    ("contains(ss, :e)", None, {":e": {"S": "y"}}),
    ("contains(ss, :e)", None, {":e": {"S": "w"}}),
    ("contains(s, :e)", None, {":e": {"S": "ell"}}),
    ("contains(ns, :e)", None, {":e": {"N": "2.5"}}),
    ("size(s) = :len", None, {":len": {"N": "5"}}),
    ("size(s) = :len", None, {":len": {"N": "4"}}),
    ("size(l) > :len", None, {":len": {"N": "1"}}),
    ("size(m) < :len", None, {":len": {"N": "2"}}),
    ("m.x.y = :v", None, {":v": {"N": "1"}}),
    ("m.x.y = :v", None, {":v": {"N": "2"}}),
    ("#m.#x.y = :v", {"#m": "m", "#x": "x"}, {":v": {"N": "1"}}),
    ("l[0] = :v", None, {":v": {"S": "first"}}),
    ("l[1] = :v", None, {":v": {"S": "first"}}),
    ("attribute_type(n, :t)", None, {":t": {"S": "N"}}),
    ("attribute_type(n, :t)", None, {":t": {"S": "S"}}),
    ("NOT attribute_exists(nope) AND (n = :v OR s = :w)", None, {":v": {"N": "0"}, ":w": {"S": "hello"}}),
    ("NOT attribute_exists(nope) AND (n = :v OR s = :w)", None, {":v": {"N": "0"}, ":w": {"S": "bye"}}),
    ("attribute_not_exists(pk) OR expiresAt < :now", None, {":now": {"N": "10"}}),
    ("attribute_exists(pk) AND (#st = :p OR newCertId = :c)", {"#st": "state"},
     {":p": {"S": "PENDING"}, ":c": {"S": "c"}}),
    # Values of every type, each compared with the attribute of its type.
    ("b = :v", None, {":v": {"B": b"\x00\xff"}}),
    ("b = :v", None, {":v": {"B": b"\x00\xfe"}}),
    ("ss = :v", None, {":v": {"SS": ["y", "x"]}}),
    ("ns = :v", None, {":v": {"NS": ["2.5", "1"]}}),
    ("bs = :v", None, {":v": {"BS": [b"\x02", b"\x01"]}}),
    ("bs = :v", None, {":v": {"BS": [b"\x02"]}}),
    ("l = :v", None, {":v": {"L": [{"S": "first"}, {"N": "2"}]}}),
    ("l = :v", None, {":v": {"L": [{"S": "first"}]}}),
    ("m = :v", None, {":v": {"M": {"x": {"M": {"y": {"N": "1"}}}, "k": {"S": "v"}}}}),
    ("m = :v", None, {":v": {"M": {"k": {"S": "v"}}}}),
    ("t = :v", None, {":v": {"BOOL": True}}),
    ("t = :v", None, {":v": {"BOOL": False}}),
    ("z = :v", None, {":v": {"NULL": True}}),
    # Errors after the same text parsed well: a NULL bound of BETWEEN, a missing value, no values.
    ("n BETWEEN :lo AND :hi", None, {":lo": {"NULL": True}, ":hi": {"N": "9"}}),
    ("n = :v", None, {":w": {"N": "5"}}),
    ("n = :v", None, None),
    ("#m.#x.y = :v", {"#m": "m"}, {":v": {"N": "1"}}),
    ("#m.#x.y = :v", {"#m": "m", "#x": "x", "#unused": "u"}, {":v": {"N": "1"}}),
    ("#m.#x.y = :v", {"#m": "m", "#x": "x", "#unused": "u"}, {":v": {"N": "1"}}),  # refused again from the cache
    # Malformed expressions: moto's own errors.
    ("n = = :v", None, {":v": {"N": "5"}}),
    ("attribute_exists(", None, None),
    ("n BETWEEN :lo", None, {":lo": {"N": "1"}}),
    ("((n = :v))", None, {":v": {"N": "5"}}),
    ("status = :v", None, {":v": {"N": "5"}}),
    ("(n = :v", None, {":v": {"N": "5"}}),
    ("n = :v", None, {":v": {"N": "5"}}),  # and the text still answers well afterwards
]  # fmt: skip


def _names_values(names: dict[str, str] | None, values: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if names is not None:
        out["ExpressionAttributeNames"] = names
    if values is not None:
        out["ExpressionAttributeValues"] = values
    return out


def _condition_outcomes(client: Any) -> list[Any]:
    """The corpus's conditions in a PutItem, an UpdateItem, a DeleteItem, a transaction, a query's and a scan's
    filter, each outcome, then both tables."""
    _fresh_tables(client)
    client.put_item(TableName=_TABLE, Item=_BASE)
    client.put_item(TableName=_TABLE, Item=_CHECKED)
    others = [
        {"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"S": f"{i + 2}"}, "n": {"N": str(i)}}}} for i in range(5)
    ]
    client.batch_write_item(RequestItems={_TABLE: others})
    outcomes: list[Any] = []
    for seq, (condition, names, values) in enumerate(_CONDITIONS):
        extra = _names_values(names, values)
        item = {**_BASE, "seq": {"N": str(seq)}}  # which put won stays in the table
        outcomes.append(_outcome(client.put_item, TableName=_TABLE, Item=item, ConditionExpression=condition,
                                 ReturnValuesOnConditionCheckFailure="ALL_OLD", **extra))  # fmt: skip
        outcomes.append(_outcome(client.update_item, TableName=_TABLE, Key=_KEY, ConditionExpression=condition,
                                 UpdateExpression="SET #upd = :upd", **_with_update(extra, seq)))  # fmt: skip
        outcomes.append(_outcome(client.transact_write_items, TransactItems=[
            {"Put": {"TableName": _TABLE, "Item": {**_KEY, "sk": {"S": f"T{seq}"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"ConditionCheck": {"TableName": _TABLE, "Key": {**_KEY, "sk": _CHECKED["sk"]},
                                "ConditionExpression": condition, **extra}},
            {"Put": {"TableName": _TABLE, "Item": item, "ConditionExpression": condition, **extra}},
        ]))  # fmt: skip
        outcomes.append(_outcome(client.query, TableName=_TABLE, KeyConditionExpression="pk = :pk",
                                 FilterExpression=condition,
                                 **_with_key_value(extra)))  # fmt: skip
        outcomes.append(_outcome(client.scan, TableName=_TABLE, FilterExpression=condition, **extra))
        outcomes.append(_outcome(client.delete_item, TableName=_TABLE, Key={**_KEY, "sk": {"S": f"{seq % 5 + 2}"}},
                                 ConditionExpression=condition, **extra))  # fmt: skip
    return [outcomes, _tables(client)]


def _with_update(extra: dict[str, Any], seq: int) -> dict[str, Any]:
    names = {**extra.get("ExpressionAttributeNames", {}), "#upd": "updated"}
    values = {**(extra.get("ExpressionAttributeValues") or {}), ":upd": {"N": str(seq)}}
    return {**extra, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}


def _with_key_value(extra: dict[str, Any]) -> dict[str, Any]:
    values = {**(extra.get("ExpressionAttributeValues") or {}), ":pk": {"S": "a"}}
    return {**extra, "ExpressionAttributeValues": values}


def test_reused_parses_accept_and_refuse_what_moto_does(client: Any) -> None:
    # Given the corpus answered by moto's own parser,
    plain = _condition_outcomes(client)
    # When it is answered again with the parses reused,
    undo = condition_parses_reused()
    try:
        assert condition_parses_reused() is undo  # applying it twice patches once
        patched = _condition_outcomes(client)
        shapes = _shapes()
    finally:
        undo()
    # Then every answer, refusal and error is the same, and so are the tables; most parses were reused.
    assert patched == plain
    assert shapes.hits > shapes.misses > 0
    outcomes = plain[0]
    kinds = {o[0] for o in outcomes}
    assert kinds == {"accepted", "refused", "raised"}  # the corpus reaches every kind of answer
    assert outcomes[6 * 3][0] == "accepted" and outcomes[6 * 4][0] == "refused"  # n = 5, then n = 6
    # Twin: a table that differs by one item gives a different answer (the comparison can fail).
    client.put_item(TableName=_TABLE, Item={**_KEY, "sk": {"S": "extra"}})
    assert _tables(client) != plain[1]


def _shapes() -> Any:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    return ConditionExpressionParser.parse._scms_shapes  # type: ignore[attr-defined]


def test_a_parse_reused_without_its_values_is_caught(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given moto's own answers,
    plain = _condition_outcomes(client)
    # When the kept tree keeps the first request's values and later requests get them (a cache blind to values),
    monkeypatch.setattr(moto_conditions, "_unbound", lambda node, kind: node)
    monkeypatch.setattr(moto_conditions, "_bound", lambda node, values, kind: node)
    undo = condition_parses_reused()
    try:
        wrong = _condition_outcomes(client)
    finally:
        undo()
    # Then the comparison sees it: some answers differ.
    assert wrong[0] != plain[0]


def _count_lexes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    lexed: list[str] = []
    lex = ConditionExpressionParser._lex_condition_expression

    def counted(self: Any) -> Any:
        lexed.append(self.condition_expression)
        return lex(self)

    monkeypatch.setattr(ConditionExpressionParser, "_lex_condition_expression", counted)
    return lexed


def test_the_same_condition_is_lexed_once(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 20 puts and a 20-item transaction with attribute_not_exists(pk), and moto's lexer counted,
    _fresh_tables(client)
    lexed = _count_lexes(monkeypatch)

    def writes(tag: str) -> None:
        for n in range(20):
            client.put_item(TableName=_TABLE, Item={"pk": {"S": tag}, "sk": {"S": str(n)}},
                            ConditionExpression="attribute_not_exists(pk)")  # fmt: skip
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": _TABLE, "Item": {"pk": {"S": tag}, "sk": {"S": f"t{n}"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}} for n in range(20)])  # fmt: skip

    # When they are answered with the parses reused, Then the text is lexed once,
    undo = condition_parses_reused()
    try:
        writes("patched")
    finally:
        undo()
    assert lexed == ["attribute_not_exists(pk)"]
    # Twin: moto's own parser lexes it for every parse (twice per put, three times per transaction item).
    lexed.clear()
    writes("plain")
    assert len(lexed) == 20 * 2 + 20 * 3


def _parse(condition: str, values: dict[str, Any] | None) -> Any:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    return ConditionExpressionParser(condition, None, values).parse()


def test_the_kept_parses_are_bounded(moto_own: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given room for two shapes, when three are parsed,
    lexed = _count_lexes(monkeypatch)
    undo = condition_parses_reused(size=2)
    try:
        for condition in ("a = :v", "b = :v", "c = :v"):
            _parse(condition, {":v": {"N": "1"}})
        assert len(_shapes()) == 2
        # Then the oldest is parsed again, the newest is reused.
        lexed.clear()
        _parse("c = :v", {":v": {"N": "2"}})
        assert lexed == []
        _parse("a = :v", {":v": {"N": "2"}})
        assert lexed == ["a = :v"]  # twin of the reuse above
    finally:
        undo()


def test_concurrent_parses_each_see_their_own_values(moto_own: None) -> None:
    # Given 8 threads that parse the same few texts with their own values, through a cache smaller than the texts,
    from moto.dynamodb.models.dynamo_type import Item

    undo = condition_parses_reused(size=2)
    conditions = ["n = :v", "n >= :v AND n <= :v", "NOT n <> :v", "n IN (:v, :w)"]
    start = threading.Barrier(8)
    wrong: list[tuple[int, int, str]] = []

    def work(worker: int) -> None:
        start.wait()
        for round_ in range(150):
            number = worker * 1000 + round_
            condition = conditions[round_ % len(conditions)]
            op = _parse(condition, {":v": {"N": str(number)}, ":w": {"N": "-1"}} if ":w" in condition
                        else {":v": {"N": str(number)}})  # fmt: skip
            item = Item(None, None, {"n": {"N": str(number)}})  # type: ignore[arg-type]
            other = Item(None, None, {"n": {"N": str(number + 1)}})  # type: ignore[arg-type]
            if not op.expr(item) or op.expr(other):
                wrong.append((worker, round_, condition))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        shapes = _shapes()
    finally:
        undo()
    # Then every parse matched its own value and no other (each op holds the values it was given).
    assert wrong == []
    assert shapes.hits > 0 and len(shapes) == 2
    # Twin: an operator bound to another thread's value is seen by the same check.
    op = _parse("n = :v", {":v": {"N": "7"}})
    assert not op.expr(Item(None, None, {"n": {"N": "8"}}))  # type: ignore[arg-type]


def test_undo_restores_moto_s_parse(moto_own: None) -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    before = ConditionExpressionParser.parse
    undo = condition_parses_reused()
    assert ConditionExpressionParser.parse is not before
    undo()
    assert ConditionExpressionParser.parse is before


# --- item validation ---

_E2048 = "é" * 1024  # 2,048 UTF-8 bytes: the largest hash key
_E1024 = "é" * 512  # 1,024 UTF-8 bytes: the largest range key

# Items for ``conditions`` (pk, sk; the index's g, r) and ``binaryKeys`` (pk): well-formed, then each refusal
# moto's validation makes, in an order that shows which check ran first.
_ITEMS: list[tuple[str, dict[str, Any]]] = [
    (_TABLE, {**_BASE, "sk": {"S": "rich"}}),
    (_TABLE, {**_KEY, "sk": {"S": "names"}, "N": {"S": "x"}, "S": {"N": "1"}, "NULL": {"BOOL": True},
              "M": {"M": {"N": {"S": "x"}, "S": {"N": "2"}}}, "B": {"B": b""}, "BOOL": {"NULL": True}}),
    (_TABLE, {**_KEY, "sk": {"S": "n1"}, "n": {"N": "abc"}}),
    (_TABLE, {**_KEY, "sk": {"S": "n2"}, "n": {"N": " 1"}}),
    (_TABLE, {**_KEY, "sk": {"S": "n3"}, "n": {"N": "1e200"}}),
    (_TABLE, {**_KEY, "sk": {"S": "n4"}, "n": {"N": "1e-200"}}),
    (_TABLE, {**_KEY, "sk": {"S": "n5"}, "n": {"N": "NaN"}}),
    (_TABLE, {**_KEY, "sk": {"S": "n6"}, "n": {"N": "Infinity"}}),
    (_TABLE, {**_KEY, "sk": {"S": "n7"}, "n": {"N": "-0.0"}, "o": {"N": "9.99999999999999999999999999E+125"}}),
    (_TABLE, {**_KEY, "sk": {"S": "n8"}, "n": {"N": 5}}),
    (_TABLE, {**_KEY, "sk": {"S": "n9"}, "n": {"N": 1.5}}),
    (_TABLE, {**_KEY, "sk": {"S": "s1"}, "s": {"S": 5}}),
    (_TABLE, {**_KEY, "sk": {"S": "s2"}, "s": {"S": True}}),
    (_TABLE, {**_KEY, "sk": {"S": "b1"}, "t": {"BOOL": "true"}}),
    (_TABLE, {**_KEY, "sk": {"S": "z1"}, "z": {"NULL": False}}),
    (_TABLE, {**_KEY, "sk": {"S": "z2"}, "z": {"NULL": "yes"}}),
    (_TABLE, {**_KEY, "sk": {"S": "m1"}, "m": {"M": {"inner": {"N": "bad"}}}}),
    (_TABLE, {**_KEY, "sk": {"S": "m2"}, "m": {"M": {"inner": {"NULL": False}}}}),
    (_TABLE, {**_KEY, "sk": {"S": "l1"}, "l": {"L": [{"N": "bad"}]}}),
    (_TABLE, {**_KEY, "sk": {"S": "ns1"}, "ns": {"NS": ["1", "bad"]}}),
    (_TABLE, {**_KEY, "sk": {"S": "two1"}, "a": {"N": "bad1"}, "b": {"NULL": False}}),
    (_TABLE, {**_KEY, "sk": {"S": "two2"}, "b": {"NULL": False}, "a": {"N": "bad1"}}),
    (_TABLE, {**_KEY, "sk": {"S": "two3"}, "a": {"N": "bad1"}, "c": {"N": "bad2"}}),
    (_TABLE, {**_KEY, "sk": {"S": "g1"}, "g": {"S": {"x": "y"}}}),
    (_TABLE, {**_KEY, "sk": {"S": "mixed"}, "x": {"S": "s", "N": "1"}}),
    # Key sizes: the largest accepted, one byte more refused; the hash key is checked before the range keys.
    (_TABLE, {"pk": {"S": _E2048}, "sk": {"S": _E1024}}),
    (_TABLE, {"pk": {"S": _E2048 + "a"}, "sk": {"S": "k1"}}),
    (_TABLE, {"pk": {"S": "a" * 2049}, "sk": {"S": "k2"}}),
    (_TABLE, {**_KEY, "sk": {"S": _E1024 + "a"}}),
    (_TABLE, {"pk": {"S": _E2048 + "a"}, "sk": {"S": _E1024 + "a"}}),
    (_TABLE, {**_KEY, "sk": {"S": "k3"}, "g": {"S": _E2048}, "r": {"B": b"\x01" * 1024}}),
    (_TABLE, {**_KEY, "sk": {"S": "k4"}, "g": {"S": _E2048 + "a"}}),
    (_TABLE, {**_KEY, "sk": {"S": "k5"}, "g": {"S": "g"}, "r": {"B": b"\x01" * 1025}}),
    (_TABLE, {**_KEY, "sk": {"S": _E1024 + "a"}, "g": {"S": _E2048 + "a"}}),
    (_TABLE, {**_KEY, "sk": {"S": "k6"}, "g": {"N": "1" * 30}}),
    (_TABLE, {**_KEY, "sk": {"S": "k7"}, "g": {"S": ""}}),
    (_TABLE, {**_KEY, "sk": {"S": "k8"}, "g": {"S": "\ud800"}}),
    (_TABLE, {**_KEY, "sk": {"S": "k9"}, "g": {"M": {"S": {"S": "x"}}}}),
    (_BKEYS, {"pk": {"B": b"\xff" * 2048}}),
    (_BKEYS, {"pk": {"B": b"\xff" * 2049}}),
    (_BKEYS, {"pk": {"B": b""}}),
]  # fmt: skip


def _validation_outcomes(client: Any) -> list[Any]:
    """Each corpus item in a PutItem, in a transaction and in a batch, each outcome, then both tables."""
    _fresh_tables(client)
    outcomes: list[Any] = []
    for n, (table, item) in enumerate(_ITEMS):
        outcomes.append(_outcome(client.put_item, TableName=table, Item=item))
        moved = {**item, "pk": {"B": b"t%d" % n}} if table == _BKEYS else {**item, "sk": {"S": f"T{n}"}}
        put = {"Put": {"TableName": table, "Item": moved, "ConditionExpression": "attribute_not_exists(pk)"}}
        outcomes.append(_outcome(client.transact_write_items, TransactItems=[put]))
        batched = {**item, "pk": {"B": b"w%d" % n}} if table == _BKEYS else {**item, "sk": {"S": f"W{n}"}}
        outcomes.append(_outcome(client.batch_write_item, RequestItems={table: [{"PutRequest": {"Item": batched}}]}))
    return [outcomes, _tables(client)]


def test_short_cut_validation_accepts_and_refuses_what_moto_does(client: Any) -> None:
    # Given the items answered by moto's own validation,
    plain = _validation_outcomes(client)
    # When they are answered again with the short cut,
    undo = item_validation_short_cut()
    try:
        assert item_validation_short_cut() is undo  # applying it twice patches once
        patched = _validation_outcomes(client)
    finally:
        undo()
    # Then every answer and the tables are the same; the corpus reaches acceptance, refusal and errors.
    assert patched == plain
    assert {o[0] for o in plain[0]} == {"accepted", "refused", "raised"}
    refusals = {o[1]["Message"] for o in plain[0] if o[0] == "refused"}
    assert any("Size of hashkey" in m for m in refusals) and any("range keys" in m for m in refusals)
    # Twin: a table that differs by one item gives a different answer (the comparison can fail).
    client.put_item(TableName=_BKEYS, Item={"pk": {"B": b"extra"}})
    assert _tables(client) != plain[1]


def test_a_short_cut_that_skips_number_checks_is_caught(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _validation_outcomes(client)
    monkeypatch.setattr(moto_conditions, "_PLAIN", {*moto_conditions._PLAIN, ("N", str)})
    undo = item_validation_short_cut()
    try:
        wrong = _validation_outcomes(client)
    finally:
        undo()
    assert wrong != plain


def test_a_key_measured_in_characters_is_caught(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _validation_outcomes(client)
    monkeypatch.setattr(moto_conditions, "_plain_size", len)
    undo = item_validation_short_cut()
    try:
        wrong = _validation_outcomes(client)
    finally:
        undo()
    assert wrong != plain


def test_undo_restores_moto_s_validation(moto_own: None) -> None:
    from moto.dynamodb.models.table import Table

    before = (Table._validate_item_types, Table._validate_key_sizes)
    undo = item_validation_short_cut()
    assert (Table._validate_item_types, Table._validate_key_sizes) != before
    undo()
    assert (Table._validate_item_types, Table._validate_key_sizes) == before


def test_unusual_shapes_go_to_moto_s_parse(moto_own: None) -> None:
    # Given the patch, when a parse has no text, names that are not a dict, or unhashable names,
    undo = condition_parses_reused()
    try:
        shapes = _shapes()
        assert type(_parse("", None)).__name__ == "OpDefault"
        from moto.dynamodb.comparisons import ConditionExpressionParser

        with pytest.raises(TypeError):  # moto's own error for names given as a list
            ConditionExpressionParser("#a = :v", [("#a", "n")], {":v": {"N": "1"}}).parse()  # type: ignore[arg-type]
        ConditionExpressionParser("#a = :v", {"#a": ["n"]}, {":v": {"N": "1"}}).parse()  # type: ignore[dict-item]
        # Then nothing was kept for them; twin: a usual parse is kept.
        assert len(shapes) == 0 and shapes.misses == 0
        _parse("n = :v", {":v": {"N": "1"}})
        assert len(shapes) == 1
    finally:
        undo()
