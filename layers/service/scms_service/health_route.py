"""``GET /<authority>/health`` on the HTTP authorities' Chalice apps (RA, ECA, MA): one route, one place.

docs/architecture.md "Observability": the authority's table answers a ``GetItem`` and its active CA
certificate loads (``scms_service.health``); 200 or 503 with ``Health.as_json()``; no authentication,
no secret read. The internal task functions answer the ``{"health": true}`` event instead
(``health.answers_health``).
"""

from __future__ import annotations

from collections.abc import Callable

from chalice.app import Chalice, Response

from . import aws
from .config import Settings
from .health import ca_check, run_checks, table_check
from .http import json_response
from .observability import VERSION
from .stores.ca import DynamoDbCaStore

__all__ = ["add_health_route"]


def add_health_route(app: Chalice, authority: str, settings: Callable[[], Settings], table: str) -> None:
    """Register ``GET /<authority>/health`` on ``app``; ``table`` names the Settings field of its table."""

    def health() -> Response:
        s = settings()
        result = run_checks(
            authority,
            VERSION,
            {
                "table": table_check(aws.client("dynamodb"), getattr(s, table)),
                "ca": ca_check(DynamoDbCaStore.from_settings(s), authority),
            },
        )
        return json_response(result.as_json(), status=result.status)

    health.__doc__ = f"200 when {table} answers and the {authority} certificate loads, else 503 (no auth, no secrets)."
    app.route(f"/{authority}/health", methods=["GET"])(health)
