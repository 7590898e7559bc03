"""The MA (Chalice, Lambda ``MaFunction``, handler ``app.app``): routes only (style.md 2).

``POST /v3/misbehavior-report`` (a device's report, protocol.md §3.6) and the management API of
reports and revocations (docs/architecture.md "MA"); the use cases are ``scms_ma.report``,
``scms_ma.revoke`` and ``scms_ma.reports``.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from chalice.app import Chalice, Request, Response
from scms_ma import reports
from scms_ma.report import receive_report
from scms_ma.revoke import parse_revocation, revoke
from scms_ma.wiring import Services, from_settings
from scms_service.app_services import AppServices
from scms_service.config import load_settings
from scms_service.errors import BadRequest, ScmsError
from scms_service.health_route import add_health_route
from scms_service.http import (
    OCTET_STREAM,
    accept_any_when_absent,
    error_response,
    json_response,
    refusals,
    request_body,
)
from scms_service.json_body import json_object
from scms_service.observability import add_metric, observe

from scms_codec import time32
from scms_codec.errors import ErrorCode

app = Chalice(app_name="scms-ma")
logger = Logger(service="ma")

REPORT_ID_HEADER = "Scms-Report-Id"
MAX_REPORT_OCTETS = 64 * 1024
"""A report carries one signed air message and two certificates: far below this."""
_MANAGE = "/manage/"

_services: AppServices[Services] = AppServices(lambda: from_settings(load_settings()))


def services() -> Services:
    """The process's collaborators, built from the environment on first use (cold start)."""
    return _services.get()


def configure(value: Services | None) -> None:
    """Use ``value`` instead of the environment's wiring (tests); None goes back to the default."""
    _services.configure(value)


def _request() -> Request:
    request = app.current_request
    assert request is not None  # Chalice sets it before calling a route
    return request


def _render(exc: ScmsError) -> Response:
    if str(_request().context.get("resourcePath", "")).startswith(_MANAGE):
        # Management clients get JSON naming the problem (exc.message is written for clients).
        return json_response({"error": exc.message, "status": exc.status}, status=exc.status)
    return error_response(exc, error_mode=services().settings.error_mode)


accept_any_when_absent(app)
# Correlation id (the report's hash), one log line and EMF metrics per request (scms_service.observability).
observe(app, logger, "ma")
_handled = refusals(logger, lambda: services().settings.error_mode, render=_render)


def _authorized(request: Request) -> Services:
    return _services.authorized(request)


add_health_route(app, "ma", lambda: services().settings, "ma_table")


@app.route("/v3/misbehavior-report", methods=["POST"], content_types=[OCTET_STREAM])
@_handled
def misbehavior_report() -> Response:
    """A misbehaviour report (protocol.md §3.6): 202, empty body, ``Scms-Report-Id``."""
    data = request_body(_request())
    if len(data) > MAX_REPORT_OCTETS:
        raise BadRequest(f"body: larger than {MAX_REPORT_OCTETS} octets", code=ErrorCode.FAILED_PARSING)
    deps = services()
    report_id = receive_report(data, now=time32.now(), settings=deps.settings, keys=deps.keys, records=deps.records)
    add_metric("MisbehaviorReports")
    return Response(body="", status_code=202, headers={REPORT_ID_HEADER: report_id})


@app.route("/manage/v1/reports", methods=["GET"])
@_handled
def list_reports() -> Response:
    request = _request()
    deps = _authorized(request)
    params: dict[str, str] = dict(request.query_params or {})
    page = reports.list_reports(deps.records, params.get("status"), params.get("limit"), params.get("next"))
    return json_response(page)


@app.route("/manage/v1/reports/{report_id}", methods=["GET"])
@_handled
def show_report(report_id: str) -> Response:
    deps = _authorized(_request())
    return json_response(reports.show_report(deps.records, report_id))


@app.route("/manage/v1/revocations", methods=["POST"])
@_handled
def create_revocation() -> Response:
    request = _request()
    deps = _authorized(request)
    decision = parse_revocation(json_object(request_body(request)))
    record, created = revoke(
        decision,
        now=time32.now(),
        periods=deps.schedule,
        records=deps.records,
        authorities=deps.authorities,
    )
    if created:
        add_metric("Revocations", dimensions={"Target": decision.kind})
    return json_response(reports.revocation_json(record), status=201 if created else 200)


@app.route("/manage/v1/revocations", methods=["GET"])
@_handled
def list_revocations() -> Response:
    request = _request()
    deps = _authorized(request)
    params: dict[str, str] = dict(request.query_params or {})
    return json_response(reports.list_revocations(deps.records, params.get("limit"), params.get("next")))
