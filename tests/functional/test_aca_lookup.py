"""The ACA's revocation lookup task (functions/aca/handlers.lookup_task) under moto, and its least privilege.

Requests are answered through the real ``issue_task`` on moto's AcaTable, so each item's ``certId``
is really written and the ``byCertId`` GSI really queried; ``AcaLookupFunction``'s role is checked
against the calls the task makes (its only grant: Query on that index).
"""

from __future__ import annotations

import base64
import copy
from types import ModuleType

import pytest
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy

from scms_cli.local.template import load_template
from scms_codec import time32
from scms_codec.spdu import request_hash
from tests.functional import aca_deployment
from tests.functional.aca_deployment import event as _event
from tests.functional.test_iam import CallRecorder, _table_arn, allowed, granted
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
    [None, [], {}, {"certIds": []}, {"certIds": "00"}, {"certIds": ["XY" * 8]}, {"certIds": ["00" * 8] * 101}],
    ids=["none", "list", "no-ids", "empty", "string", "not-hex", "too-many"],
)
def test_a_malformed_lookup_raises_the_task_error(handlers: ModuleType, event: object) -> None:
    with pytest.raises(handlers.InvalidTaskInput):
        handlers.lookup_task(event, None)


def _lookup_calls(handlers: ModuleType, ra: Ra, ca: Hierarchy) -> set[tuple[str, str]]:
    ids = _issued(handlers, ra, ca)  # the issue task's calls: before recording
    recorder = CallRecorder()
    handlers.lookup_task({"certIds": list(ids)}, None)
    return recorder.calls


def test_the_lookup_role_allows_its_index_query_and_nothing_more(
    handlers: ModuleType, ra: Ra, deployed: tuple[Settings, Hierarchy]
) -> None:
    settings, ca = deployed
    calls = _lookup_calls(handlers, ra, ca)
    grants = granted("AcaLookupFunction")
    index = _table_arn(settings.aca_table) + "/index/byCertId"
    assert calls == {("dynamodb:Query", index)}
    assert all(allowed(c, grants) for c in calls)
    assert grants == {("dynamodb:Query", index)}
    # Twins: the table itself (responses) is not readable, and a role without the statement lacks the call.
    assert not allowed(("dynamodb:GetItem", _table_arn(settings.aca_table)), grants)
    assert not allowed(("dynamodb:Query", _table_arn(settings.aca_table)), grants)
    template = copy.deepcopy(load_template())
    template["Resources"]["AcaLookupFunction"]["Properties"]["Policies"][0]["Statement"][0]["Resource"] = "x"
    assert not any(allowed(c, granted("AcaLookupFunction", template)) for c in calls)
