"""The ACA's side of a revocation (protocol.md §3.6 step 1): what it stores per answer, and ``scms_aca.lookup``.

Issued through the real use case (``issue_batch``) on the fake store: every answer names its
certificate's HashedId8 and lives until the certificate's end + 7 days; the lookup turns a
certificate id back into its request's HashedId8 and nothing else. crlSeries: linked CRL series
with linkage data, hash CRL series without. Each positive test has its failing twin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from scms_aca import wire
from scms_aca.issue import REVOCABLE_AFTER_EXPIRY, IssuePolicy
from scms_aca.lookup import (
    HashEntriesResult,
    InvalidLookup,
    LookupResult,
    hash_entries,
    lookup,
    parse_aca_requests,
    parse_cert_ids,
)
from scms_service.stores.aca_responses import HashCrlEntry

from scms_codec.cert.certificate import Certificate
from scms_codec.crypto.hashing import hashed_id10
from scms_codec.spdu import request_hash
from scms_codec.time32 import to_unix
from tests.unit.aca.conftest import NOW, Aca
from tests.unit.aca.simulator import BUTTERFLY, KINDS, Ra, Sent, open_response

LINKED, HASHED = 7, 8


def _policy(aca: Aca, **changes: Any) -> IssuePolicy:
    values: dict[str, Any] = {"craca_id": aca.hierarchy.certificate("root").hashed_id3, "crl_series": LINKED,
                              "crl_hash_series": HASHED}  # fmt: skip
    values.update(changes)
    return IssuePolicy(**values)


def _certificate(aca: Aca, ra: Ra, sent: Sent, response: bytes | None) -> Certificate:
    assert response is not None
    aca_cert = aca.signer.certificate
    assert aca_cert is not None
    return open_response(ra, sent, response, aca_cert).inner.certificate


@pytest.mark.parametrize("strict", [False, True], ids=["fixed-shape", "strict-parser"])
@pytest.mark.parametrize("kind", KINDS)
def test_certificates_with_linkage_data_name_the_linked_series_and_the_others_the_hash_series(
    make_aca: Callable[..., Aca], ra: Ra, monkeypatch: pytest.MonkeyPatch, kind: Any, strict: bool
) -> None:
    aca = make_aca()
    aca = make_aca(policy=_policy(aca))
    if strict:
        monkeypatch.setattr(wire, "read_ra_aca_cert_request", lambda _data: None)
    sent = ra.request("explicit", kind, 2, 0, generation_time=NOW)
    [result] = aca.issue([sent.spdu])
    tbs = _certificate(aca, ra, sent, result.response).tbs
    assert tbs["crlSeries"] == (LINKED if kind in BUTTERFLY else HASHED)
    assert (tbs["id"][0] == "linkageData") == (kind in BUTTERFLY)


def test_without_a_hash_series_every_certificate_names_the_linked_series(make_aca: Callable[..., Aca], ra: Ra) -> None:
    # Twin: the series really comes from the policy's crl_hash_series (None: crl_series for all).
    aca = make_aca()
    aca = make_aca(policy=_policy(aca, crl_hash_series=None))
    sent = ra.request("explicit", "plain", 2, 0, generation_time=NOW)
    [result] = aca.issue([sent.spdu])
    assert _certificate(aca, ra, sent, result.response).tbs["crlSeries"] == LINKED
    with pytest.raises(ValueError, match="crl_hash_series"):
        _policy(aca, crl_hash_series=0x10000)


@pytest.mark.parametrize(("cert_type", "kind"), [("explicit", "compact-unified"), ("implicit", "plain"),
                                                 ("implicit", "original"), ("explicit", "private")])  # fmt: skip
def test_each_stored_answer_names_its_certificate_and_the_lookup_finds_its_request(
    aca: Aca, ra: Ra, cert_type: Any, kind: Any
) -> None:
    # Given a batch the ACA answered,
    sent = ra.batch(cert_type, kind, 2, 3, generation_time=NOW)
    results = aca.issue([s.spdu for s in sent])
    certificates = [_certificate(aca, ra, s, r.response) for s, r in zip(sent, results, strict=True)]
    # Then each stored answer names the HashedId8 of the certificate it carries,
    for s, cert in zip(sent, certificates, strict=True):
        assert aca.store.items[request_hash(s.spdu)].cert_id == cert.hashed_id8
    # and the lookup turns each certificate id back into its request's HashedId8, in the order asked.
    ids = [c.hashed_id8 for c in reversed(certificates)]
    found = lookup(ids, responses=aca.store)
    assert found == LookupResult(tuple((c, request_hash(s.spdu)) for c, s in zip(ids, reversed(sent), strict=True)), ())


def test_a_certificate_the_aca_never_issued_is_missing(aca: Aca, ra: Ra) -> None:
    # Twin: another certificate's id (here the ACA's own) and a repeat are answered once, as missing.
    sent = ra.request("explicit", "plain", 2, 0, generation_time=NOW)
    [result] = aca.issue([sent.spdu])
    mine = _certificate(aca, ra, sent, result.response).hashed_id8
    other = aca.hierarchy.certificate("aca").hashed_id8
    assert lookup([other, mine, other], responses=aca.store) == LookupResult(
        ((mine, request_hash(sent.spdu)),), (other,)
    )


def test_an_answer_lives_until_its_certificate_ends_plus_seven_days_and_at_least_the_response_ttl(
    aca: Aca, ra: Ra
) -> None:
    # Given a certificate ending within the response TTL and one ending long after it,
    near = ra.request("explicit", "plain", 1, 0, generation_time=NOW)
    far = ra.request("explicit", "plain", 20, 0, generation_time=NOW)
    results = aca.issue([near.spdu, far.spdu])
    ttl = to_unix(NOW) + aca.policy.response_ttl
    near_cert, far_cert = (_certificate(aca, ra, s, r.response) for s, r in zip((near, far), results, strict=True))
    assert to_unix(near_cert.validity[1]) + REVOCABLE_AFTER_EXPIRY < ttl < to_unix(far_cert.validity[1])
    # Then the near one's answer stays for the TTL, the far one's until its end + 7 days.
    assert aca.store.items[request_hash(near.spdu)].expires_at == ttl
    assert aca.store.items[request_hash(far.spdu)].expires_at == to_unix(far_cert.validity[1]) + REVOCABLE_AFTER_EXPIRY


@pytest.mark.parametrize(
    "value",
    [None, [], "00" * 8, ["00" * 7], ["00" * 9], ["AB" * 8], ["zz" * 8], [1], ["00" * 8] * 101],
    ids=["none", "empty", "string", "short", "long", "upper-case", "not-hex", "int", "too-many"],
)
def test_malformed_certificate_ids_are_refused(value: Any) -> None:
    with pytest.raises(InvalidLookup):
        parse_cert_ids(value)


def test_well_formed_certificate_ids_are_read() -> None:
    # Twin: 1 and 100 lower-case ids are read as octets.
    assert parse_cert_ids(["0123456789abcdef"]) == [bytes.fromhex("0123456789abcdef")]
    assert len(parse_cert_ids(["00" * 8] * 100)) == 100


@pytest.mark.parametrize("strict", [False, True], ids=["fixed-shape", "strict-parser"])
def test_non_butterfly_answers_give_their_hash_crl_entry_and_butterfly_ones_none(
    aca: Aca, ra: Ra, monkeypatch: pytest.MonkeyPatch, strict: bool
) -> None:
    if strict:
        monkeypatch.setattr(wire, "read_ra_aca_cert_request", lambda _data: None)
    # Given one request of each kind answered (plain, private: no linkage data; the others butterfly),
    shapes: list[tuple[Any, Any]] = [
        ("explicit", "plain"), ("implicit", "private"), ("explicit", "compact-unified"), ("implicit", "original")
    ]  # fmt: skip
    sent = [ra.request(t, k, 2, n, generation_time=NOW) for n, (t, k) in enumerate(shapes)]
    results = aca.issue([s.spdu for s in sent])
    certs = [_certificate(aca, ra, s, r.response) for s, r in zip(sent, results, strict=True)]
    hashes = [request_hash(s.spdu) for s in sent]
    never = bytes(8)
    # When the MA asks for the hash CRL entries of all of them (and one the ACA never answered),
    out = hash_entries([never, *reversed(hashes)], responses=aca.store)
    # Then the two non-butterfly certificates' HashedId10 and validity end are answered,
    expected = [
        (hashes[n], HashCrlEntry(hashed_id10(certs[n].encoded, "sha256"), certs[n].validity[1])) for n in (1, 0)
    ]
    assert out == HashEntriesResult(tuple(expected), (never, hashes[3], hashes[2]))
    # and (twin) the butterfly requests alone give nothing.
    assert hash_entries(hashes[2:], responses=aca.store).found == ()


@pytest.mark.parametrize(
    "value",
    [None, [], "00" * 8, ["00" * 7], ["AB" * 8], [1], ["00" * 8] * 101],
    ids=["none", "empty", "string", "short", "upper-case", "int", "too-many"],
)
def test_malformed_aca_requests_are_refused(value: Any) -> None:
    with pytest.raises(InvalidLookup, match="acaRequests"):
        parse_aca_requests(value)


def test_well_formed_aca_requests_are_read() -> None:
    # Twin: 1 and 100 lower-case hashes are read as octets.
    assert parse_aca_requests(["0123456789abcdef"]) == [bytes.fromhex("0123456789abcdef")]
    assert len(parse_aca_requests(["00" * 8] * 100)) == 100
