"""``scms_cli.local.moto_update_expressions``: moto answers, refuses and updates the same with it as without."""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.dynamodb.models.dynamo_type import DynamoType
from scms_service.config import Settings
from scms_service.stores.download_counters import DownloadCounter, DynamoDbDownloadCounterStore

from scms_cli.local import moto_update_expressions
from scms_cli.local.moto_update_expressions import (
    copy_tree,
    tree_builder,
    update_expression_parses_reused,
    update_validation_walks_typed_once,
)

# moto's parsing modules are untyped ("# type: ignore" at their top): read as Any.
_NODES: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
_PARSER: Any = importlib.import_module("moto.dynamodb.parsing.expressions").UpdateExpressionParser
_VALIDATORS: Any = importlib.import_module("moto.dynamodb.parsing.validators")

_TABLE = "updates"
_COUNTER = "SET #days.#today = #days.#today + :one, inWindow = inWindow + :one, #last = :now, #v = #v + :one, expiresAt = :expires"  # noqa: E501


def _active_undo() -> Any:
    return getattr(_PARSER.__dict__["make"].__func__, "_scms_undo", None)


def _active_walk_undo() -> Any:
    return getattr(_NODES.DepthFirstTraverser.traverse, "_scms_undo", None)


@pytest.fixture(autouse=True)
def _moto_as_shipped() -> Iterator[None]:
    """moto without these patches during each test (the local cloud's tests may have applied them in this process)."""
    patches = ((_active_undo(), update_expression_parses_reused),
               (_active_walk_undo(), update_validation_walks_typed_once))  # fmt: skip
    active = [(undo, apply) for undo, apply in patches if undo is not None]
    for undo, _ in active:
        undo()
    yield
    for left in (_active_undo(), _active_walk_undo()):
        if left is not None:
            left()
    for _, apply in active:
        apply()


@pytest.fixture
def client(aws_settings: Settings) -> Any:
    """A DynamoDB client that sends what it is given (no parameter validation) and never retries."""
    return boto3.client("dynamodb", config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))


def _trees() -> Any:
    return _PARSER.__dict__["make"].__func__._scms_trees


# --- the copy itself ---


def _graph(root: Any) -> list[Any]:
    """Every object reachable from ``root`` through moto's nodes and lists, numbered in the order first reached;
    each described by its class and what it holds (atoms as they are, other objects by number)."""
    numbers: dict[int, int] = {}
    order: list[Any] = []

    def ref(value: Any) -> Any:
        if isinstance(value, (_NODES.Node, list)):
            if id(value) not in numbers:
                numbers[id(value)] = len(order)
                order.append(value)
            return ("#", numbers[id(value)])
        return value

    ref(root)
    described: list[Any] = []
    for value in order:  # grows while it is read
        if isinstance(value, list):
            described.append(("list", [ref(member) for member in value]))
        else:
            described.append((type(value).__name__, {k: ref(v) for k, v in vars(value).items()}))
    return described


def _objects(root: Any) -> list[Any]:
    """The nodes and lists reachable from ``root``."""
    seen: dict[int, Any] = {}
    todo = [root]
    while todo:
        value = todo.pop()
        if id(value) in seen or not isinstance(value, (_NODES.Node, list)):
            continue
        seen[id(value)] = value
        todo.extend(value if isinstance(value, list) else vars(value).values())
    return list(seen.values())


_EXPRESSIONS = [
    _COUNTER,
    "SET l = list_append(l, :more), t = if_not_exists(t, :z) + :one REMOVE m.x.y, l[1], l[0]",
    "ADD ss :more, n :one DELETE bs :gone SET #m.#x.y = :v - n",
    "REMOVE a.b[3].c",
]


@pytest.mark.parametrize("text", _EXPRESSIONS)
def test_copy_tree_builds_what_deepcopy_builds_and_shares_no_node(text: str) -> None:
    tree = _PARSER.make(text)
    ours = copy_tree(tree)
    # The same classes, attributes, leaves, shared references and parent pointers as deepcopy's copy,
    assert _graph(ours) == _graph(copy.deepcopy(tree)) == _graph(tree)
    # and not one node or list of the original in it.
    assert not {id(o) for o in _objects(ours)} & {id(o) for o in _objects(tree)}
    # Twin: a copy that keeps the original's leaf nodes (names, placeholders) is caught by both checks (their
    # parent pointers lead back into the original).
    kept = {id(o): o for o in _objects(tree) if isinstance(o, _NODES.LeafNode)}
    shallow = copy_tree(tree, dict(kept))
    assert _graph(shallow) != _graph(tree)
    assert {id(o) for o in _objects(shallow)} & {id(o) for o in _objects(tree)}


