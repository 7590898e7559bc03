"""The ACA's revocation lookup task (functions/aca/handlers.lookup_task) under moto, and its least privilege.

Requests are answered through the real ``issue_task`` on moto's AcaTable, so each item's ``certId``
(and, for a non-butterfly certificate, ``crlHash``/``validUntil``) is really written and the
``byCertId`` and sparse ``byHashCrl`` GSIs really queried; ``AcaLookupFunction``'s role is checked
against the calls the task makes (its only grant: Query on those two indexes).
"""

from __future__ import annotations

import base64
import copy
import json
from types import ModuleType

import pytest
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy

from scms_cli.local.template import load_template
from scms_codec import time32
from scms_codec.cert.certificate import Certificate
from scms_codec.crypto.hashing import hashed_id10
from scms_codec.spdu import request_hash
from tests.functional import aca_deployment
from tests.functional.aca_deployment import event as _event
from tests.functional.test_iam import CallRecorder, _table_arn, allowed, granted
from tests.support.task_logs import captured
from tests.unit.aca.simulator import Ra, open_response

# The deployed ACA's fixtures (tests/functional/aca_deployment.py).
deployed, handlers, ra = aca_deployment.deployed, aca_deployment.handlers, aca_deployment.ra


def _issued(handlers: ModuleType, ra: Ra, ca: Hierarchy) -> dict[str, str]:
    """certId hex → requestHash hex of three certificates (butterfly and not) the ACA task issued."""
    now = time32.now()
    sent = [ra.request("explicit", "compact-unified", 2, 0, generation_time=now),
            ra.request("implicit", "original", 2, 1, generation_time=now),
            ra.request("explicit", "plain", 2, 2, generation_time=now)]  # fmt: skip
    out = handlers.issue_task(_event(sent), None)
    ids = {}
    for s, encoded in zip(sent, out["responses"], strict=True):
        cert = open_response(ra, s, base64.b64decode(encoded), ca.certificate("aca")).inner.certificate
        ids[cert.hashed_id8.hex()] = request_hash(s.spdu).hex()
    return ids


def _certificates(handlers: ModuleType, ra: Ra, ca: Hierarchy) -> list[tuple[str, Certificate]]:
    """(requestHash hex, certificate) of a butterfly, a plain and a private certificate the ACA task issued."""
    now = time32.now()
    sent = [ra.request("explicit", "compact-unified", 3, 0, generation_time=now),
            ra.request("explicit", "plain", 3, 1, generation_time=now),
            ra.request("implicit", "private", 3, 2, generation_time=now)]  # fmt: skip
    out = handlers.issue_task(_event(sent), None)
    return [
        (request_hash(s.spdu).hex(), open_response(ra, s, base64.b64decode(e), ca.certificate("aca")).inner.certificate)
        for s, e in zip(sent, out["responses"], strict=True)
    ]


def test_the_lookup_task_gives_the_hash_crl_entries_of_non_butterfly_requests_only(
    handlers: ModuleType, ra: Ra, deployed: tuple[Settings, Hierarchy]
) -> None:
    _, ca = deployed
    (butterfly, _), *others = _certificates(handlers, ra, ca)
    never = "00" * 8
    # When the MA asks for the hash CRL entries of the three requests and one never answered,
    out = handlers.lookup_task({"acaRequests": [never, *(r for r, _ in others), butterfly], "correlationId": "ab" * 8},
                               None)  # fmt: skip
    # Then the plain and the private certificates' HashedId10 and validity end are answered,
    assert out == {
        "found": [{"acaRequest": r, "hashedId10": hashed_id10(c.encoded).hex(), "expiry": c.validity[1]}
                  for r, c in others],
        "missing": [never, butterfly],
    }  # fmt: skip
    # and (twin) the butterfly request alone gives nothing: its certificate is on the linked CRL.
    assert handlers.lookup_task({"acaRequests": [butterfly]}, None) == {"found": [], "missing": [butterfly]}


