"""The RA (Chalice): authorization certificates (request, download), device management API and the
public downloads (CA certificate, CCF). Routes only."""

from __future__ import annotations

from email.utils import formatdate

from aws_lambda_powertools import Logger
from chalice.app import Chalice, Request, Response
from scms_ra import (
    ca_certificate,
    ccf,
    composite_crl,
    crl_download,
    ctl_download,
    download,
    info_status,
    lifecycle_ops,
    provision_start,
    read,
    register,
    role_certificate,
    successor,
    trust_sources,
)
from scms_ra.authorize import authorize
from scms_ra.present import device_json
from scms_ra.served_file import ServedFile
from scms_ra.wiring import MANAGEMENT_ACTOR, Services, from_settings
from scms_service.app_services import AppServices
from scms_service.config import load_settings
from scms_service.errors import ScmsError
from scms_service.health_route import add_health_route
from scms_service.http import (
    OCTET_STREAM,
    accept_any_when_absent,
    binary,
    download_response,
    error_response,
    json_response,
    refusals,
    request_body,
)
from scms_service.observability import add_metric, observe
from scms_service.stores.ca import DynamoDbCaStore

from scms_codec import time32
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu import request_hash

app = Chalice(app_name="scms-ra")
logger = Logger(service="ra")

_services: AppServices[Services] = AppServices(lambda: from_settings(load_settings()))
_MANAGE = "/manage/"
ZIP = "application/zip"
NEXT_DOWNLOAD_HEADER = "Scms-Next-Dl-Time"
"""On a not-ready batch (404): the Time32 (decimal) from which the batch can be downloaded, as
``RaEeCertAck.nextDlTime``; ``Retry-After`` carries the same instant as an HTTP-date."""


def services() -> Services:
    """The process's collaborators, built from the environment on first use (cold start)."""
    return _services.get()


def configure(value: Services | None) -> None:
    """Use ``value`` instead of the environment's wiring (tests); None goes back to the default."""
    _services.configure(value)


_ccf_source: ccf.CcfSource | None = None


def configure_ccf_source(value: ccf.CcfSource | None) -> None:
    """Read CTLs and CA certificates for the CCF from ``value`` (tests); None goes back to CaTable."""
    global _ccf_source
    _ccf_source = value


def ccf_source() -> ccf.CcfSource:
    """CaTable (the adapter is cheap: ``scms_service.aws`` keeps one boto3 client per process)."""
    return _ccf_source if _ccf_source is not None else DynamoDbCaStore.from_settings(services().settings)


_trust: trust_sources.TrustSources | None = None


def configure_trust(value: trust_sources.TrustSources | None) -> None:
    """Read the trust downloads from ``value`` (tests); None goes back to CaTable, CrlTable and S3."""
    global _trust
    _trust = value


def trust() -> trust_sources.TrustSources:
    """The trust downloads' sources (built per request from the process's Settings unless configured)."""
    return _trust if _trust is not None else trust_sources.from_settings(services().settings)


def _error(request: Request, exc: ScmsError) -> Response:
    path = request.context.get("resourcePath", "")
    if path.startswith(_MANAGE):
        # Management clients get JSON naming the problem (exc.message is written for clients).
        return json_response({"error": exc.message, "status": exc.status}, status=exc.status)
    response = error_response(exc, error_mode=services().settings.error_mode)
    if isinstance(exc, download.BatchNotReady):
        # When to come back (protocol.md §3.3: the batch is due at its nextDlTime).
        response.headers["Retry-After"] = formatdate(time32.to_unix(exc.next_dl_time), usegmt=True)
        response.headers[NEXT_DOWNLOAD_HEADER] = str(exc.next_dl_time)
    return response


accept_any_when_absent(app)


# Correlation id, one log line and EMF metrics per request, flushed per invocation (scms_service.observability).
observe(app, logger, "ra")


def _render(exc: ScmsError) -> Response:
    return _error(_request(), exc)


_handled = refusals(logger, lambda: services().settings.error_mode, render=_render)


def _authorized(request: Request) -> Services:
    return _services.authorized(request)


def _request() -> Request:
    request = app.current_request
    assert request is not None  # Chalice sets it before calling a route
    return request


add_health_route(app, "ra", lambda: services().settings, "ra_table")


@app.route("/v3/ca-certificate", methods=["GET"], content_types=[OCTET_STREAM, "application/json"])
@_handled
def get_ca_certificate() -> Response:
    request = _request()
    params: dict[str, str] = dict(request.query_params or {})
    body, filename = ca_certificate.ca_certificate(services().ca_certificates, params.get("certId"))
    # A CA certificate never changes under its HashedId8 name, so the ETag alone validates it.
    return download_response(request, body, filename)


