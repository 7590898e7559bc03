"""Settings are read once (argument > environment > default); errors become status + Table 8 header."""

from __future__ import annotations

import pytest
from scms_service.config import load_settings
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
