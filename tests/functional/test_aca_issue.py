"""The ACA's Lambda task (functions/aca/handlers.issue_task) under moto: every variant, retries, refusals, IAM.

The RA side is the simulator of tests/unit/aca; the LA-ACA keys, the hierarchy and the ACA's
answers live in moto (Secrets Manager, CaTable, AcaTable), so DynamoDB's conditions really run.
"""

from __future__ import annotations

import base64
from types import ModuleType
from typing import Any

import boto3
import pytest
from scms_service.config import Settings
from scms_service.hierarchy import Hierarchy
from scms_service.stores.aca_responses import AcaResponseStore, DynamoDbAcaResponseStore

from scms_cli.local.template import load_template, resolve
from scms_codec import time32
from scms_codec.crypto.hashing import hashed_id10
from scms_codec.errors import ErrorCode
from scms_codec.spdu import request_hash
from tests.functional import aca_deployment
from tests.functional.test_iam import CallRecorder, allowed
from tests.unit.aca.response_store_contract import CONTRACT, answer
from tests.unit.aca.simulator import BUTTERFLY, KINDS, CertType, Ra, open_response

CERT_TYPES: tuple[CertType, ...] = ("explicit", "implicit")
VARIANTS = [(t, k) for t in CERT_TYPES for k in KINDS]
# The deployed ACA's fixtures (tests/functional/aca_deployment.py).
deployed, handlers, ra = aca_deployment.deployed, aca_deployment.handlers, aca_deployment.ra
load_aca_handlers, _event, STAGE = aca_deployment.load_aca_handlers, aca_deployment.event, aca_deployment.STAGE


def _stored_items(settings: Settings) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=settings.aca_table)["Items"]
    return items


def test_the_task_issues_every_variant_and_the_ee_opens_each(
    handlers: ModuleType, ra: Ra, deployed: tuple[Settings, Hierarchy]
) -> None:
    # Given two requests of every variant in one shuffled-looking batch,
    settings, ca = deployed
    now = time32.now()
    sent = [ra.request(t, k, 2, j, generation_time=now) for t, k in VARIANTS for j in range(2)]
    # When the state machine's task runs,
    out = handlers.issue_task(_event(sent), None)
    # Then nothing is refused, and each response opens at the EE with a key matching its certificate
    assert out["refused"] == [] and len(out["responses"]) == len(sent)
    cert_ids = {}
    hash_crl = {}
    for s, encoded in zip(sent, out["responses"], strict=True):
        opened = open_response(ra, s, base64.b64decode(encoded), ca.certificate("aca"))
        assert opened.outer.request_hash == request_hash(s.spdu)
        tbs = opened.inner.certificate.tbs
        cert_ids[f"REQ#{request_hash(s.spdu).hex()}"] = opened.inner.certificate.hashed_id8.hex()
        if s.kind not in BUTTERFLY:
            cert = opened.inner.certificate
            hash_crl[f"REQ#{request_hash(s.spdu).hex()}"] = (hashed_id10(cert.encoded).hex(), str(cert.validity[1]))
        if s.kind in BUTTERFLY:
            lv = ra.lines.linkage_value(s.i, s.j)
            assert tbs["id"] == ("linkageData", {"iCert": 2, "linkage-value": lv})
        # with the linked CRL series when it carries linkage data, else the hash CRL series (protocol.md §3.5).
        assert tbs["crlSeries"] == (settings.crl_series if s.kind in BUTTERFLY else settings.crl_hash_series)
    # And AcaTable holds one item per request: its hash, the response, its certificate's id, a TTL; no device;
    # a non-butterfly certificate's also its hash CRL entry (HashedId10, validity end), a butterfly's not.
    items = _stored_items(settings)
    assert len(items) == len(sent)
    plain = {"pk", "sk", "response", "certId", "expiresAt"}
    assert all(set(item) == (plain | {"crlHash", "validUntil"} if item["pk"]["S"] in hash_crl else plain)
               for item in items)  # fmt: skip
    assert {i["pk"]["S"]: (i["crlHash"]["S"], i["validUntil"]["N"]) for i in items if "crlHash" in i} == hash_crl
    assert hash_crl and len(hash_crl) < len(items)
    assert {item["pk"]["S"]: item["certId"]["S"] for item in items} == cert_ids
    ttl = {int(item["expiresAt"]["N"]) for item in items}
    assert len(ttl) == 1 and abs(ttl.pop() - (time32.to_unix(now) + settings.aca_response_ttl)) < 60


