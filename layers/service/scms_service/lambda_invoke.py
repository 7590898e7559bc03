"""One authority's synchronous call of another's Lambda task, with JSON in and out (docs/architecture.md).

The RA calls the ECA's successor task (``scms_ra.wiring.LambdaEca``) and the MA calls the ACA, RA,
LA and CRL generator tasks (``scms_ma.wiring.LambdaTask``) the same way: ``lambda:InvokeFunction``
with ``InvocationType=RequestResponse`` and a JSON event. ``invoke_task`` does that call and sorts
what can go wrong into the caller's two errors: ``unavailable`` (worth sending the same request
again: throttling, a busy or unreachable function; the call may have run, so the callee must be
idempotent) and ``failed`` (a bug or a misconfiguration). A function error is returned as the
task's ``errorType`` only; the task's message never leaves it (it may name what a log must not).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from . import aws
from .stores.aws_errors import error_code, is_transient

__all__ = ["LAMBDA_TRANSIENT", "TaskAnswer", "invoke_task"]

# Lambda's answers worth a retry of the same request: throttling, a service fault, a function
# being updated or not ready yet, a VPC function short of addresses for the moment.
LAMBDA_TRANSIENT = frozenset(
    {
        "TooManyRequestsException",
        "ServiceException",
        "ResourceConflictException",
        "ResourceNotReadyException",
        "EC2ThrottledException",
        "SubnetIPAddressLimitReachedException",
        "ENILimitReachedException",
    }
)


@dataclass(frozen=True)
class TaskAnswer:
    """The task's JSON answer; ``error_type`` is its ``errorType`` when it raised ("" unnamed), else None."""

    body: Any
    error_type: str | None = None


def invoke_task(
    function_name: str,
    event: Mapping[str, Any],
    *,
    client: Any | None = None,
    callee: str,
    retried: str,
    unavailable: Callable[[str], Exception],
    failed: Callable[[str], Exception],
) -> TaskAnswer:
    """Invoke ``function_name`` with ``event``; errors name the ``callee`` ("the ECA") and what to send again.

    Raises ``unavailable(message)`` for a throttled, busy or unreachable function and ``failed(message)``
    for one that cannot be invoked or whose answer is not JSON, each ``from`` the cause.
    """
    lambda_client = client if client is not None else aws.client("lambda")
    try:
        answer = lambda_client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                      Payload=json.dumps(event).encode("ascii"))  # fmt: skip
    except ClientError as exc:
        if is_transient(exc) or error_code(exc) in LAMBDA_TRANSIENT:
            raise unavailable(f"{callee} is busy; send the same {retried} again") from exc
        raise failed(f"{callee} could not be invoked") from exc
    except (ConnectionError, HTTPClientError) as exc:
        # It may have run: the retry of the same request gets the callee's stored answer (idempotent).
        raise unavailable(f"{callee} is unreachable; send the same {retried} again") from exc
    raw = answer.get("Payload")
    data = raw.read() if hasattr(raw, "read") else raw
    try:
        body = json.loads(data) if data else None
    except ValueError as exc:
        raise failed(f"{callee}'s answer is not JSON") from exc
    if answer.get("FunctionError"):
        error_type = str(body.get("errorType", "")) if isinstance(body, Mapping) else ""
        return TaskAnswer(body, error_type)
    return TaskAnswer(body)
