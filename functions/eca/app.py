"""The ECA's Chalice app (Lambda ``EcaFunction``, handler ``app.app``): routes only (style.md 2).

``POST /v3/enrollment-certificate``: ``EeEcaCertRequestSpdu`` in, ``EcaEeCertResponseSpdu`` out
(docs/architecture.md "HTTP routes"); the use case is ``scms_eca.enroll``.
"""

from __future__ import annotations

import functools
import time

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from chalice.app import Chalice, Response
from scms_eca.enroll import enroll
from scms_service.config import Settings, load_settings
from scms_service.health_route import add_health_route
from scms_service.http import OCTET_STREAM, accept_any_when_absent, binary, refusals, request_body
from scms_service.lazy_hierarchy import LazyHierarchy
from scms_service.observability import add_metric, observe
from scms_service.stores.devices import DynamoDeviceStore
from scms_service.stores.eca_requests import DynamoDbEcaRequestStore

from scms_codec import time32

app = Chalice(app_name="scms-eca")
logger = Logger(service="eca")


@functools.cache
def settings() -> Settings:
    """Read once per process (cold start), style.md 14."""
    return load_settings()


# The CA hierarchy, loaded on first use (a refused request reads no key). The provider looks this module's
# ``settings`` up at load time, so a test that replaces ``settings`` builds its own ``_LazyHierarchy()``.
_LazyHierarchy = functools.partial(LazyHierarchy, lambda: settings())
_ca = _LazyHierarchy()


_refusals = refusals(logger, lambda: settings().error_mode)
accept_any_when_absent(app)
# Correlation id (the request hash of a POST), one log line and EMF metrics per request (scms_service.observability).
observe(app, logger, "eca")


def _certificate_issued(cert_type: str) -> None:
    add_metric("CertificatesIssued", dimensions={"CertType": cert_type})


add_health_route(app, "eca", lambda: settings(), "eca_table")  # looked up per call: tests replace settings


@app.route("/v3/enrollment-certificate", methods=["POST"], content_types=[OCTET_STREAM])
@_refusals
def enrollment_certificate() -> Response:
    """Enrollment, 1609.2.1 §6.3.4.2 (protocol.md §3.2)."""
    assert app.current_request is not None
    started = time.perf_counter()
    data = request_body(app.current_request)
    s = settings()
    response = enroll(
        data,
        now=time32.now(),
        settings=s,
        devices=DynamoDeviceStore(s.ra_table),
        requests=DynamoDbEcaRequestStore.from_settings(s),
        ca=_ca,
        on_issued=_certificate_issued,
    )
    logger.info("enrollment answered", extra={"response_octets": len(response)})
    add_metric("EnrollmentLatencyMs", (time.perf_counter() - started) * 1000, MetricUnit.Milliseconds)
    return binary(response)
