"""One list of retryable AWS error codes serves every store."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from scms_service.stores.aws_errors import error_code, is_condition_failure, is_transient


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "PutItem")


TRANSIENT = ["ThrottlingException", "SlowDown", "InternalServiceError", "TransactionConflictException"]
PERMANENT = ["ConditionalCheckFailedException", "AccessDeniedException", "ResourceNotFoundException", ""]


@pytest.mark.parametrize("code", TRANSIENT)
def test_throttling_and_service_errors_are_transient(code: str) -> None:
    assert is_transient(_error(code))


@pytest.mark.parametrize("code", PERMANENT)
def test_client_mistakes_and_conditions_are_not_transient(code: str) -> None:
    assert not is_transient(_error(code))


def test_error_code_is_empty_when_the_response_names_none() -> None:
    assert error_code(ClientError({}, "GetItem")) == ""


def test_condition_failure_alone_or_inside_a_transaction() -> None:
    assert is_condition_failure(_error("ConditionalCheckFailedException"))
    reasons = [{"Code": "None"}, {"Code": "ConditionalCheckFailed"}]
    cancelled = ClientError(
        {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": reasons},
        "TransactWriteItems",
    )
    assert is_condition_failure(cancelled)
    # Twins: a transaction cancelled for another reason, and a throttle, are not lost conditions
    throttled = ClientError(
        {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": [{"Code": "ThrottlingError"}]},
        "TransactWriteItems",
    )
    assert not is_condition_failure(throttled)
    assert not is_condition_failure(_error("ThrottlingException"))
