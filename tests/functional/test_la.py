"""The LA Lambda tasks (La1Function, La2Function: functions/la/handlers.plv_task) under moto.

Seeds live in the template's La1Table / La2Table and the LA-ACA keys in Secrets Manager, so the
DynamoDB conditions and the secrets the functions read are real; each handler is imported with
its own function environment from infra/template.yaml, as Lambda (and `scms serve`) would.
"""

from __future__ import annotations

import base64
import copy
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from scms_la.plv import (
    IndexedPlv,
    PlvBeforeOrigin,
    PlvRequest,
    PlvRequestInvalid,
    PlvRequestTooLarge,
    PlvResponse,
    pre_linkage_values,
    seed_at,
)
from scms_service import aws
from scms_service.config import Settings
from scms_service.linkage_keys import LA_IDS, ensure_la_aca_keys, la_aca_key, la_aca_keyring
from scms_service.stores.ca import SecretsManagerKeyVault
from scms_service.stores.linkage_seeds import ChainSeed, DynamoDbSeedStore

from scms_cli.local.gateway import LambdaContext, load_handler
from scms_cli.local.template import functions, load_template, table_properties
from scms_codec import asn1
from scms_codec.crypto import linkage
from scms_codec.errors import DecryptionError
from scms_codec.secured.keyring import Keyring
from scms_codec.spdu.plv import decrypt_plv, linkage_value_of
from scms_codec.spdu.ra_aca import EncryptedIndividualPLV, LinkageInfo
from tests.events import load_event
from tests.functional.test_iam import CallRecorder, allowed, granted
from tests.support.vectors import crypto_cases, h

STAGE = "dev"
EVENT = load_event("la_plv_task")
CHAIN = bytes.fromhex(EVENT["chainId"])
LA_FUNCTIONS = {"la1": "La1Function", "la2": "La2Function"}


@pytest.fixture
def deployed(aws_settings: Settings) -> Iterator[Settings]:
    """Stage ``dev`` after `scms init`: the LA-ACA keys exist; the LA tables are the template's."""
    settings = replace(aws_settings, secret_prefix=f"scms/{STAGE}/")
    ensure_la_aca_keys(settings, SecretsManagerKeyVault.from_settings(settings))
    yield settings


def load_la(la: str, settings: Settings, **extra_env: str) -> Any:
    """``handlers.plv_task`` of the LA's template function, imported under its function's environment."""
    spec = next(s for s in functions() if s.logical_id == LA_FUNCTIONS[la])
    env = {k: str(v) for k, v in spec.environment.items()}
    env.update({"SCMS_SECRET_PREFIX": settings.secret_prefix, "SCMS_LA1_TABLE": settings.la1_table,
                "SCMS_LA2_TABLE": settings.la2_table, **extra_env})  # fmt: skip
    return load_handler(spec, env)