def test_the_lookup_task_logs_the_callers_correlation_id(handlers: ModuleType) -> None:
    # Given the MA's revocation id in the event, the task's log line carries it as correlation_id;
    with captured(handlers.logger) as logs:
        handlers.lookup_task({"acaRequests": ["00" * 8], "correlationId": "5e" * 8}, None)
        handlers.lookup_task({"certIds": ["00" * 8], "correlationId": "5e" * 8}, None)
    assert [line.get("correlation_id") for line in logs.lines("looked up")] == ["5e" * 8] * 2
    # twin: without one (or with something else than a revocation id), no correlation id is logged.
    with captured(handlers.logger) as logs:
        handlers.lookup_task({"acaRequests": ["00" * 8], "correlationId": "device obu-1"}, None)
        handlers.lookup_task({"acaRequests": ["00" * 8]}, None)
    assert [line.get("correlation_id") for line in logs.lines("looked up")] == [None, None]
    assert "obu-1" not in json.dumps(logs.lines())


def test_the_lookup_task_names_the_request_each_certificate_answered(
    handlers: ModuleType, ra: Ra, deployed: tuple[Settings, Hierarchy]
) -> None:
    _, ca = deployed
    ids = _issued(handlers, ra, ca)
    never = ca.certificate("aca").hashed_id8.hex()  # a certificate the ACA task never issued
    asked = [*reversed(ids), never]
    out = handlers.lookup_task({"certIds": asked}, None)
    assert out == {"found": [{"certId": c, "acaRequestId": ids[c]} for c in reversed(ids)], "missing": [never]}
    # Twin: only the unknown one → nothing found.
    assert handlers.lookup_task({"certIds": [never]}, None) == {"found": [], "missing": [never]}


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {},
        {"certIds": []},
        {"certIds": "00"},
        {"certIds": ["XY" * 8]},
        {"certIds": ["00" * 8] * 101},
        {"acaRequests": []},
        {"acaRequests": ["XY" * 8]},
        {"acaRequests": ["00" * 8] * 101},
        {"certIds": ["00" * 8], "acaRequests": ["00" * 8]},
    ],
    ids=[
        "none",
        "list",
        "no-ids",
        "empty",
        "string",
        "not-hex",
        "too-many",
        "requests-empty",
        "requests-not-hex",
        "requests-too-many",
        "both",
    ],
)
def test_a_malformed_lookup_raises_the_task_error(handlers: ModuleType, event: object) -> None:
    with pytest.raises(handlers.InvalidTaskInput):
        handlers.lookup_task(event, None)


def _lookup_calls(handlers: ModuleType, ra: Ra, ca: Hierarchy) -> set[tuple[str, str]]:
    ids = _issued(handlers, ra, ca)  # the issue task's calls: before recording
    recorder = CallRecorder()
    handlers.lookup_task({"certIds": list(ids)}, None)
    handlers.lookup_task({"acaRequests": list(ids.values())}, None)
    return recorder.calls


def test_the_lookup_role_allows_its_index_query_and_nothing_more(
    handlers: ModuleType, ra: Ra, deployed: tuple[Settings, Hierarchy]
) -> None:
    settings, ca = deployed
    calls = _lookup_calls(handlers, ra, ca)
    grants = granted("AcaLookupFunction")
    index = _table_arn(settings.aca_table) + "/index/byCertId"
    hash_index = _table_arn(settings.aca_table) + "/index/byHashCrl"
    assert calls == {("dynamodb:Query", index), ("dynamodb:Query", hash_index)}
    assert all(allowed(c, grants) for c in calls)
    assert grants == calls
    # Twins: the table itself (responses) is not readable, and a role without the statement lacks the call.
    assert not allowed(("dynamodb:GetItem", _table_arn(settings.aca_table)), grants)
    assert not allowed(("dynamodb:Query", _table_arn(settings.aca_table)), grants)
    template = copy.deepcopy(load_template())
    template["Resources"]["AcaLookupFunction"]["Properties"]["Policies"][0]["Statement"][0]["Resource"] = "x"
    assert not any(allowed(c, granted("AcaLookupFunction", template)) for c in calls)
