"""The pure parts of bench/cost_drivers.py: item sizes, request units, transitions, prices per million."""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

import pytest

from bench import cost_drivers as cd


def _b(n: int) -> dict[str, str]:
    return {"B": base64.b64encode(bytes(n)).decode()}


def test_attribute_and_item_sizes_follow_dynamodbs_rules() -> None:
    assert cd.attribute_size({"S": "abc"}) == 3
    assert cd.attribute_size({"S": "é"}) == 2  # UTF-8 bytes
    assert cd.attribute_size({"N": "123"}) == 3 and cd.attribute_size({"N": "12"}) == 2
    assert cd.attribute_size(_b(10)) == 10 and cd.attribute_size(_b(11)) == 11
    assert cd.attribute_size({"BOOL": True}) == 1
    assert cd.attribute_size({"M": {"a": {"S": "xy"}}}) == 3 + 1 + 1 + 2
    assert cd.item_size({"pk": {"S": "K"}, "v": _b(100)}) == 2 + 1 + 1 + 100
    # Twin: an unknown type is an error, not a size.
    with pytest.raises(ValueError):
        cd.attribute_size({"X": 1})


def _put(table: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"op": "PutItem", "status": 200, "request": {"TableName": table, "Item": item}, "response": {}}


ITEM = {"pk": {"S": "A"}, "sk": {"S": "B"}, "blob": _b(1500)}  # 1,506 bytes: 2 write units, 1 read unit


def test_request_units_of_writes_and_reads() -> None:
    get: dict[str, Any] = {
        "op": "GetItem",
        "status": 200,
        "request": {"TableName": "t", "Key": {"pk": {"S": "A"}, "sk": {"S": "B"}}, "ConsistentRead": True},
        "response": {"Item": ITEM},
    }
    update = {
        "op": "UpdateItem",
        "status": 200,
        "request": {"TableName": "t", "Key": {"pk": {"S": "A"}, "sk": {"S": "B"}}},
        "response": {},
    }
    rru, wru, ops = cd.dynamodb_units([_put("t", ITEM), get, update])
    assert wru == 2 + 2  # the update sized by the item last seen under its key
    assert rru == 1.0 and ops == Counter({"PutItem": 1, "GetItem": 1, "UpdateItem": 1})
    # Twin: an eventually consistent read is half, a refused write counts nothing.
    eventually = {**get, "request": {**get["request"], "ConsistentRead": False}}
    refused = {**_put("t", ITEM), "status": 400}
    assert cd.dynamodb_units([eventually, refused])[:2] == (0.5, 0.0)


def test_transactions_cost_double_and_index_keys_add_a_write() -> None:
    transact = {
        "op": "TransactWriteItems",
        "status": 200,
        "response": {},
        "request": {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "x"}}}},
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "y"}, "certId": {"S": "c"}}}},
            ]
        },
    }
    assert cd.dynamodb_units([transact], gsi_keys=frozenset({"certId"}))[1] == 2 + 2 + 1
    # Twin: without the index key the second put writes no index.
    assert cd.dynamodb_units([transact])[1] == 4


def test_query_reads_the_returned_items_together() -> None:
    small = {"pk": {"S": "p"}, "v": _b(1000)}
    query = {
        "op": "Query",
        "status": 200,
        "request": {"TableName": "t", "ConsistentRead": True},
        "response": {"Items": [small] * 5},
    }
    assert cd.dynamodb_units([query])[0] == 2.0  # ~5 KB: two 4 KB units
    empty = {**query, "response": {"Items": []}}
    assert cd.dynamodb_units([empty])[0] == 1.0  # Twin: an empty query still costs a unit


def test_transitions_count_entered_states_only() -> None:
    history = [
        {"type": "ExecutionStarted"},
        {"type": "TaskStateEntered"},
        {"type": "TaskStateExited"},
        {"type": "MapStateEntered"},
        {"type": "PassStateEntered"},
    ]
    assert cd.transitions(history) == 3
    assert cd.transitions([]) == 0


def _usage(certificates: int) -> cd.Usage:
    return cd.Usage(
        certificates=certificates,
        api_requests=2,
        task_invocations=Counter({"RaBatchFunction": 8}),
        state_transitions=20,
        dynamodb_rru=10.0,
        dynamodb_wru=40.0,
        dynamodb_calls=Counter(),
        s3_put=1,
        s3_get=1,
        secrets_calls=0,
        kms_calls=0,
        lambda_gb_seconds=2.0,
    )


def test_costs_scale_to_a_million_certificates_with_the_listed_prices() -> None:
    usage = _usage(20)
    assert usage.lambda_invocations == 10
    out = cd.costs(usage)
    scale = 1_000_000 / 20
    assert out["Step Functions transitions"] == pytest.approx(20 * 0.025 / 1000 * scale)
    assert out["DynamoDB writes (WRU)"] == pytest.approx(40 * 0.625 / 1e6 * scale)
    assert out["Lambda requests"] == pytest.approx(10 * 0.20 / 1e6 * scale)
    # Twin: twice the certificates for the same requests halves every figure; none is an error.
    assert cd.costs(_usage(40))["DynamoDB writes (WRU)"] == pytest.approx(out["DynamoDB writes (WRU)"] / 2)
    with pytest.raises(ValueError):
        cd.costs(_usage(0))


def test_usage_of_sorts_calls_by_service_and_leaves_out_the_benchs_own() -> None:
    calls = [
        {"service": "lambda", "op": "POST /2015-03-31/functions/RaBatchFunction/invocations", "status": 200},
        {
            "service": "lambda",
            "op": "POST /2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:AcaFunction/invocations",
            "status": 200,
        },
        {"service": "s3", "op": "PUT /scms-artifacts/x", "status": 200},
        {"service": "s3", "op": "GET /scms-artifacts/x", "status": 200},
        {"service": "states", "op": "DescribeExecution", "status": 200},
        {"service": "states", "op": "StartExecution", "status": 200},
        {"service": "secretsmanager", "op": "GetSecretValue", "status": 200},
        {**_put("t", ITEM), "service": "dynamodb"},
    ]
    usage = cd.usage_of(calls, certificates=20, api_requests=3, state_transitions=7, gb_s=1.5, gsi_keys=frozenset())
    assert usage.task_invocations == Counter({"RaBatchFunction": 1, "AcaFunction": 1})
    assert (usage.s3_put, usage.s3_get, usage.secrets_calls, usage.dynamodb_wru) == (1, 1, 1, 2.0)
    assert usage.other_calls == Counter({"states:StartExecution": 1})  # Twin: DescribeExecution left out
    assert usage.lambda_invocations == 5


def test_task_invocations_are_the_scheduled_lambda_tasks_of_the_history() -> None:
    scheduled: dict[str, Any] = {
        "type": "LambdaFunctionScheduled",
        "lambdaFunctionScheduledEventDetails": {"resource": "arn:aws:lambda:us-east-1:1:function:AcaFunction"},
    }
    history: list[dict[str, Any]] = [
        scheduled,
        scheduled,
        {"type": "LambdaFunctionSucceeded"},
        {"type": "TaskStateEntered"},
    ]
    assert cd.task_invocations(history) == Counter({"AcaFunction": 2})
    usage = cd.usage_of(
        [],
        certificates=1,
        api_requests=1,
        state_transitions=0,
        gb_s=0.0,
        gsi_keys=frozenset(),
        tasks=cd.task_invocations(history),
    )
    assert usage.lambda_invocations == 3
    # Twin: no history, no task invocation.
    assert cd.task_invocations([]) == Counter()