def run(task: Any, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = task(event, LambdaContext(function_name="la"))
    return result


def encrypted(result: dict[str, Any]) -> dict[tuple[int, int], EncryptedIndividualPLV]:
    """Each entry by its (i, j): entry k of the positional answer is (iFirst + k // jMax, k % jMax)."""
    out = {}
    for k, entry in enumerate(result["plvs"]):
        value = asn1.decode("EncryptedIndividualPLV", base64.b64decode(entry))
        out[(result["iFirst"] + k // result["jMax"], k % result["jMax"])] = EncryptedIndividualPLV.from_asn1(value)
    return out


def items(table: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return found


def seeds(settings: Settings, la: str) -> DynamoDbSeedStore:
    return DynamoDbSeedStore.from_settings(settings, la, client=boto3.client("dynamodb"))


# --- the two LAs and the ACA ---


def test_la1_xor_la2_opened_with_the_aca_keyring_is_the_linkage_value_of_the_stored_seeds(deployed: Settings) -> None:
    # Given LA1 and LA2 as deployed, When each answers the RA's task for i = 1000..1002, j < 20,
    r1 = run(load_la("la1", deployed), EVENT)
    r2 = run(load_la("la2", deployed), EVENT)
    # Then each answers the bounds asked for and one PLV per (i, j), in order, under its own LaId,
    pairs = [(i, j) for i in range(1000, 1003) for j in range(20)]
    assert (r1["laId"], r2["laId"]) == ("0001", "0002")
    bounds = {"iFirst": 1000, "iLast": 1002, "jMax": 20}
    assert {k: r1[k] for k in bounds} == bounds == {k: r2[k] for k in bounds}
    assert list(encrypted(r1)) == pairs == list(encrypted(r2)) and len(r1["plvs"]) == len(pairs)
    # And the ACA, with its keyring of both LA keys, opens lv = plv1 xor plv2 for every pair, which is
    # crypto.linkage's value of the seeds each LA stored (one per table) evolved to i.
    keyring = la_aca_keyring(deployed, SecretsManagerKeyVault.from_settings(deployed))
    e1, e2 = encrypted(r1), encrypted(r2)
    s1 = {i: seed_at(CHAIN, i, la_id=LA_IDS["la1"], seeds=seeds(deployed, "la1")) for i in range(1000, 1003)}
    s2 = {i: seed_at(CHAIN, i, la_id=LA_IDS["la2"], seeds=seeds(deployed, "la2")) for i in range(1000, 1003)}
    for i, j in pairs:
        expected = linkage.linkage_value(
            linkage.pre_linkage_value(LA_IDS["la1"], s1[i], j), linkage.pre_linkage_value(LA_IDS["la2"], s2[i], j)
        )
        assert linkage_value_of(LinkageInfo(e1[(i, j)], e2[(i, j)]), keyring) == expected
    assert len(items(deployed.la1_table)) == 1 and len(items(deployed.la2_table)) == 1
    assert s1[1000] != s2[1000]
    # Twin: pairing LA1's (i, j) with LA2's (i, j+1) gives another value.
    assert linkage_value_of(LinkageInfo(e1[(1000, 0)], e2[(1000, 1)]), keyring) != linkage.linkage_value(
        linkage.pre_linkage_value(LA_IDS["la1"], s1[1000], 0), linkage.pre_linkage_value(LA_IDS["la2"], s2[1000], 0)
    )


def test_neither_the_ra_nor_the_other_la_can_open_an_las_plvs(deployed: Settings) -> None:
    # Given LA1's answer,
    e1 = encrypted(run(load_la("la1", deployed), EVENT))[(1000, 0)]
    vault = SecretsManagerKeyVault.from_settings(deployed)
    la2_only = Keyring()
    la2_only.add_symmetric(la_aca_key(deployed, vault, "la2"))
    # Then the RA (no key) and a holder of LA2's key cannot open it,
    for keyring in (Keyring(), la2_only):
        with pytest.raises(DecryptionError):
            decrypt_plv(e1, keyring)
    # Twin: LA1's key (the ACA's) opens it.
    la1_only = Keyring()
    la1_only.add_symmetric(la_aca_key(deployed, vault, "la1"))
    assert len(decrypt_plv(e1, la1_only)) == 9


@pytest.mark.parametrize("case", crypto_cases("camp_lv.json"))
def test_camp_seed_stored_in_dynamodb_gives_the_camp_plv(deployed: Settings, case: dict[str, Any]) -> None:
    # Given CAMP's ls1(0) stored in the LA table at i = 0 (LaId 8E09 as in the vector),
    store = seeds(deployed, "la1")
    la_id, i, j = h(case["la_id1_hex"]), case["i"], case["j"]
    store.put_if_absent(ChainSeed(CHAIN, 0, h(case["ls1_0_hex"]), la_id, 1))
    # When the use case answers period i,
    response = pre_linkage_values(PlvRequest(CHAIN, i, i, j + 1), la_id=la_id, seeds=store, aca_key=bytes(16), now=2)
    keyring = Keyring()
    keyring.add_symmetric(bytes(16))
    enc = {(p.i, p.j): p.enc_plv for p in response.plvs}
    plv = decrypt_plv(EncryptedIndividualPLV.from_asn1(asn1.decode("EncryptedIndividualPLV", enc[(i, j)])), keyring)
    # Then it is CAMP's plv1(i, j); Twin: j-1 (or j+1 at j = 0) is not.
    assert plv == h(case["plv1_hex"])
    other = (i, j - 1) if j else (i, 1)
    if other in enc:
        opened = EncryptedIndividualPLV.from_asn1(asn1.decode("EncryptedIndividualPLV", enc[other]))
        assert decrypt_plv(opened, keyring) != h(case["plv1_hex"])


# --- the chain in DynamoDB ---


class StaleFirstRead(DynamoDbSeedStore):
    """Its first ``get`` answers "no seed", as a read made just before a concurrent first write."""

    def __init__(self, inner: DynamoDbSeedStore, client: Any) -> None:
        super().__init__(inner._table, client)
        self.stale = True

    def get(self, chain_id: bytes) -> ChainSeed | None:
        if self.stale:
            self.stale = False
            return None
        return super().get(chain_id)


def test_a_first_request_that_loses_the_race_uses_the_winners_seed(deployed: Settings) -> None:
    # Given a first request that stored the chain's seed,
    client = boto3.client("dynamodb")
    store = seeds(deployed, "la1")
    request = PlvRequest(CHAIN, 5, 6, 4)
    winner = pre_linkage_values(request, la_id=LA_IDS["la1"], seeds=store, aca_key=bytes(16), now=1)
    stored = items(deployed.la1_table)
    # When a concurrent first request, which read no seed, tries to store its own,
    loser_store = StaleFirstRead(store, client)
    loser = pre_linkage_values(request, la_id=LA_IDS["la1"], seeds=loser_store, aca_key=bytes(16), now=2)
    # Then the conditional put refused it, the table still holds the winner's one item,
    assert not loser_store.stale
    assert items(deployed.la1_table) == stored
    # and both answers hold the same PLVs.
    keyring = Keyring()
    keyring.add_symmetric(bytes(16))

    def clear(response: Any) -> list[bytes]:
        return [decrypt_plv(EncryptedIndividualPLV.from_asn1(asn1.decode("EncryptedIndividualPLV", p.enc_plv)),
                            keyring) for p in response.plvs]  # fmt: skip

    assert clear(winner) == clear(loser)
    # Twin: another chain gets a seed of its own, and other PLVs.
    third = pre_linkage_values(replace(request, chain_id=bytes(16)), la_id=LA_IDS["la1"], seeds=store,
                               aca_key=bytes(16), now=3)  # fmt: skip
    assert clear(third) != clear(winner) and len(items(deployed.la1_table)) == 2


def test_concurrent_first_tasks_store_one_seed(deployed: Settings) -> None:
    # Given two LA1 task invocations for a new chain at once (threads, one process as two containers),
    task = load_la("la1", deployed)
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def invoke() -> None:
        barrier.wait(timeout=10)
        results.append(run(task, EVENT))

    threads = [threading.Thread(target=invoke) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # Then one seed is stored and both answers open to the same PLVs.
    assert len(results) == 2 and len(items(deployed.la1_table)) == 1
    keyring = la_aca_keyring(deployed, SecretsManagerKeyVault.from_settings(deployed))
    a, b = (encrypted(r) for r in results)
    assert all(decrypt_plv(a[k], keyring) == decrypt_plv(b[k], keyring) for k in a)


def test_a_later_task_continues_the_chain_and_one_below_its_origin_is_refused(deployed: Settings) -> None:
    # Given a chain first asked for i = 1000..1002,
    task = load_la("la1", deployed)
    first = encrypted(run(task, EVENT))
    store = seeds(deployed, "la1")
    origin = store.get(CHAIN)
    assert origin is not None and origin.origin_i == 1000
    before = items(deployed.la1_table)
    # When asked later for i = 1005,
    later = encrypted(run(task, {**EVENT, "iFirst": 1005, "iLast": 1005}))
    # Then ls(1005) is the stored ls(1000) evolved five times, and its PLVs are ls(1005)'s.
    evolved = origin.seed
    for _ in range(5):
        evolved = linkage.evolve_seed(LA_IDS["la1"], evolved)
    assert seed_at(CHAIN, 1005, la_id=LA_IDS["la1"], seeds=store) == evolved
    keyring = la_aca_keyring(deployed, SecretsManagerKeyVault.from_settings(deployed))
    assert [decrypt_plv(later[(1005, j)], keyring) for j in range(20)] == linkage.pre_linkage_values(
        LA_IDS["la1"], evolved, range(20)
    )
    # And a repeated request answers the same PLVs (fresh encryptions), from the same single item.
    again = encrypted(run(task, EVENT))
    assert all(decrypt_plv(again[k], keyring) == decrypt_plv(first[k], keyring) for k in first)
    # When asked for i = 999, before the origin, Then it is refused and the table is unchanged.
    with pytest.raises(PlvBeforeOrigin):
        run(task, {**EVENT, "iFirst": 999})
    assert items(deployed.la1_table) == before


def test_an_oversized_task_is_refused_and_stores_nothing(deployed: Settings) -> None:
    # Given LA1 configured for at most 40 PLVs per request,
    task = load_la("la1", deployed, SCMS_LA_MAX_PLVS="40")
    # When asked for 3 periods of 20, Then it is refused by name, and no seed is created,
    with pytest.raises(PlvRequestTooLarge, match="60 PLVs asked for; at most 40"):
        run(task, EVENT)
    assert items(deployed.la1_table) == []
    # Twin: 2 periods of 20 are answered.
    assert len(run(task, {**EVENT, "iLast": 1001})["plvs"]) == 40


@pytest.mark.parametrize(
    "event",
    [
        {k: v for k, v in EVENT.items() if k != "jMax"},
        {**EVENT, "chainId": "not hex"},
        {**EVENT, "chainId": EVENT["chainId"][:30]},
        {**EVENT, "iFirst": "1000"},
        {**EVENT, "jMax": 0},
        ["not", "an", "object"],
    ],
    ids=["no-jMax", "chain-not-hex", "chain-15-octets", "i-as-string", "jMax-0", "not-an-object"],
)
def test_a_malformed_task_event_is_refused_and_stores_nothing(deployed: Settings, event: Any) -> None:
    with pytest.raises(PlvRequestInvalid):
        run(load_la("la1", deployed), event)
    assert items(deployed.la1_table) == []


# --- secrets never in logs ---


def _secret_forms(secret: bytes) -> list[str]:
    return [secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode(), repr(secret)]


def test_no_seed_plv_or_key_reaches_the_logs(
    deployed: Settings, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given both LAs answering, a refusal and a lost race, with every log line captured,
    # Every level of our own loggers; libraries at INFO, as deployed (botocore's DEBUG wire log prints
    # every request and response body, secrets included, for any AWS client: never enable it).
    caplog.set_level("INFO")
    for name in ("la", "scms_la", "scms_service", "scms_codec"):
        caplog.set_level("DEBUG", logger=name)
    la1, la2 = load_la("la1", deployed), load_la("la2", deployed)
    r1, r2 = run(la1, EVENT), run(la2, EVENT)
    with pytest.raises(PlvBeforeOrigin):
        run(la1, {**EVENT, "iFirst": 999, "iLast": 999})
    # (Powertools' handler may be bound to an earlier stdout, so every record's fields are scanned too.)
    logged = capsys.readouterr().out + caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    # Then no form of a seed, PLV or LA-ACA key is in them,
    vault = SecretsManagerKeyVault.from_settings(deployed)
    keyring = la_aca_keyring(deployed, vault)
    secrets: list[bytes] = [la_aca_key(deployed, vault, la) for la in ("la1", "la2")]
    for la in ("la1", "la2"):
        stored = seeds(deployed, la).get(CHAIN)
        assert stored is not None
        secrets += [stored.seed, *(seed_at(CHAIN, i, la_id=LA_IDS[la], seeds=seeds(deployed, la))
                                   for i in range(1000, 1003))]  # fmt: skip
    secrets += [decrypt_plv(e, keyring) for r in (r1, r2) for e in encrypted(r).values()]
    secrets = list(dict.fromkeys(secrets))  # ls(1000) is the stored seed itself
    leaks = [s.hex() for s in secrets if any(form in logged for form in _secret_forms(s))]
    assert "PLVs answered" in logged and "PlvBeforeOrigin" in logged
    assert leaks == []
    # Twin: the scan finds a seed spliced into the log.
    spliced = logged + base64.b64encode(secrets[2]).decode()
    assert [s.hex() for s in secrets if any(form in spliced for form in _secret_forms(s))] == [secrets[2].hex()]


# --- template and least privilege ---


@pytest.mark.parametrize("la", ["la1", "la2"])
def test_each_la_function_is_a_task_with_its_own_id_table_and_key(la: str) -> None:
    template = load_template()
    resource = template["Resources"][LA_FUNCTIONS[la]]["Properties"]
    assert resource["Handler"] == "handlers.plv_task" and "Events" not in resource
    assert resource["Environment"]["Variables"]["SCMS_LA_ID"] == LA_IDS[la].hex()
    table = table_properties(f"La{la[-1]}Table")
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert template["Globals"]["Function"]["Environment"]["Variables"][f"SCMS_{la.upper()}_TABLE"] == {
        "Ref": f"La{la[-1]}Table"
    }


def _la1_calls(deployed: Settings) -> set[tuple[str, str]]:
    task = load_la("la1", deployed)
    recorder = CallRecorder()
    run(task, EVENT)  # first: GetItem, conditional PutItem, the key
    run(task, {**EVENT, "iFirst": 1001})  # later: GetItem only
    # A lost race: the conditional put fails and the winner's seed is read back.
    racing = StaleFirstRead(seeds(deployed, "la1"), aws.client("dynamodb"))  # the recorded client
    pre_linkage_values(PlvRequest(CHAIN, 1000, 1000, 1), la_id=LA_IDS["la1"], seeds=racing, aca_key=bytes(16), now=1)
    return recorder.calls


def test_the_la1_role_allows_every_call_la1_makes_and_nothing_more(deployed: Settings) -> None:
    calls = _la1_calls(deployed)
    grants = granted("La1Function")
    missing = sorted(c for c in calls if not allowed(c, grants))
    unused = sorted(g for g in grants if not any(allowed(c, {g}) for c in calls) and not g[0].startswith("kms:"))
    assert calls and not missing, f"La1Function's role lacks: {missing}"
    assert not unused, f"La1Function's role grants what LA1 never calls: {unused}"
    # LA1's role reaches neither LA2's table nor LA2's key.
    la2_calls = {(a, r.replace("scms-la1", "scms-la2").replace("la-aca/la1", "la-aca/la2")) for a, r in calls}
    assert not any(allowed(c, grants) for c in la2_calls - calls)


def test_a_permission_missing_from_the_la1_role_is_detected(deployed: Settings) -> None:
    # Twin: without PutItem on La1Table, the first request's conditional put is reported missing.
    calls = _la1_calls(deployed)
    template = copy.deepcopy(load_template())
    statements = template["Resources"]["La1Function"]["Properties"]["Policies"][0]["Statement"]
    next(s for s in statements if s["Sid"] == "La1TableSeeds")["Action"].remove("dynamodb:PutItem")
    grants = granted("La1Function", template)
    assert [c for c in calls if not allowed(c, grants)] == [
        ("dynamodb:PutItem", f"arn:aws:dynamodb:us-east-1:123456789012:table/{deployed.la1_table}")
    ]


def test_the_positional_answer_is_written_only_in_its_request_s_order(deployed: Settings) -> None:
    handlers = sys.modules[load_la("la1", deployed).__module__]
    request = PlvRequest(CHAIN, 1000, 1001, 2)
    pairs = [(1000, 0), (1000, 1), (1001, 0), (1001, 1)]
    ordered = PlvResponse(b"\x00\x01", tuple(IndexedPlv(i, j, bytes([i % 256, j])) for i, j in pairs))
    result = handlers.response_to_result(request, ordered)
    assert result["plvs"] == [base64.b64encode(bytes([i % 256, j])).decode() for i, j in pairs]
    assert (result["iFirst"], result["iLast"], result["jMax"]) == (1000, 1001, 2)
    # Twin: an answer in another order (or for other pairs) would put PLVs under the wrong (i, j): refused.
    swapped = PlvResponse(b"\x00\x01", (ordered.plvs[1], ordered.plvs[0], *ordered.plvs[2:]))
    with pytest.raises(RuntimeError):
        handlers.response_to_result(request, swapped)
    with pytest.raises(RuntimeError):
        handlers.response_to_result(PlvRequest(CHAIN, 1000, 1001, 3), ordered)