@pytest.mark.parametrize("text", _EXPRESSIONS)
def test_a_tree_builder_builds_new_trees_deepcopy_would_build(text: str) -> None:
    # Given a parse and its builder,
    tree = _PARSER.make(text)
    build = tree_builder(tree)
    assert build is not None
    # When it builds twice,
    first, second = build(), build()
    # Then each is deepcopy's copy, and shares no node or list with the tree or the other.
    assert _graph(first) == _graph(second) == _graph(copy.deepcopy(tree))
    ids = [{id(o) for o in _objects(t)} for t in (tree, first, second)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    # Twin: a tree holding a typed value (a DynamoType, not a node) gets no builder: copy_tree copies it.
    typed = _NODES.UpdateExpressionValue(children=[_NODES.DDBTypedValue(DynamoType({"N": "1"}))])
    assert tree_builder(typed) is None


def test_each_parse_of_a_kept_text_is_a_new_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _COUNTER

    def three_parses() -> list[Any]:
        undo = update_expression_parses_reused()
        try:
            return [_PARSER.make(text) for _ in range(3)]
        finally:
            undo()

    # Given a text parsed once, When it is parsed twice more from the kept tree,
    trees = three_parses()
    # Then each is moto's parse, and no two share a node or a list.
    assert _graph(trees[1]) == _graph(trees[2]) == _graph(_PARSER.make(text))
    ids = [{id(o) for o in _objects(t)} for t in trees]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    # Twin: a builder that hands out the kept tree itself is caught.
    monkeypatch.setattr(moto_update_expressions, "tree_builder", lambda tree: lambda: tree)
    shared = three_parses()
    assert shared[1] is shared[2]


def test_copy_tree_keeps_a_parent_outside_the_tree_and_copies_other_values_with_deepcopy() -> None:
    # Given a path whose leaf's parent pointer names a node that is not in the tree (a stale parent), and a
    # typed value holding a list,
    leaf = _NODES.ExpressionAttribute("a")
    path = _NODES.UpdateExpressionPath(children=[leaf])
    _NODES.UpdateExpressionPath(children=[leaf])  # leaf.parent is now this other path
    typed = _NODES.DDBTypedValue(DynamoType({"L": [{"S": "x"}]}))
    for tree in (path, typed):
        # When copied, Then the copy is deepcopy's, stale parent included, and owns its value.
        ours = copy_tree(tree)
        assert _graph(ours) == _graph(copy.deepcopy(tree))
        assert not {id(o) for o in _objects(ours)} & {id(o) for o in _objects(tree)}
    copied_leaf = copy_tree(path).children[0]
    assert copied_leaf.parent is not leaf.parent and _graph(copied_leaf.parent) == _graph(leaf.parent)
    copied_typed = copy_tree(typed)
    assert copied_typed.children[0] == typed.children[0] and copied_typed.children[0] is not typed.children[0]
    assert copied_typed.children[0].value is not typed.children[0].value
    # Twin: a copy that dropped the stale parent for the tree's own would differ.
    assert _graph(path.children[0].parent) != _graph(path)


def test_the_parse_patch_applies_once_and_its_undo_restores_moto() -> None:
    make, deepcopy = _PARSER.__dict__["make"], _VALIDATORS.deepcopy
    undo = update_expression_parses_reused()
    assert update_expression_parses_reused() is undo
    assert _PARSER.__dict__["make"] is not make and _VALIDATORS.deepcopy is not deepcopy
    undo()
    assert _PARSER.__dict__["make"] is make and _VALIDATORS.deepcopy is deepcopy is copy.deepcopy


def test_the_walk_patch_applies_once_and_its_undo_restores_moto() -> None:
    traverse, find_clauses = _NODES.DepthFirstTraverser.traverse, _NODES.Node.find_clauses
    undo = update_validation_walks_typed_once()
    assert update_validation_walks_typed_once() is undo
    assert _NODES.DepthFirstTraverser.traverse is not traverse and _NODES.Node.find_clauses is not find_clauses
    undo()
    assert _NODES.DepthFirstTraverser.traverse is traverse and _NODES.Node.find_clauses is find_clauses


def test_a_traverser_with_its_own_walk_walks_as_moto_walks_it() -> None:
    # Given a traverser whose class overrides the recursive walk, and one that does not,
    seen: list[str] = []

    class Counting(_VALIDATORS.ActionCountValidator):  # type: ignore[misc]
        def traverse_node_recursively(self, node: Any, child_id: int = -1) -> Any:
            seen.append(type(node).__name__)
            return super().traverse_node_recursively(node, child_id)

    tree = _PARSER.make("SET a = :v")
    undo = update_validation_walks_typed_once()
    try:
        # When each walks the tree,
        Counting().traverse(tree)
        counted = list(seen)
        _VALIDATORS.ActionCountValidator().traverse(tree)
    finally:
        undo()
    # Then the overriding one went through its own method for every node (the patch left it to moto's walk),
    assert counted == [type(o).__name__ for o in _walk_order(tree)]
    # Twin: and the other did not call it.
    assert seen == counted


def _walk_order(root: Any) -> list[Any]:
    """The nodes and leaves of ``root`` in moto's walk order (a node before its children)."""
    out = [root]
    if isinstance(root, _NODES.Node):
        for child in root.children or []:
            out.extend(_walk_order(child))
    return out


def _pre_order_walk(self: Any, node: Any) -> Any:
    """A faulty walk: each node processed before its children instead of after them."""

    def walk(node: Any, child_id: int = -1) -> Any:
        if not isinstance(node, _NODES.Node):
            return node
        parent_node = node.parent
        if isinstance(node, self.nodes_to_be_processed()):
            node = self.process(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        for i, child_node in enumerate(node.children or []):
            self.pre_processing_of_child(node, i)
            walk(child_node, i)
        return node

    return walk(node)


def test_a_walk_in_another_order_is_caught(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given moto's answers,
    plain = _update_outcomes(client)
    # When the validators walk each node before its children,
    monkeypatch.setattr(_NODES.DepthFirstTraverser, "traverse", _pre_order_walk)
    faulty = _update_outcomes(client)
    monkeypatch.undo()
    # Then the comparison sees it.
    assert faulty != plain


# --- UpdateItem on moto ---

_KEY = {"pk": {"S": "a"}, "sk": {"S": "1"}}
_NEW = {"pk": {"S": "a"}, "sk": {"S": "new"}}
_BASE = {
    **_KEY, "n": {"N": "5"}, "s": {"S": "hello"}, "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b"\x01", b"\x02"]}, "l": {"L": [{"S": "first"}, {"N": "2"}, {"S": "third"}]},
    "m": {"M": {"x": {"M": {"y": {"N": "1"}}}, "k": {"S": "v"}}}, "g": {"N": "7"},
    "days": {"M": {"19000": {"N": "1"}}}, "day": {"N": "19000"}, "inWindow": {"N": "1"}, "last": {"N": "10"},
    "version": {"N": "1"},
}  # fmt: skip

_COUNTER_NAMES = {"#days": "days", "#today": "19000", "#last": "last", "#v": "version"}


def _counter_values(now: int) -> dict[str, Any]:
    return {":one": {"N": "1"}, ":now": {"N": str(now)}, ":expires": {"N": str(now + 99)}}


# (what it shows, key, update, names, values, extra request members, moto's answer: accepted, refused, or raised
# where in-process moto raises its own exception: a parenthesised value fails an assertion of its grammar, a name
# missing from ExpressionAttributeNames is a KeyError of its handler)
_Case = tuple[str, dict[str, Any], str, dict[str, str] | None, dict[str, Any] | None, dict[str, Any], str]
_N1 = {":one": {"N": "1"}}
_CASES: list[_Case] = [
    ("add one", _KEY, "SET n = n + :one", None, _N1, {}, "accepted"),
    ("the same text, another value", _KEY, "SET n = n + :one", None, {":one": {"N": "40"}}, {}, "accepted"),
    ("subtract", _KEY, "SET n = n - :d", None, {":d": {"N": "2.5"}}, {}, "accepted"),
    ("chained arithmetic", _KEY, "SET n = n + :a - :b + n", None, {":a": {"N": "3"}, ":b": {"N": "1"}}, {},
     "accepted"),
    ("grouped arithmetic", _KEY, "SET n = (n + :a) - :b", None, {":a": {"N": "3"}, ":b": {"N": "1"}}, {}, "raised"),
    ("if_not_exists, missing", _KEY, "SET t = if_not_exists(t, :z)", None, {":z": {"N": "0"}}, {}, "accepted"),
    ("if_not_exists, present", _KEY, "SET n = if_not_exists(n, :z)", None, {":z": {"N": "0"}}, {}, "accepted"),
    ("if_not_exists plus", _KEY, "SET t = if_not_exists(t, :z) + :one", None, {**_N1, ":z": {"N": "9"}}, {},
     "accepted"),
    ("list_append at the end", _KEY, "SET l = list_append(l, :more)", None, {":more": {"L": [{"S": "4th"}]}}, {},
     "accepted"),
    ("list_append in front", _KEY, "SET l = list_append(:more, l)", None, {":more": {"L": [{"N": "0"}]}}, {},
     "accepted"),
    ("list_append of a missing list", _KEY, "SET l = list_append(nope, :more)", None, {":more": {"L": []}}, {},
     "refused"),
    ("list_append of a string", _KEY, "SET l = list_append(s, :more)", None, {":more": {"L": []}}, {}, "refused"),
    ("map path with names", _KEY, "SET #m.#x.y = :v", {"#m": "m", "#x": "x"}, {":v": {"S": "deep"}}, {},
     "accepted"),
    ("the same text, other names", _KEY, "SET #m.#x.y = :v", {"#m": "m", "#x": "k"}, {":v": {"S": "deep"}}, {},
     "accepted"),
    ("a new nested key", _KEY, "SET m.x.z = :v, m.k = :w", None, {":v": {"N": "1"}, ":w": {"S": "w"}}, {},
     "accepted"),
    ("a path through a missing map", _KEY, "SET m.nope.z = :v", None, {":v": {"N": "1"}}, {}, "refused"),
    ("nested arithmetic", _KEY, "SET m.x.y = m.x.y + :one", None, _N1, {}, "accepted"),
    ("list index", _KEY, "SET l[0] = :v, l[7] = :w", None, {":v": {"S": "one"}, ":w": {"S": "last"}}, {},
     "accepted"),
    ("an index of a map", _KEY, "SET m[0] = :v", None, {":v": {"S": "x"}}, {}, "refused"),
    ("remove", _KEY, "REMOVE s, m.x.y", None, None, {}, "accepted"),
    ("remove list members", _KEY, "REMOVE l[0], l[2], l[1]", None, None, {}, "accepted"),
    ("add a number and to sets", _KEY, "ADD n :one, ss :more, ns :nums, fresh :more", None,
     {**_N1, ":more": {"SS": ["z"]}, ":nums": {"NS": ["3"]}}, {}, "accepted"),
    ("add a number to a string", _KEY, "ADD s :one", None, _N1, {}, "refused"),
    ("delete from sets", _KEY, "DELETE ss :gone, bs :bgone", None,
     {":gone": {"SS": ["x"]}, ":bgone": {"BS": [b"\x02"]}}, {}, "accepted"),
    ("delete a set's type mismatch", _KEY, "DELETE ss :gone", None, {":gone": {"NS": ["1"]}}, {}, "refused"),
    ("every clause", _KEY, "SET a = :a, b = :b REMOVE s ADD n :one DELETE ss :gone", None,
     {":a": {"S": "A"}, ":b": {"BOOL": True}, **_N1, ":gone": {"SS": ["y"]}}, {}, "accepted"),
    ("clauses in another order", _KEY, "REMOVE s DELETE ss :gone ADD n :one SET a = :a", None,
     {":a": {"NULL": True}, **_N1, ":gone": {"SS": ["y"]}}, {}, "accepted"),
    ("the counter", _KEY, _COUNTER, _COUNTER_NAMES, _counter_values(20),
     {"ConditionExpression": "#day = :day AND inWindow < :max AND #last <= :latest",
      "ExpressionAttributeNames": {**_COUNTER_NAMES, "#day": "day"}}, "accepted"),
    ("the counter, its condition false", _KEY, _COUNTER, _COUNTER_NAMES, _counter_values(20),
     {"ConditionExpression": "#day = :day AND inWindow < :max AND #last <= :latest",
      "ExpressionAttributeNames": {**_COUNTER_NAMES, "#day": "day"}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
      "_condition_values": {":day": {"N": "19000"}, ":max": {"N": "1"}, ":latest": {"N": "20"}}}, "refused"),
    ("a condition that fails", _KEY, "SET n = :v", None, {":v": {"N": "1"}},
     {"ConditionExpression": "n = :v"}, "refused"),
    ("a condition that holds", _KEY, "SET n = :v", None, {":v": {"N": "1"}, ":old": {"N": "5"}},
     {"ConditionExpression": "n = :old"}, "accepted"),
    ("a new item", _NEW, "SET n = :v, l = :l", None, {":v": {"N": "1"}, ":l": {"L": []}}, {}, "accepted"),
    ("a new item's counter", _NEW, "SET q = if_not_exists(q, :z) + :one", None, {**_N1, ":z": {"N": "0"}}, {},
     "accepted"),
    ("arithmetic on a missing attribute", _NEW, "SET n = n + :one", None, _N1, {}, "refused"),
    ("overlapping paths", _KEY, "SET m = :v, m.x = :w", None, {":v": {"M": {}}, ":w": {"N": "1"}}, {}, "refused"),
    ("one path twice", _KEY, "SET #a = :v, #b = :w", {"#a": "n", "#b": "n"}, {":v": {"N": "1"}, ":w": {"N": "2"}},
     {}, "refused"),
    ("a key attribute", _KEY, "SET pk = :v", None, {":v": {"S": "b"}}, {}, "refused"),
    ("a key attribute by name", _KEY, "SET #k = :v", {"#k": "sk"}, {":v": {"S": "b"}}, {}, "refused"),
    ("an index key of the wrong type", _KEY, "SET g = :v", None, {":v": {"S": "seven"}}, {}, "refused"),
    ("an index key emptied", _KEY, "SET g2 = :v", None, {":v": {"S": ""}}, {}, "refused"),
    ("arithmetic on a string", _KEY, "SET n = n + :s", None, {":s": {"S": "x"}}, {}, "refused"),
    ("a missing value", _KEY, "SET n = :missing, s = :one", None, _N1, {}, "refused"),
    ("a missing name", _KEY, "SET #nope = :one", None, _N1, {}, "raised"),
    ("an unused name", _KEY, "SET n = :one", {"#unused": "x"}, _N1, {}, "refused"),
    ("an unused value", _KEY, "SET n = :one", None, {**_N1, ":unused": {"N": "2"}}, {}, "refused"),
    ("a reserved word", _KEY, "SET size = :one", None, _N1, {}, "refused"),
    ("two SET clauses", _KEY, "SET n = :one SET s = :one", None, _N1, {}, "refused"),
    ("malformed", _KEY, "SET n = ", None, None, {}, "refused"),
    ("malformed again", _KEY, "SET n = ", None, None, {}, "refused"),
    ("an unknown clause", _KEY, "UPSERT n = :one", None, _N1, {}, "refused"),
    ("the first text still answers", _KEY, "SET n = n + :one", None, {":one": {"N": "-1"}}, {}, "accepted"),
]  # fmt: skip


def _fresh_table(client: Any) -> None:
    """``updates``: S keys and two indexes (``g``, a number; ``g2``, a string) whose keys a SET must respect."""
    if _TABLE in client.list_tables()["TableNames"]:
        client.delete_table(TableName=_TABLE)
    client.create_table(
        TableName=_TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in
                              (("pk", "S"), ("sk", "S"), ("g", "N"), ("g2", "S"))],
        GlobalSecondaryIndexes=[
            {"IndexName": name, "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": name, "KeyType": "HASH"}]} for name in ("g", "g2")],
    )  # fmt: skip


