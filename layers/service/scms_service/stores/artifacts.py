"""Public download artefacts (the ``ArtifactsBucket``): certificates, chains, CTLs (docs/architecture.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from ..errors import ScmsError, TransientStoreError
from .aws_errors import TRANSIENT_ERROR_CODES

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["Artifacts", "ArtifactsError", "InMemoryArtifacts", "S3Artifacts"]


class ArtifactsError(ScmsError):
    """The artifacts bucket could not be read or written (500; the cause is chained)."""


class Artifacts(Protocol):
    """Key → octets, public once written."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (replacing what was there)."""
        ...

    def get(self, key: str) -> bytes | None:
        """The octets under ``key``, or None."""
        ...


class InMemoryArtifacts:
    """``Artifacts`` in a dict (tests, local tools)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.content_types: dict[str, str] = {}

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        self.objects[key] = bytes(data)
        self.content_types[key] = content_type

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)


class S3Artifacts:
    """``Artifacts`` on an S3 bucket (client injectable)."""

    def __init__(self, bucket: str, client: Any) -> None:
        self._bucket = bucket
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings, client: Any | None = None) -> S3Artifacts:
        from .. import aws

        return cls(settings.artifacts_bucket, client if client is not None else aws.client("s3"))

    @staticmethod
    def _error(exc: ClientError, what: str) -> ScmsError:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in TRANSIENT_ERROR_CODES:
            return TransientStoreError(f"{what}: temporarily unavailable ({code})")
        return ArtifactsError(f"{what}: {code or 'failed'}")

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=bytes(data), ContentType=content_type)
        except ClientError as exc:
            raise self._error(exc, f"artifact {key}") from exc

    def get(self, key: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in {"NoSuchKey", "404"}:
                return None
            raise self._error(exc, f"artifact {key}") from exc
        data: bytes = response["Body"].read()
        return data
