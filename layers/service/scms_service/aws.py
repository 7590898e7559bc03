"""boto3 clients, created lazily and once per process.

boto3 honours ``AWS_ENDPOINT_URL`` (and per-service ``AWS_ENDPOINT_URL_<SERVICE>``) by itself, so
the same code talks to AWS, LocalStack or the embedded moto server of ``make serve``; nothing here
knows which.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

__all__ = ["client", "reset_clients"]

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30)


@functools.cache
def client(service: str) -> Any:
    """The process-wide boto3 client for ``service`` (e.g. "dynamodb", "s3", "secretsmanager")."""
    return boto3.session.Session().client(service, config=_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints or moto contexts call this)."""
    client.cache_clear()