def _outcome(call: Callable[..., Any], **kwargs: Any) -> tuple[Any, ...]:
    """What the caller sees: the answer, moto's refusal (code, message, old item) or what it raised."""
    try:
        out = call(**kwargs)
    except ClientError as exc:
        return ("refused", exc.response["Error"], exc.response.get("Item"), exc.response.get("CancellationReasons"))
    except Exception as exc:  # in-process moto raises its parser's own errors: they must match too
        return ("raised", type(exc).__name__, str(exc))
    out.pop("ResponseMetadata", None)
    return ("accepted", out)


def _table(client: Any) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName=_TABLE)["Items"], key=repr)


def _request(case: _Case, return_values: str) -> dict[str, Any]:
    _, key, update, names, values, extra, _ = case
    request: dict[str, Any] = {"TableName": _TABLE, "Key": key, "UpdateExpression": update,
                               "ReturnValues": return_values}  # fmt: skip
    extra = dict(extra)
    names = {**(names or {}), **extra.pop("ExpressionAttributeNames", {})} or None
    values = {**(values or {}), **extra.pop("_condition_values", {})} or None
    if extra.get("ConditionExpression", "").startswith("#day") and values is not None:
        values.setdefault(":day", {"N": "19000"})
        values.setdefault(":max", {"N": "9"})
        values.setdefault(":latest", {"N": "10"})
    if names is not None:
        request["ExpressionAttributeNames"] = names
    if values is not None:
        request["ExpressionAttributeValues"] = values
    return {**request, **extra}


