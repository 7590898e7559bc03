"""Which AWS error codes are worth a retry: one list for every store (style.md 13: retry only transient errors).

A store turns such a ``ClientError`` into ``TransientStoreError`` (the exception name ASL ``Retry``
matches) and every other one into its own domain error.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

__all__ = ["TRANSIENT_ERROR_CODES", "error_code", "is_condition_failure", "is_transient"]

TRANSIENT_ERROR_CODES = frozenset(
    {
        # DynamoDB
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        # Secrets Manager
        "InternalServiceError",
        # S3
        "SlowDown",
        "InternalError",
        "RequestTimeout",
    }
)


def error_code(exc: ClientError) -> str:
    """The AWS error code of ``exc`` ("" when the response names none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_transient(exc: ClientError) -> bool:
    """True when the call may succeed if retried (throttling, timeouts, conflicts, service errors)."""
    return error_code(exc) in TRANSIENT_ERROR_CODES


def is_condition_failure(exc: ClientError) -> bool:
    """True when a conditional write lost: a failed ConditionExpression, alone or inside a transaction."""
    code = error_code(exc)
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons") or []
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False
