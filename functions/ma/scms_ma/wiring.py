"""What the MA app needs, built once per process from Settings (tests pass their own).

The callees are Lambda functions (``LambdaTask``: a synchronous ``lambda:InvokeFunction`` of the
function named by a Settings field); when that field is empty (tests of the MA alone, a run
without the callee deployed) ``InProcessTask`` imports the callee's handler file from the
checkout and calls it in this process, with the same JSON in and out and the same error names.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scms_service.auth import ApiKeyCheck, secrets_manager_digest
from scms_service.config import Settings
from scms_service.iperiod import IPeriods
from scms_service.lambda_invoke import invoke_task
from scms_service.lazy_hierarchy import LazyHierarchy
from scms_service.stores.crl_entries import DynamoDbCrlEntryStore
from scms_service.stores.ma_records import DynamoDbMaRecordStore, MaRecordStore

from .authorities import (
    AcaLookup,
    AuthorityFailed,
    AuthorityUnavailable,
    CrlPublisher,
    LaSeeds,
    RaRevoker,
    Task,
    TaskFailed,
)
from .report import MaKeys
from .revoke import Authorities, CrlEntrySink

__all__ = ["InProcessTask", "LambdaTask", "LazyMaKeys", "Services", "authorities_from_settings", "from_settings"]

log = logging.getLogger(__name__)

_FUNCTIONS = Path(__file__).resolve().parents[2]


def _unix_now() -> int:
    return int(time.time())


@dataclass
class Services:
    """The MA's collaborators: Settings, MaTable, the API key check, the hierarchy and the callees."""

    settings: Settings
    records: MaRecordStore
    check_api_key: Callable[[str | None], None]
    keys: MaKeys
    authorities: Authorities
    clock: Callable[[], int] = field(default=_unix_now)
    periods: IPeriods | None = None

    @property
    def schedule(self) -> IPeriods:
        return self.periods if self.periods is not None else IPeriods.from_settings(self.settings)


# The CA hierarchy as ``MaKeys``, loaded on first use (a request refused early reads no secret).
LazyMaKeys = LazyHierarchy


class LambdaTask:
    """A ``Task``: synchronous invoke of ``function_name``; its error's name only, never its message."""

    def __init__(self, function_name: str, client: Any | None = None) -> None:
        self._function = function_name
        self._client = client

    def __call__(self, event: dict[str, Any]) -> Any:
        answer = invoke_task(self._function, event, client=self._client, callee="a callee", retried="revocation",
                             unavailable=AuthorityUnavailable, failed=AuthorityFailed)  # fmt: skip
        if answer.error_type is not None:
            log.warning("callee task raised %s", answer.error_type or "an unnamed error")
            raise TaskFailed(answer.error_type or "Unknown")
        return answer.body


class InProcessTask:
    """A ``Task``: the callee's handler file from the checkout, imported once with its environment."""

    def __init__(self, relative_path: str, handler: str, environment: Mapping[str, str] | None = None) -> None:
        self._path = _FUNCTIONS / relative_path
        self._handler = handler
        self._environment = dict(environment or {})

    @functools.cached_property
    def _function(self) -> Callable[[Any, Any], Any]:
        code_dir = self._path.parent
        if str(code_dir) not in sys.path:
            sys.path.append(str(code_dir))
        suffix = "_".join(f"{k}_{v}" for k, v in sorted(self._environment.items())).lower()
        name = f"scms_ma_twin_{code_dir.name}_{self._path.stem}_{suffix}".rstrip("_")
        spec = importlib.util.spec_from_file_location(name, self._path)
        if spec is None or spec.loader is None:
            raise AuthorityFailed(f"in-process twin {self._path.name} cannot be loaded")
        module = importlib.util.module_from_spec(spec)
        # Registered before it runs, as an import does (a dataclass in it looks its module up).
        sys.modules[name] = module
        saved = {key: os.environ.get(key) for key in self._environment}
        os.environ.update(self._environment)
        try:
            spec.loader.exec_module(module)
        finally:
            for key, old in saved.items():
                if old is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = old
        function: Callable[[Any, Any], Any] = getattr(module, self._handler)
        return function

    def __call__(self, event: dict[str, Any]) -> Any:
        function = self._function
        try:
            # Through JSON both ways, as a Lambda invoke would be.
            return json.loads(json.dumps(function(json.loads(json.dumps(event)), _TwinContext(self._path.stem))))
        except Exception as exc:
            raise TaskFailed(type(exc).__name__) from exc


@dataclass(frozen=True)
class _TwinContext:
    """The Lambda context attributes a handler's Powertools decorators read."""

    function_name: str
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:in-process"
    memory_limit_in_mb: int = 128
    aws_request_id: str = "in-process"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _task(function_name: str, relative_path: str, handler: str, environment: Mapping[str, str] | None = None) -> Task:
    if function_name:
        return LambdaTask(function_name)
    return InProcessTask(relative_path, handler, environment)


def authorities_from_settings(settings: Settings, crl_entries: CrlEntrySink | None = None) -> Authorities:
    """The callees by their function names (``InProcessTask`` twins for the empty ones) and the CRL store."""
    return Authorities(
        aca_lookup=AcaLookup(_task(settings.aca_function, "aca/handlers.py", "lookup_task")),
        ra_revoke=RaRevoker(_task(settings.ra_task_function, "ra/tasks.py", "handler")),
        la1_seed=LaSeeds(_task(settings.la1_function, "la/handlers.py", "seed_task", {"SCMS_LA_ID": "0001"}), "LA1"),
        la2_seed=LaSeeds(_task(settings.la2_function, "la/handlers.py", "seed_task", {"SCMS_LA_ID": "0002"}), "LA2"),
        publish=CrlPublisher(_task(settings.crlg_function, "crlg/handlers.py", "publish_task")),
        crl_entries=crl_entries if crl_entries is not None else DynamoDbCrlEntryStore.from_settings(settings),
    )


def from_settings(settings: Settings) -> Services:
    """The production wiring: MaTable, the API key digest, the hierarchy, the callees."""
    return Services(
        settings=settings,
        records=DynamoDbMaRecordStore.from_settings(settings),
        check_api_key=ApiKeyCheck(secrets_manager_digest(settings.management_api_key_secret)),
        keys=LazyMaKeys(settings),
        authorities=authorities_from_settings(settings),
        periods=IPeriods.from_settings(settings),
    )