def _update_outcomes(client: Any) -> list[Any]:
    """Each case on the base item with ReturnValues ALL_NEW and UPDATED_OLD (answer, table after), then the
    cases one after the other on one item, then a transaction with two updates, and the table."""
    _fresh_table(client)
    outcomes: list[Any] = []
    for case in _CASES:
        for return_values in ("ALL_NEW", "UPDATED_OLD"):
            client.put_item(TableName=_TABLE, Item=_BASE)
            client.delete_item(TableName=_TABLE, Key=_NEW)
            outcomes.append((case[0], _outcome(client.update_item, **_request(case, return_values)), _table(client)))
    client.put_item(TableName=_TABLE, Item=_BASE)
    for case in _CASES:
        outcomes.append((case[0], _outcome(client.update_item, **_request(case, "UPDATED_NEW"))))
    cases = {case[0]: case for case in _CASES}
    updates = [_request(cases[label], "NONE") for label in ("add one", "a new item's counter", "subtract")]
    for update in updates:
        update.pop("ReturnValues")
    outcomes.append(_outcome(client.transact_write_items, TransactItems=[{"Update": u} for u in updates[:2]]))
    outcomes.append(_outcome(client.transact_write_items, TransactItems=[{"Update": updates[2]}]))
    outcomes.append(_table(client))
    return outcomes


