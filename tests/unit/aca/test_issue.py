"""scms_aca.issue: each variant end to end (RA side → issue_batch → EE side), refusals with twins, idempotency."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from scms_aca import wire
from scms_aca.issue import IssuePolicy
from scms_service.hierarchy import Hierarchy

from scms_codec import asn1
from scms_codec.asn1._spec import specification
from scms_codec.cert.certificate import Certificate, issue_explicit, verify_signature
from scms_codec.errors import DecryptionError, ErrorCode
from scms_codec.secured.cert_request import sign_cert_request
from scms_codec.secured.keyring import Keyring
from scms_codec.secured.signer import Signer
from scms_codec.spdu import request_hash
from scms_codec.spdu._wrap import scms_pdu_bytes
from scms_codec.spdu.ra_aca import RaAcaCertRequest, parse_aca_ra_cert_response
from tests.support.pki import build_pki, new_key
from tests.support.pki import tbs as role_tbs
from tests.unit.aca.conftest import NOW, Aca
from tests.unit.aca.simulator import BUTTERFLY, KINDS, Ra, Sent, open_response

VARIANTS = [(t, k) for t in ("explicit", "implicit") for k in KINDS]


def _aca_cert(aca: Aca) -> Certificate:
    cert = aca.signer.certificate
    assert cert is not None
    return cert


@pytest.mark.parametrize(("cert_type", "kind"), VARIANTS, ids=[f"{t}-{k}" for t, k in VARIANTS])
def test_every_variant_issues_certificates_the_ee_opens_and_checks(aca: Aca, ra: Ra, cert_type: Any, kind: Any) -> None:
    # Given three requests of the variant for i = 3, built by the RA side from the EE's caterpillar keys,
    sent = ra.batch(cert_type, kind, 3, 3, generation_time=NOW)
    # When the ACA issues the batch,
    results = aca.issue([s.spdu for s in sent])
    # Then each answer is an ACA-signed AcaRaCertResponseSpdu for exactly that request,
    aca_cert = _aca_cert(aca)
    for s, result in zip(sent, results, strict=True):
        assert result.ok and result.refusal is None
        assert result.request_hash == request_hash(s.spdu)
        outer = parse_aca_ra_cert_response(result.response or b"")
        assert outer.signer == aca_cert and outer.content.request_hash == request_hash(s.spdu)
        assert outer.content.generation_time == NOW
        # which the EE opens, reconstructing a private key that matches the certificate (checked inside),
        opened = open_response(ra, s, result.response or b"", aca_cert)
        cert = opened.inner.certificate
        assert cert.is_implicit == (cert_type == "implicit")
        if cert_type == "explicit":
            verify_signature(cert, aca_cert)
        # and whose contents are the ACA's: real cracaId/crlSeries, the requested validity and PSIDs,
        tbs = cert.tbs
        assert tbs["cracaId"] == aca.hierarchy.certificate("root").hashed_id3 and tbs["crlSeries"] == 1
        assert tbs["validityPeriod"] == {"start": ra.epoch + 3 * 7 * 24 * 3600, "duration": ("hours", 169)}
        assert tbs["appPermissions"] == [{"psid": 32}]
        # with linkage value = plv1 ⊕ plv2 from the LAs' seeds for (i, j) (butterfly), else the requested id.
        if kind in BUTTERFLY:
            assert tbs["id"] == ("linkageData", {"iCert": 3, "linkage-value": ra.lines.linkage_value(3, s.j)})
        else:
            assert tbs["id"] == ("none", None)
    # And the certificates of the batch are all different (fresh randomisation per request).
    assert len({r.response for r in results}) == len(sent)


@pytest.mark.parametrize("kind", ["compact-unified", "original", "unified"])
def test_a_response_does_not_open_for_another_j(aca: Aca, ra: Ra, kind: Any) -> None:
    # Twin of the above: the EE side with the keys of j = 1 cannot use the answer for j = 0.
    sent = ra.request("implicit", kind, 3, 0, generation_time=NOW)
    [result] = aca.issue([sent.spdu])
    other = dataclasses.replace(sent, j=1)
    with pytest.raises(DecryptionError):
        open_response(ra, other, result.response or b"", _aca_cert(aca))


# --- refusals, each with its twin ------------------------------------------------------------


def _flip_signature_bit(spdu: bytes) -> bytes:
    return spdu[:-1] + bytes([spdu[-1] ^ 0x01])


def test_a_wrong_ra_signature_is_refused_with_400_43_and_the_rest_of_the_batch_is_issued(aca: Aca, ra: Ra) -> None:
    good, bad = ra.batch("explicit", "unified", 1, 2, generation_time=NOW)
    results = aca.issue([good.spdu, _flip_signature_bit(bad.spdu), bad.spdu])
    assert [r.refusal for r in results] == [None, ErrorCode.SIGNATURE_VERIFICATION_FAILED, None]
    assert results[0].ok and not results[1].ok and results[2].ok


def test_an_ra_certificate_not_under_the_hierarchy_is_refused_with_400_40(aca: Aca, ra: Ra) -> None:
    # Given an RA of another PKI (its own root), which signs correctly,
    foreign = Ra(build_pki().ra, ee=ra.ee, lines=ra.lines, epoch=ra.epoch)
    refused = foreign.request("explicit", "original", 2, 0, generation_time=NOW)
    own = ra.request("explicit", "original", 2, 0, generation_time=NOW)
    # Then its request is refused and ours (same contents) is issued.
    assert [r.refusal for r in aca.issue([refused.spdu, own.spdu])] == [ErrorCode.CHAIN_VERIFICATION_FAILED, None]


def test_an_ra_certificate_outside_its_validity_is_refused_with_400_40(make_aca: Callable[..., Aca], ra: Ra) -> None:
    from tests.unit.aca.conftest import resolver_for

    sent = ra.request("implicit", "unified", 2, 0, generation_time=NOW)
    late = make_aca(resolver=resolver_for(ra_hierarchy(make_aca), now=NOW + 100 * 365 * 24 * 3600))
    assert [r.refusal for r in late.issue([sent.spdu])] == [ErrorCode.CHAIN_VERIFICATION_FAILED]
    assert [r.refusal for r in make_aca().issue([sent.spdu])] == [None]


def ra_hierarchy(make_aca: Callable[..., Aca]) -> Hierarchy:
    return make_aca().hierarchy


def test_a_plv_under_an_unknown_la_key_is_refused_with_400_41(make_aca: Callable[..., Aca], ra: Ra) -> None:
    # Given an ACA that holds LA1's key but not LA2's,
    partial = Keyring()
    partial.add_symmetric(ra.lines.la1_key)
    sent = ra.request("explicit", "compact-unified", 4, 2, generation_time=NOW)
    # Then the request is refused, and with both keys it is issued.
    assert [r.refusal for r in make_aca(keyring=partial).issue([sent.spdu])] == [ErrorCode.DECRYPTION_FAILED]
    assert [r.refusal for r in make_aca().issue([sent.spdu])] == [None]


def test_two_plvs_from_the_same_la_are_refused_with_400_41(aca: Aca, ra: Ra) -> None:
    info = ra.lines.info(1, 1)
    same = dataclasses.replace(info, enc_plv2=info.enc_plv1)
    sent = ra.request("explicit", "original", 1, 1, generation_time=NOW, linkage_info=same)
    assert [r.refusal for r in aca.issue([sent.spdu])] == [ErrorCode.DECRYPTION_FAILED]


def _aca_without_cubk(hierarchy: Hierarchy) -> Signer:
    key = new_key()
    tbs = role_tbs("aca")
    tbs["validityPeriod"] = {"start": NOW - 5000, "duration": ("years", 1)}
    tbs["certIssuePermissions"] = [{"subjectPermissions": ("all", None), "minChainLength": 1, "chainLengthRange": 0}]
    ica = hierarchy.signer("ica")
    return Signer(key, issue_explicit(tbs, key.public_key(), ica.certificate, ica.key))


def test_cubk_from_an_aca_without_uses_cubk_is_refused_with_400_32(make_aca: Callable[..., Aca], ra: Ra) -> None:
    # Given an ACA certificate without flags.usesCubk,
    plain_aca = make_aca(signer=_aca_without_cubk(ra_hierarchy(make_aca)))
    cubk = ra.request("explicit", "compact-unified", 1, 0, generation_time=NOW)
    unified = ra.request("explicit", "unified", 1, 0, generation_time=NOW)
    # Then a compact-unified request is refused, and a unified one is issued by the same ACA.
    assert [r.refusal for r in plain_aca.issue([cubk.spdu, unified.spdu])] == [
        ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED,
        None,
    ]
    # Twin: the hierarchy's ACA (usesCubk) issues the compact-unified request.
    assert [r.refusal for r in make_aca().issue([cubk.spdu])] == [None]


def _unchecked_request(ra: Ra, **changes: Any) -> bytes:
    """A RaAcaCertRequestSpdu that build_ra_aca_cert_request would refuse to build (signed as the RA would)."""
    content = dataclasses.replace(ra.content("explicit", "compact-unified", 1, 0, generation_time=NOW), **changes)
    return sign_cert_request(scms_pdu_bytes(content), ra.signer)


def test_cert_enc_key_with_cubk_is_refused_with_400_32(aca: Aca, ra: Ra) -> None:
    key = new_key().public_key()
    both = _unchecked_request(ra, cert_enc_key=key)
    cubk_only = _unchecked_request(ra)
    assert [r.refusal for r in aca.issue([both, cubk_only])] == [ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, None]


def test_a_request_breaking_its_constraints_is_refused_with_400_32(aca: Aca, ra: Ra) -> None:
    content = ra.content("explicit", "unified", 1, 0, generation_time=NOW)
    tbs = dict(content.tbs_cert, crlSeries=7)
    assert [r.refusal for r in aca.issue([_unchecked_request(ra, tbs_cert=tbs)])] == [
        ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED
    ]


def _restricted_ra(hierarchy: Hierarchy, psids: list[int]) -> Signer:
    key = new_key()
    tbs = role_tbs("ra", new_key().public_key())
    tbs["validityPeriod"] = {"start": NOW - 5000, "duration": ("years", 1)}
    tbs["certRequestPermissions"] = [{
        "subjectPermissions": ("explicit", [{"psid": p} for p in psids]), "minChainLength": 1, "chainLengthRange": 0,
    }]  # fmt: skip
    ica = hierarchy.signer("ica")
    return Signer(key, issue_explicit(tbs, key.public_key(), ica.certificate, ica.key))


def test_app_permissions_the_ra_may_not_request_are_refused_with_400_30(make_aca: Callable[..., Aca], ra: Ra) -> None:
    # Given an RA under the hierarchy that may request PSID 35 only,
    narrow = Ra(_restricted_ra(ra_hierarchy(make_aca), [35]), ee=ra.ee, lines=ra.lines, epoch=ra.epoch)
    content = narrow.content("explicit", "unified", 1, 0, generation_time=NOW)
    bsm = narrow.request("explicit", "unified", 1, 0, generation_time=NOW)
    management = narrow.request("explicit", "unified", 1, 1, generation_time=NOW,
                                tbs_cert=dict(content.tbs_cert, appPermissions=[{"psid": 35}]))  # fmt: skip
    # Then its PSID 32 request is refused and its PSID 35 request issued.
    assert [r.refusal for r in make_aca().issue([bsm.spdu, management.spdu])] == [
        ErrorCode.APP_PERMISSIONS_NOT_ALLOWED,
        None,
    ]


def test_a_generation_time_in_the_future_is_refused_with_400_50(aca: Aca, ra: Ra) -> None:
    future = ra.request("implicit", "original", 1, 0, generation_time=NOW + 6)
    skewed = ra.request("implicit", "original", 1, 1, generation_time=NOW + 5)
    assert [r.refusal for r in aca.issue([future.spdu, skewed.spdu])] == [ErrorCode.GENERATION_TIME_IN_FUTURE, None]


def test_validity_outside_the_aca_certificate_is_refused_with_400_35(aca: Aca, ra: Ra) -> None:
    # The ACA certificate starts one i-period plus the overlap (608,400 s) before it was made (NOW).
    before = Ra(ra.signer, ee=ra.ee, lines=ra.lines, epoch=NOW - 700_000)  # starts before the ACA certificate
    inside = Ra(ra.signer, ee=ra.ee, lines=ra.lines, epoch=NOW - 5_000)
    results = aca.issue([before.request("explicit", "plain", 0, 0, generation_time=NOW).spdu,
                         inside.request("explicit", "plain", 0, 0, generation_time=NOW).spdu])  # fmt: skip
    assert [r.refusal for r in results] == [ErrorCode.VALIDITY_PERIOD_NOT_ALLOWED, None]


def test_the_policy_cuts_a_longer_validity_and_leaves_a_shorter_one(make_aca: Callable[..., Aca], ra: Ra) -> None:
    policy = IssuePolicy(ra_hierarchy(make_aca).certificate("root").hashed_id3, 1, max_validity_seconds=7 * 24 * 3600)
    cut = make_aca(policy=policy)
    sent = ra.request("implicit", "unified", 0, 0, generation_time=NOW)
    [result] = cut.issue([sent.spdu])
    tbs = open_response(ra, sent, result.response or b"", _aca_cert(cut)).inner.certificate.tbs
    assert tbs["validityPeriod"] == {"start": ra.epoch, "duration": ("hours", 168)}
    # Twin: a policy allowing 169 hours leaves the requested validity as it is.
    roomy = make_aca(policy=dataclasses.replace(policy, max_validity_seconds=169 * 3600))
    [result] = roomy.issue([sent.spdu])
    tbs = open_response(ra, sent, result.response or b"", _aca_cert(roomy)).inner.certificate.tbs
    assert tbs["validityPeriod"] == {"start": ra.epoch, "duration": ("hours", 169)}


def test_bytes_that_are_not_a_request_are_refused_with_400_42(aca: Aca, ra: Ra) -> None:
    good = ra.request("explicit", "plain", 0, 0, generation_time=NOW).spdu
    results = aca.issue([b"\x03\x80\x01\x00", good[:-70], good])
    assert [r.refusal for r in results] == [ErrorCode.FAILED_PARSING, ErrorCode.FAILED_PARSING, None]


# --- idempotency -----------------------------------------------------------------------------


def test_a_retried_request_gets_the_identical_response_and_nothing_new_is_stored(aca: Aca, ra: Ra) -> None:
    sent = ra.batch("explicit", "original", 5, 3, generation_time=NOW)
    first = aca.issue([s.spdu for s in sent])
    # When the batch (reordered, plus a new request) is retried against the same store,
    extra = ra.request("explicit", "original", 5, 3, generation_time=NOW)
    again = aca.issue([sent[2].spdu, extra.spdu, sent[0].spdu, sent[1].spdu])
    # Then the answered requests get byte-identical responses, and only the new one is added.
    retried = [again[0].response, again[2].response, again[3].response]
    assert retried == [first[2].response, first[0].response, first[1].response]
    assert again[1].ok and len(aca.store.items) == 4


def test_only_certificates_issued_now_are_reported_to_the_metrics_hook(aca: Aca, ra: Ra) -> None:
    sent = ra.batch("implicit", "compact-unified", 5, 2, generation_time=NOW)
    plain = ra.request("explicit", "plain", 5, 0, generation_time=NOW)
    issued: list[tuple[str, str]] = []
    aca.issue([s.spdu for s in sent] + [plain.spdu], on_issued=lambda kind, kind_type: issued.append((kind, kind_type)))
    assert sorted(issued) == [("cubk", "implicit"), ("cubk", "implicit"), ("plain", "explicit")]
    # Twin: the same batch again is answered from the store and reports nothing.
    again: list[tuple[str, str]] = []
    aca.issue([s.spdu for s in sent] + [plain.spdu], on_issued=lambda kind, kind_type: again.append((kind, kind_type)))
    assert again == []


def test_without_the_store_a_retry_would_get_another_certificate(make_aca: Callable[..., Aca], ra: Ra) -> None:
    # Twin: a second ACA with an empty store issues anew, so the identity above comes from the store.
    sent = ra.request("explicit", "original", 5, 0, generation_time=NOW)
    assert make_aca().issue([sent.spdu])[0].response != make_aca().issue([sent.spdu])[0].response


def test_the_same_request_twice_in_a_batch_is_issued_once(aca: Aca, ra: Ra) -> None:
    sent = ra.request("implicit", "compact-unified", 5, 0, generation_time=NOW)
    results = aca.issue([sent.spdu, sent.spdu])
    assert results[0].response == results[1].response and results[0].ok
    assert len(aca.store.items) == 1


def test_a_refusal_stores_nothing_and_is_refused_again(aca: Aca, ra: Ra) -> None:
    bad = _flip_signature_bit(ra.request("explicit", "plain", 0, 0, generation_time=NOW).spdu)
    assert [r.refusal for r in aca.issue([bad])] == [ErrorCode.SIGNATURE_VERIFICATION_FAILED]
    assert aca.store.items == {}
    assert [r.refusal for r in aca.issue([bad])] == [ErrorCode.SIGNATURE_VERIFICATION_FAILED]


# --- the strict path and the hot path --------------------------------------------------------


def test_a_request_outside_the_fixed_shape_is_issued_through_the_strict_parser(aca: Aca, ra: Ra) -> None:
    # Given a request whose tbsCert id is a name (no fixed-shape reader for it) and one with a region,
    content = ra.content("explicit", "private", 0, 0, generation_time=NOW)
    named = ra.request(
        "explicit", "private", 0, 0, generation_time=NOW, tbs_cert=dict(content.tbs_cert, id=("name", "app"))
    )
    regional = ra.request(
        "explicit",
        "private",
        0,
        1,
        generation_time=NOW,
        tbs_cert=dict(content.tbs_cert, region=("identifiedRegion", [("countryOnly", 124)])),
    )
    results = aca.issue([named.spdu, regional.spdu])
    # Then both are issued with what they asked for.
    certs = [
        open_response(ra, s, r.response or b"", _aca_cert(aca)).inner.certificate
        for s, r in zip((named, regional), results, strict=True)
    ]
    assert certs[0].tbs["id"] == ("name", "app")
    assert certs[1].tbs["region"] == ("identifiedRegion", [("countryOnly", 124)])


@contextmanager
def asn1tools_calls() -> Iterator[list[str]]:
    """Every encode/decode of the compiled specification while the block runs (the spy of test_bench_smoke)."""
    spec = specification()
    calls: list[str] = []
    saved = {name: spec.__dict__.get(name) for name in ("encode", "decode")}

    def spy(name: str) -> Callable[..., Any]:
        original = getattr(spec, name)

        def wrapper(type_name: str, *args: Any, **kwargs: Any) -> Any:
            calls.append(f"{name} {type_name}")
            return original(type_name, *args, **kwargs)

        return wrapper

    spec.encode, spec.decode = spy("encode"), spy("decode")
    try:
        yield calls
    finally:
        for name, original in saved.items():
            if original is None:
                delattr(spec, name)
            else:
                setattr(spec, name, original)


def test_the_hot_path_makes_no_asn1tools_call_per_certificate(aca: Aca, ra: Ra) -> None:
    # Given an ACA that has seen the RA's certificate once (parsed and chained once per batch),
    aca.issue([ra.request("explicit", "plain", 0, 0, generation_time=NOW).spdu])
    spdus = [ra.request(t, k, 6, j, generation_time=NOW).spdu for j, (t, k) in enumerate(VARIANTS)]
    # When it issues one certificate of every variant, Then asn1tools is never called.
    with asn1tools_calls() as calls:
        results = aca.issue(spdus)
    assert all(r.ok for r in results)
    assert calls == []


def test_the_asn1tools_spy_sees_the_strict_path(aca: Aca, ra: Ra) -> None:
    # Twin: a request outside the fixed shape goes through asn1tools, and the spy counts it.
    aca.issue([ra.request("explicit", "plain", 0, 0, generation_time=NOW).spdu])
    content = ra.content("explicit", "plain", 0, 1, generation_time=NOW)
    named = ra.request(
        "explicit", "plain", 0, 1, generation_time=NOW, tbs_cert=dict(content.tbs_cert, id=("name", "a"))
    )
    with asn1tools_calls() as calls:
        assert aca.issue([named.spdu])[0].ok
    assert any(c.startswith("decode") for c in calls)


def test_results_follow_the_request_order(aca: Aca, ra: Ra) -> None:
    sent: list[Sent] = [ra.request("explicit", "plain", 0, j, generation_time=NOW) for j in range(4)]
    results = aca.issue([s.spdu for s in reversed(sent)])
    assert [r.request_hash for r in results] == [request_hash(s.spdu) for s in reversed(sent)]


# --- the fixed-shape path writes what the strict path writes ----------------------------------


def _issued_tbs(aca: Aca, ra: Ra, sent: Sent) -> Certificate:
    [result] = aca.issue([sent.spdu])
    cert = open_response(ra, sent, result.response or b"", _aca_cert(aca)).inner.certificate
    # Canonical: asn1tools writes the very octets the certificate carries (and that were hashed and signed).
    assert asn1.encode("ToBeSignedCertificate", cert.tbs) == cert.tbs_encoded
    return cert


def _without_key(cert: Certificate) -> dict[str, Any]:
    return {name: value for name, value in cert.tbs.items() if name != "verifyKeyIndicator"}


RICH = {
    "region": ("identifiedRegion", [("countryOnly", 124), ("countryOnly", 840)]),
    "appPermissions": [{"psid": 32, "ssp": ("opaque", b"\x01\x02")}, {"psid": 300}],
}


@pytest.mark.parametrize("rich", [False, True], ids=["simple", "region-ssp"])
@pytest.mark.parametrize(("cert_type", "kind"), VARIANTS, ids=[f"{t}-{k}" for t, k in VARIANTS])
def test_the_fixed_shape_path_issues_the_tbs_the_strict_path_issues(
    make_aca: Callable[..., Aca], ra: Ra, monkeypatch: pytest.MonkeyPatch, cert_type: Any, kind: Any, rich: bool
) -> None:
    # Given a request the fixed-shape reader reads, and an ACA policy that cuts its validity,
    def request(i: int) -> Sent:
        changes = {}
        if rich:
            changes["tbs_cert"] = dict(ra.content(cert_type, kind, i, 1, generation_time=NOW).tbs_cert, **RICH)
        return ra.request(cert_type, kind, i, 1, generation_time=NOW, **changes)

    sent = request(4)
    assert wire.read_ra_aca_cert_request(sent.spdu) is not None
    policy = IssuePolicy(ra_hierarchy(make_aca).certificate("root").hashed_id3, 9, max_validity_seconds=100 * 3600)
    fast = _issued_tbs(make_aca(policy=policy), ra, sent)
    # When the same request is issued through the strict parser (the reader declines every request),
    with monkeypatch.context() as patched:
        patched.setattr(wire, "read_ra_aca_cert_request", lambda _data: None)
        strict = _issued_tbs(make_aca(policy=policy), ra, sent)
    # Then both certificates carry the same tbs but for the fresh key.
    assert _without_key(fast) == _without_key(strict)
    assert fast.tbs["validityPeriod"]["duration"] == ("hours", 100) and fast.tbs["crlSeries"] == 9
    if rich:
        assert fast.tbs["region"] == RICH["region"] and fast.tbs["appPermissions"] == RICH["appPermissions"]
    # Twin: another i-period's request gets another tbs (another validity start), so the comparison can fail.
    other = _issued_tbs(make_aca(policy=policy), ra, request(5))
    assert _without_key(other) != _without_key(fast)


BROKEN: dict[str, Callable[[RaAcaCertRequest], dict[str, Any]]] = {
    "cracaId": lambda c: {"tbs_cert": dict(c.tbs_cert, cracaId=b"\x00\x00\x01")},
    "implicit-butterflyExplicit": lambda c: {"type": "implicit", "tbs_cert": dict(
        c.tbs_cert, verifyKeyIndicator=("reconstructionValue", c.tbs_cert["verifyKeyIndicator"][1][1]))},
    "indicator-not-for-type": lambda c: {"type": "implicit", "butterfly_explicit": False},
    "linkageInfo-without-linkageData": lambda c: {"tbs_cert": dict(c.tbs_cert, id=("none", None))},
}  # fmt: skip


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
def test_a_fixed_shape_request_breaking_a_constraint_is_refused_with_400_32(aca: Aca, ra: Ra, broken: str) -> None:
    # Given an explicit butterfly request (unchanged: issued) and its copy breaking one RaAcaCertRequest constraint,
    content = ra.content("explicit", "original", 1, 0, generation_time=NOW)
    bad = sign_cert_request(scms_pdu_bytes(dataclasses.replace(content, **BROKEN[broken](content))), ra.signer)
    good = sign_cert_request(scms_pdu_bytes(content), ra.signer)
    assert wire.read_ra_aca_cert_request(bad) is not None  # the fixed-shape path reads it
    assert [r.refusal for r in aca.issue([bad, good])] == [ErrorCode.REQUESTED_FIELDS_NOT_ALLOWED, None]