@app.route("/v3/ccf-ctl", methods=["GET"], content_types=[OCTET_STREAM, "application/json"])
@_handled
def get_ccf() -> Response:
    request = _request()
    params: dict[str, str] = dict(request.query_params or {})
    found = ccf.certificate_chain_file(ccf_source(), params.get("ctlSeriesId"), now=time32.now())
    return download_response(request, found.body, found.filename, found.last_modified)


def _params() -> dict[str, str]:
    return dict(_request().query_params or {})


def _served(found: ServedFile) -> Response:
    return download_response(_request(), found.body, found.filename, found.last_modified, etag=found.etag)


@app.route("/v3/crl", methods=["GET"], content_types=[OCTET_STREAM, "application/json"])
@_handled
def get_crl() -> Response:
    """The latest ``SecuredCrl`` of a (CRACA, series), 1609.2.1 §6.3.5.10 (protocol.md §2.2)."""
    params, sources = _params(), trust()
    return _served(crl_download.crl_file(sources.crls, sources.artifacts, params.get("craca"), params.get("crlSeries")))


@app.route("/v3/composite-crl-ctl", methods=["GET"], content_types=[OCTET_STREAM, "application/json"])
@_handled
def get_composite_crl() -> Response:
    """Every latest CRL and the home CTL, 1609.2.1 §6.3.5.8, clause 8.5 (``CompositeCrlSpdu``)."""
    sources = trust()
    found = composite_crl.composite_crl_file(sources.ca, sources.crls, sources.artifacts, _params().get("ctlSeriesId"))
    return _served(found)


@app.route("/v3/ctl", methods=["GET"], content_types=[OCTET_STREAM, "application/json"])
@_handled
def get_ctl() -> Response:
    """The CTLs of a series as a stored zip, 1609.2.1 §6.3.5.11, clause 8.6."""
    params = _params()
    found = ctl_download.ctl_zip_file(trust().ca, params.get("ctlSeriesId"), params.get("ctlSequenceNumber"))
    response = _served(found)
    if response.status_code in (200, 206):
        response.headers["Content-Type"] = ZIP  # 304 and 416 have no body
    return response


@app.route("/v3/ra-certificate", methods=["GET"], content_types=[OCTET_STREAM, "application/json"])
@_handled
def get_ra_certificate() -> Response:
    """The RA's active certificate, 1609.2.1 §6.3.5.12."""
    return _served(role_certificate.ra_certificate(trust().ca))


@app.route("/v3/ma-certificate", methods=["GET"], content_types=[OCTET_STREAM, "application/json"])
@_handled
def get_ma_certificate() -> Response:
    """The MA's active certificate, for a PSID it covers when ``psid`` is given, 1609.2.1 §6.3.5.13."""
    return _served(role_certificate.ma_certificate(trust().ca, _params().get("psid")))


@app.route("/v3/certificate-management-info-status", methods=["GET"], content_types=[OCTET_STREAM, "application/json"])
@_handled
def get_info_status() -> Response:
    """The RA-signed ``CertificateManagementInformationStatusSpdu``, 1609.2.1 §6.3.5.14, clause 8.7."""
    sources, deps = trust(), services()
    found = info_status.info_status_file(
        sources.ca,
        sources.crls,
        lambda: deps.ra.signer("ra"),
        sources.signed,
        host=_request().headers.get("host"),
        now=time32.now(),
    )
    return _served(found)


@app.route("/v3/authorization-certificate", methods=["POST"], content_types=[OCTET_STREAM])
@_handled
def post_authorization_certificate() -> Response:
    """Authorization certificate request, 1609.2.1 §6.3.5.2 (protocol.md §3.3): 202 + ``RaEeCertAckSpdu``."""
    data = request_body(_request())
    deps = services()
    ack = authorize(
        data,
        now=time32.now(),
        settings=deps.settings,
        periods=deps.schedule,
        devices=deps.devices,
        requests=deps.auth_requests,
        ra=deps.ra,
    )
    # While ACCEPTED (first time, or a replay after a crash or a failed start) the batch must be started.
    if provision_start.start_if_accepted(deps.auth_requests, request_hash(data), deps.start_provisioning):
        add_metric("ProvisioningStarted")
    return binary(ack, status=202)