def _with(patches: tuple[Callable[[], Callable[[], None]], ...], run: Callable[[], Any]) -> Any:
    """``run()`` with ``patches`` applied, taken off afterwards."""
    undos = [patch() for patch in patches]
    try:
        return run()
    finally:
        for undo in reversed(undos):
            undo()


_BOTH = (update_expression_parses_reused, update_validation_walks_typed_once)


@pytest.mark.parametrize(
    "patches",
    [_BOTH, _BOTH[:1], _BOTH[1:]],
    ids=["both", "parses_reused", "walks_typed_once"],
)
def test_updates_are_answered_refused_and_stored_as_moto_does(
    client: Any, patches: tuple[Callable[[], Callable[[], None]], ...]
) -> None:
    # Given the corpus answered by moto as shipped,
    plain = _update_outcomes(client)
    # When it is answered again with the parses reused and the trees copied node by node, the walks typed once,
    # or both,
    patched, trees = _with(patches, lambda: (_update_outcomes(client), _trees() if _active_undo() else None))
    # Then every answer, refusal, error and table is the same, and most parses were reused.
    assert patched == plain
    assert trees is None or trees.hits > trees.misses > 0
    # The corpus reaches what it says: each case is accepted or refused by moto as its label has it.
    kinds = [outcome[1][0] for outcome in plain[: 2 * len(_CASES) : 2]]
    assert kinds == [case[-1] for case in _CASES]
    assert plain[-3][0] == "accepted" and plain[-2][0] == "accepted"


