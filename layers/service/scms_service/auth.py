"""The management API key check (docs/architecture.md, "HTTP routes"): missing → 401, wrong → 403.

The secret ``Settings.management_api_key_secret`` holds the lowercase hex SHA-256 of the key
(``key_digest``), so the key itself is stored nowhere; ``scms init`` prints it once. The digest of
the presented key is compared in constant time (style.md 9).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from . import aws
from .errors import Forbidden, ScmsError, TransientStoreError, Unauthorized

__all__ = ["API_KEY_HEADER", "ApiKeyCheck", "key_digest", "secrets_manager_digest"]

API_KEY_HEADER = "X-Api-Key"
_DIGEST = re.compile(r"[0-9a-f]{64}")


def key_digest(api_key: str) -> str:
    """The lowercase hex SHA-256 of ``api_key`` (what the secret stores)."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


class ApiKeyCheck:
    """Checks a presented ``X-Api-Key`` against the stored digest, read once per process from ``load_digest``."""

    def __init__(self, load_digest: Callable[[], str]) -> None:
        self._load_digest = load_digest
        self._digest: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "ApiKeyCheck(<digest hidden>)"

    def _expected(self) -> str:
        with self._lock:
            if self._digest is None:
                digest = self._load_digest().strip().lower()
                if not _DIGEST.fullmatch(digest):
                    # Said without the value: a misconfigured secret might be the key itself.
                    raise ScmsError("management API key secret is not a hex SHA-256 digest")
                self._digest = digest
            return self._digest

    def __call__(self, presented: str | None) -> None:
        """Return if ``presented`` is the key; ``Unauthorized`` if absent, ``Forbidden`` if wrong."""
        if not presented:
            raise Unauthorized(f"missing {API_KEY_HEADER} header")
        if not hmac.compare_digest(key_digest(presented), self._expected()):
            raise Forbidden(f"{API_KEY_HEADER} is not valid")


def secrets_manager_digest(secret_id: str, client: Any | None = None) -> Callable[[], str]:
    """A loader for ``ApiKeyCheck`` reading the digest from Secrets Manager (``aws.client`` by default)."""

    def load() -> str:
        sm = client if client is not None else aws.client("secretsmanager")
        try:
            value = sm.get_secret_value(SecretId=secret_id)["SecretString"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"ThrottlingException", "InternalServiceError"}:
                raise TransientStoreError("management API key secret: temporarily unavailable") from exc
            raise ScmsError(f"management API key secret: {code or 'unreadable'}") from exc
        return str(value)

    return load