@app.route("/v3/authorization-certificate", methods=["GET"], content_types=[OCTET_STREAM, "application/json"])
@_handled
def get_authorization_certificate() -> Response:
    """Authorization certificate download, 1609.2.1 §6.3.5.3, clause 8.2: one i-period's zip."""
    request = _request()
    params: dict[str, str] = dict(request.query_params or {})
    deps = services()
    keyring = Keyring()
    keyring.add_certificate(deps.ra.certificate("ra"), deps.ra.encryption_private_key("ra"))
    found = download.authorization_download(
        request.headers.get(download.AUTHORIZATION_HEADER.lower()),
        params.get("filename"),
        now=time32.now(),
        settings=deps.settings,
        keyring=keyring,
        ra_anchors=deps.ra,
        requests=deps.auth_requests,
        devices=deps.devices,
        artifacts=deps.artifacts,
        schedule=deps.schedule,
        counters=deps.download_counters,
    )
    response = _served(found)
    if response.status_code in (200, 206):
        response.headers["Content-Type"] = ZIP  # a batch is a zip (clause 8.2); 304 and 416 have no body
    return response


@app.route("/v3/successor-enrollment-certificate", methods=["POST"], content_types=[OCTET_STREAM])
@_handled
def post_successor_enrollment_certificate() -> Response:
    """Successor enrollment request, 1609.2.1 §6.3.5.4 (protocol.md §3.4): 202 + ``RaEeEnrollmentCertAckSpdu``."""
    deps = services()
    ack = successor.successor_enroll(
        request_body(_request()), now=time32.now(), settings=deps.settings, periods=deps.schedule,
        devices=deps.devices, requests=deps.successors, ra=deps.ra, eca=deps.successor_issuer,
        artifacts=deps.artifacts,
    )  # fmt: skip
    return binary(ack, status=202)


@app.route("/v3/successor-enrollment-certificate", methods=["GET"], content_types=[OCTET_STREAM, "application/json"])
@_handled
def get_successor_enrollment_certificate() -> Response:
    """Successor enrollment download, 1609.2.1 §6.3.5.5, clause 8.3.2: ``<requestHash>_enroll.oer``."""
    request = _request()
    params: dict[str, str] = dict(request.query_params or {})
    deps = services()
    keyring = Keyring()
    keyring.add_certificate(deps.ra.certificate("ra"), deps.ra.encryption_private_key("ra"))
    found = successor.successor_download(
        request.headers.get(download.AUTHORIZATION_HEADER.lower()), params.get("filename"), now=time32.now(),
        settings=deps.settings, keyring=keyring, ra_anchors=deps.ra, requests=deps.successors,
        devices=deps.devices, artifacts=deps.artifacts, counters=deps.download_counters,
    )  # fmt: skip
    return _served(found)


@app.route("/manage/v1/devices", methods=["POST"])
@_handled
def register_device() -> Response:
    request = _request()
    deps = _authorized(request)
    device = register.register(deps.devices, request_body(request), actor=MANAGEMENT_ACTOR, now_unix=deps.clock())
    return json_response(device_json(device, deps.devices.audit(device.device_id)), status=201)


@app.route("/manage/v1/devices", methods=["GET"])
@_handled
def list_devices() -> Response:
    request = _request()
    deps = _authorized(request)
    params: dict[str, str] = dict(request.query_params or {})
    devices, token = read.list_devices(deps.devices, params.get("limit"), params.get("next"))
    return json_response({"devices": [device_json(d) for d in devices], "next": token})


@app.route("/manage/v1/devices/{device_id}", methods=["GET"])
@_handled
def show_device(device_id: str) -> Response:
    deps = _authorized(_request())
    device, audit = read.show(deps.devices, device_id)
    return json_response(device_json(device, audit))


@app.route("/manage/v1/devices/{device_id}/block", methods=["POST"])
@_handled
def block_device(device_id: str) -> Response:
    request = _request()
    deps = _authorized(request)
    change = lifecycle_ops.parse_change(request_body(request))
    device = lifecycle_ops.block(deps.devices, device_id, change, actor=MANAGEMENT_ACTOR, now_unix=deps.clock())
    return json_response(device_json(device))


@app.route("/manage/v1/devices/{device_id}/unblock", methods=["POST"])
@_handled
def unblock_device(device_id: str) -> Response:
    request = _request()
    deps = _authorized(request)
    change = lifecycle_ops.parse_change(request_body(request))
    device = lifecycle_ops.unblock(deps.devices, device_id, change, actor=MANAGEMENT_ACTOR, now_unix=deps.clock())
    return json_response(device_json(device))


@app.route("/manage/v1/devices/{device_id}", methods=["DELETE"])
@_handled
def delete_device(device_id: str) -> Response:
    request = _request()
    deps = _authorized(request)
    change = lifecycle_ops.parse_change(request_body(request), default_cause="deleted by operator")
    device = lifecycle_ops.delete(deps.devices, device_id, change, actor=MANAGEMENT_ACTOR, now_unix=deps.clock())
    return json_response(device_json(device))