def _leaf_sharing_copier(real: Callable[..., Any]) -> Callable[..., Any]:
    """A faulty copier: new nodes and lists, but every value placeholder shared with the original."""

    def faulty(tree: Any, memo: dict[int, Any] | None = None) -> Any:
        shared = {id(o): o for o in _objects(tree) if isinstance(o, _NODES.ExpressionAttributeValue)}
        return real(tree, {**(memo or {}), **shared})

    return faulty


def test_a_copier_that_shares_a_mutable_node_is_caught(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given moto's answers,
    plain = _update_outcomes(client)
    # When the patch copies trees but shares their value placeholders (whose parent pointers still lead into the
    # kept tree, so the validator replaces them there),
    monkeypatch.setattr(moto_update_expressions, "copy_tree", _leaf_sharing_copier(copy_tree))
    undo = update_expression_parses_reused()
    try:
        faulty = _update_outcomes(client)
    finally:
        undo()
    # Then the comparison sees it.
    assert faulty != plain


def test_the_same_text_with_other_values_gets_its_own_result(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "SET n = :v + n, m.k = :w"

    def three_requests() -> list[Any]:
        _fresh_table(client)
        client.put_item(TableName=_TABLE, Item=_BASE)
        return [
            _outcome(client.update_item, TableName=_TABLE, Key=_KEY, UpdateExpression=text, ReturnValues="UPDATED_NEW",
                     ExpressionAttributeValues={":v": {"N": value}, ":w": {"S": value}})
            for value in ("1", "10", "100")
        ]  # fmt: skip

    undo = update_expression_parses_reused()
    try:
        # Given one request of a text, When two more come with other values,
        answers = three_requests()
        trees = _trees()
    finally:
        undo()
    # Then each has its own values, and the kept tree is still the parse of the text.
    assert [answer[1]["Attributes"] for answer in answers] == [
        {"n": {"N": n}, "m": {"M": {"k": {"S": k}}}} for n, k in (("6", "1"), ("16", "10"), ("116", "100"))
    ]
    assert (trees.misses, trees.hits) == (1, 5)  # two parses a request: the handler's and the backend's
    assert _graph(trees.get(text)[0]) == _graph(_PARSER.make(text))
    # Twin: with the value placeholders shared, the requests do not get their own results.
    monkeypatch.setattr(moto_update_expressions, "copy_tree", _leaf_sharing_copier(copy_tree))
    undo = update_expression_parses_reused()
    try:
        faulty = three_requests()
    finally:
        undo()
    assert faulty != answers


# --- the RA's download counter ---

_DAY = 86_400
_T0 = 700_000_000
_TODAY = _T0 // _DAY
_CERT = "0123456789abcdef"


def _counter_story(settings: Settings) -> list[Any]:
    """The counter written, then counted by its one conditional UpdateItem in every way it can end; each answer,
    the counter and its raw item after it."""
    client = boto3.client("dynamodb")
    key = {"pk": {"S": f"RADL#{_CERT}"}, "sk": {"S": "COUNTER"}}
    client.delete_item(TableName=settings.ra_table, Key=key)
    store = DynamoDbDownloadCounterStore.from_settings(settings)
    story: list[Any] = [store.count(_CERT, day=_TODAY, max_reqs=3, last_at_most=_T0, now=_T0, expires_at=1)]
    store.replace(DownloadCounter(_CERT, {_TODAY - 1: 1, _TODAY: 1}, _T0 - 5, 1), expected_version=0, expires_at=10)
    for now, day, max_reqs, last_at_most in [
        (_T0, _TODAY, 4, _T0),  # counted
        (_T0 + 1, _TODAY, 4, _T0 + 1),  # counted: the window holds 4 now
        (_T0 + 2, _TODAY, 4, _T0 + 2),  # at download-maxReqs: not counted
        (_T0 + 3, _TODAY + 1, 9, _T0 + 3),  # another day: not counted
        (_T0 + 4, _TODAY, 9, _T0 - 9),  # within download-minWait: not counted
        (_T0 + 5, _TODAY, 9, _T0 + 5),  # counted
    ]:
        counted = store.count(_CERT, day=day, max_reqs=max_reqs, last_at_most=last_at_most, now=now,
                              expires_at=now + 8 * _DAY)  # fmt: skip
        story.append((counted, store.get(_CERT), client.get_item(TableName=settings.ra_table, Key=key)["Item"]))
    return story


def test_the_download_counters_update_counts_as_moto_counts_it(aws_settings: Settings) -> None:
    # Given the counter's story told by moto as shipped,
    plain = _counter_story(aws_settings)
    # When it is told again with the patch,
    undo = update_expression_parses_reused()
    try:
        patched = _counter_story(aws_settings)
        trees = _trees()
    finally:
        undo()
    # Then every count, counter and item is the same, and the counter's text was parsed once.
    assert patched == plain
    assert (trees.misses, trees.hits) == (1, 2 * 7 - 1)  # seven counts, each parsed by the handler and the backend
    assert [step[0] for step in plain[1:]] == [True, True, False, False, False, True]
    assert plain[-1][1] == DownloadCounter(_CERT, {_TODAY - 1: 1, _TODAY: 4}, _T0 + 5, 4)
    # Twin: a counter one count short is not the same story.
    assert plain[-2][1] != plain[-1][1]
