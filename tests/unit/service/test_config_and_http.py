"""Settings are read once (argument > environment > default); errors become status + Table 8 header."""

from __future__ import annotations

from typing import Any

import pytest
from scms_service.config import MIN_CRL_INTERVAL, load_settings
from scms_service.errors import BadRequest, NotFound, Unauthorized
from scms_service.http import ERROR_HEADER, error_response

from scms_codec.errors import ErrorCode


def test_argument_beats_environment_beats_default() -> None:
    env = {"SCMS_ECA_MAX_AGE": "77", "SCMS_RA_TABLE": "t-env"}
    settings = load_settings(env, ra_table="t-arg")
    assert (settings.ra_table, settings.eca_max_age, settings.eca_max_wait) == ("t-arg", 77, 100)


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="SCMS_ECA_MAX_AGE"):
        load_settings({"SCMS_ECA_MAX_AGE": "soon"})
    with pytest.raises(ValueError, match="SCMS_ALLOW_REENROLLMENT"):
        load_settings({"SCMS_ALLOW_REENROLLMENT": "maybe"})


def test_unknown_override_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        load_settings({}, no_such_setting=1)


def test_1609_refusal_carries_the_table8_header_in_fine_mode() -> None:
    response = error_response(BadRequest("bad", code=ErrorCode.SIGNATURE_VERIFICATION_FAILED))
    assert response.status_code == 400
    assert response.headers[ERROR_HEADER] == "400-43"


def test_coarse_mode_hides_the_code_behind_a_bare_500() -> None:
    response = error_response(BadRequest("bad", code=ErrorCode.FAILED_PARSING), error_mode="coarse")
    assert response.status_code == 500
    assert ERROR_HEADER not in response.headers


@pytest.mark.parametrize(("exc", "status"), [(Unauthorized("no key"), 401), (NotFound("no device"), 404)])
def test_management_errors_have_no_table8_header(exc: Exception, status: int) -> None:
    response = error_response(exc)  # type: ignore[arg-type]
    assert response.status_code == status
    assert ERROR_HEADER not in response.headers


def test_unknown_error_mode_is_refused_at_start() -> None:
    # A typo would otherwise silently mean "fine".
    with pytest.raises(ValueError, match="SCMS_ERROR_MODE"):
        load_settings({"SCMS_ERROR_MODE": "corse"})
    assert load_settings({"SCMS_ERROR_MODE": "coarse"}).error_mode == "coarse"


def test_a_crl_interval_the_hourly_crl_generator_cannot_keep_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="SCMS_CRL_INTERVAL"):
        load_settings({"SCMS_CRL_INTERVAL": str(MIN_CRL_INTERVAL - 1)})
    assert load_settings({"SCMS_CRL_INTERVAL": str(MIN_CRL_INTERVAL)}).crl_interval == MIN_CRL_INTERVAL


def _tiny_app() -> Any:
    from chalice.app import Chalice
    from scms_service.http import OCTET_STREAM, accept_any_when_absent, binary, json_response

    app = Chalice(app_name="accept-test")
    accept_any_when_absent(app)
    calls: list[str] = []

    @app.route("/v3/thing", methods=["GET"])
    def thing() -> Any:
        calls.append("v3")
        return binary(b"\x01\x02")

    @app.route("/health", methods=["GET"])
    def health() -> Any:
        calls.append("health")
        return json_response({"ok": True})

    app.calls = calls  # type: ignore[attr-defined]
    assert OCTET_STREAM == "application/octet-stream"
    return app


ALLOWING_OCTETS = [None, "*/*", "application/octet-stream", "application/*", "text/html, application/*;q=0.5"]


@pytest.mark.parametrize("accept", ALLOWING_OCTETS)
def test_binary_route_answers_any_accept_that_allows_octets(accept: str | None) -> None:
    from chalice.test import Client

    app = _tiny_app()
    with Client(app) as client:
        headers = {} if accept is None else {"Accept": accept}
        answer = client.http.get("/v3/thing", headers=headers)
    assert (answer.status_code, answer.body) == (200, b"\x01\x02")


def test_binary_route_refuses_an_accept_without_octets_before_the_route_runs() -> None:
    from chalice.test import Client

    app = _tiny_app()
    with Client(app) as client:
        refused = client.http.get("/v3/thing", headers={"Accept": "text/html"})
        # Twin: a JSON route is not touched by the check
        fine = client.http.get("/health", headers={"Accept": "text/html"})
    assert refused.status_code == 400 and app.calls == ["health"]
    assert fine.status_code == 200
