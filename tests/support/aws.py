"""moto stand-ins for AWS, with every table created from infra/template.yaml (one source of truth)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
from moto import mock_aws
from scms_service import aws
from scms_service.config import Settings, load_settings

from scms_cli.local.cloud import dynamodb_requests_one_at_a_time
from scms_cli.local.template import create_tables


@pytest.fixture
def aws_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Inside ``mock_aws``: the template's tables, the artifacts bucket and a KMS key; yields the Settings."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # DynamoDB is atomic per request; in-process moto is not, so concurrent test requests take turns.
    dynamodb_requests_one_at_a_time()
    with mock_aws():
        aws.reset_clients()
        settings = load_settings({})
        create_tables(boto3.client("dynamodb"), settings)
        boto3.client("s3").create_bucket(Bucket=settings.artifacts_bucket)
        key_id = boto3.client("kms").create_key(Description="test CA keys")["KeyMetadata"]["KeyId"]
        yield replace(settings, kms_key_id=key_id)
        aws.reset_clients()