def test_a_retried_batch_gets_identical_responses_from_the_table(
    handlers: ModuleType, ra: Ra, deployed: tuple[Settings, Hierarchy], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = deployed
    sent = ra.batch("explicit", "original", 3, 4, generation_time=time32.now())
    first = handlers.issue_task(_event(sent), None)
    # When the same batch is retried (a fresh container: nothing cached in memory),
    monkeypatch.setattr(handlers, "_aca", handlers._Aca())
    again = handlers.issue_task(_event(sent), None)
    # Then every response is byte-identical and the table did not grow.
    assert again == first
    assert len(_stored_items(settings)) == 4


def test_refused_requests_are_listed_with_their_code_and_store_nothing(
    handlers: ModuleType, ra: Ra, deployed: tuple[Settings, Hierarchy]
) -> None:
    settings, _ = deployed
    now = time32.now()
    good = ra.request("implicit", "compact-unified", 1, 0, generation_time=now).spdu
    forged = good[:-1] + bytes([good[-1] ^ 1])
    event = _event([forged, good])
    event["requests"].append("not base64!")
    out = handlers.issue_task(event, None)
    assert out["refused"] == [
        {"index": 0, "code": ErrorCode.SIGNATURE_VERIFICATION_FAILED.value},
        {"index": 2, "code": ErrorCode.FAILED_PARSING.value},
    ]
    assert out["responses"][0] is None and out["responses"][2] is None and out["responses"][1] is not None
    assert len(_stored_items(settings)) == 1


@pytest.mark.parametrize(
    "event", [None, {}, {"requests": "abc"}, {"requests": [1]}], ids=["none", "empty", "str", "int"]
)
def test_a_malformed_event_raises_the_task_error(handlers: ModuleType, event: Any) -> None:
    with pytest.raises(handlers.InvalidTaskInput):
        handlers.issue_task(event, None)


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
def test_the_dynamodb_store_keeps_the_contract(deployed: tuple[Settings, Hierarchy], check: Any) -> None:
    settings, _ = deployed
    store: AcaResponseStore = DynamoDbAcaResponseStore.from_settings(settings)
    check(store)


def test_a_concurrent_first_answer_wins_over_ours(deployed: tuple[Settings, Hierarchy]) -> None:
    # Given an answer another attempt stored after our read (so our transaction's condition fails),
    settings, _ = deployed
    store = DynamoDbAcaResponseStore.from_settings(settings)
    store.put_many({bytes(8): answer(b"theirs", 1, 1)})
    # Then put_many returns theirs for that hash and stores ours for the rest.
    ours = store.put_many({bytes(8): answer(b"ours", 2, 2), b"\x01" * 8: answer(b"new", 3, 2)})
    assert ours == {bytes(8): b"theirs", b"\x01" * 8: b"new"}


# --- least privilege -------------------------------------------------------------------------


def _aca_grants(template: dict[str, Any] | None = None) -> set[tuple[str, str]]:
    from scms_cli.local.cloud import LOCAL_ACCOUNT, LOCAL_REGION, _physical_names

    names = _physical_names("test-key", STAGE)
    names["AcaTable"] = Settings().aca_table
    names["AcaTable.Arn"] = f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{Settings().aca_table}"
    statements = (template or load_template())["Resources"]["AcaFunction"]["Properties"]["Policies"][0]["Statement"]
    out: set[tuple[str, str]] = set()
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        out |= {(a, str(resolve(r, names))) for a in actions for r in resources}
    return out


class _Recorder(CallRecorder):
    """test_iam's recorder, which also names the table of a BatchGetItem (its RequestItems keys)."""

    def _record(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if model.name == "BatchGetItem":
            from tests.functional.test_iam import _table_arn

            self.calls |= {("dynamodb:BatchGetItem", _table_arn(table)) for table in params["RequestItems"]}
            return
        super()._record(params, model, **kwargs)


def _aca_calls(handlers: ModuleType, ra: Ra) -> set[tuple[str, str]]:
    recorder = _Recorder()
    now = time32.now()
    sent = [ra.request("explicit", "original", 4, 0, generation_time=now),
            ra.request("implicit", "plain", 4, 1, generation_time=now)]  # fmt: skip
    handlers.issue_task(_event(sent), None)
    handlers.issue_task(_event(sent), None)  # a retry: read back, nothing written
    return recorder.calls


def test_the_aca_role_allows_every_call_the_aca_makes_and_nothing_more(handlers: ModuleType, ra: Ra) -> None:
    calls = _aca_calls(handlers, ra)
    grants = _aca_grants()
    missing = sorted(c for c in calls if not allowed(c, grants))
    unused = sorted(g for g in grants if not any(allowed(c, {g}) for c in calls) and not g[0].startswith("kms:"))
    assert calls and not missing, f"AcaFunction's role lacks: {missing}"
    assert not unused, f"AcaFunction's role grants what the ACA never calls: {unused}"


def test_a_permission_missing_from_the_aca_role_is_detected(handlers: ModuleType, ra: Ra) -> None:
    # Twin: without PutItem on AcaTable, the answers' conditional Puts are reported missing.
    import copy

    calls = _aca_calls(handlers, ra)
    template = copy.deepcopy(load_template())
    statements = template["Resources"]["AcaFunction"]["Properties"]["Policies"][0]["Statement"]
    next(s for s in statements if s["Sid"] == "AcaTableResponses")["Action"].remove("dynamodb:PutItem")
    grants = _aca_grants(template)
    assert any(c[0] == "dynamodb:PutItem" for c in calls if not allowed(c, grants))
