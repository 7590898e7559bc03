"""Hostile input to the trust downloads (issue #7 §3), property-based: malformed parameters are 400-42 with the
Table 8 header, well-formed ones naming nothing 404 without it, hostile headers change nothing; never a 500, and
no AWS write succeeds.

One moto cloud (``open_cloud``: ``scms init``'s hierarchy) with both CRLs published by the CRL generator serves
the module; the state captured after that publication (and the first, signing, info status download) is
compared at the end.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scms_crlg.publish import publish
from scms_crlg.wiring import CrlgServices

from scms_codec import time32
from scms_codec.errors import ErrorCode
from tests.support.stack import Cloud, open_cloud
from tests.support.state import StoredState, assert_unchanged, capture

HEADER = "Ieee-1609.2.1-Error"
FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
HEX = "0123456789abcdefABCDEF"


class World:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        crlg = CrlgServices.from_settings(cloud.settings)
        publish(cloud.settings, store=crlg.store, artifacts=crlg.artifacts, crlg=crlg.crlg, now=time32.now())
        self.series = cloud.hierarchy.certificate("root").hashed_id8.hex()
        # The info status is signed once per content and kept (RaTable): its first download writes.
        with Client(cloud.ra.app) as client:
            assert client.http.get("/v3/certificate-management-info-status").status_code == 200
        self.baseline: StoredState = capture(cloud.settings)
        cloud.watch.take()

    def get(self, path: str, query: dict[str, str] | None = None, **headers: str) -> Any:
        url = path + ("?" + urllib.parse.urlencode(query) if query is not None else "")

        def send() -> Any:
            with Client(self.cloud.ra.app) as client:
                return client.http.get(url, headers={"Accept": "application/octet-stream", **headers})

        self.cloud.watch.take()
        answer = send()
        assert answer.status_code != 500, answer.body
        assert self.cloud.watch.take() == [], "a download wrote to AWS"
        return answer

    def valid(self) -> dict[str, tuple[str, dict[str, str]]]:
        return {
            "crl": ("/v3/crl", {"craca": self.series, "crlSeries": str(self.cloud.settings.crl_hash_series)}),
            "composite": ("/v3/composite-crl-ctl", {"ctlSeriesId": self.series}),
            "ctl": ("/v3/ctl", {"ctlSeriesId": self.series, "ctlSequenceNumber": "1"}),
            "ra": ("/v3/ra-certificate", {}),
            "ma": ("/v3/ma-certificate", {"psid": "32"}),
            "info": ("/v3/certificate-management-info-status", {}),
        }


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with open_cloud() as cloud:
        w = World(cloud)
        yield w
        assert_unchanged(w.baseline, capture(cloud.settings))


def _refused_42(answer: Any) -> None:
    assert answer.status_code == 400, (answer.status_code, answer.body)
    assert answer.headers[HEADER] == ErrorCode.FAILED_PARSING.value


def _is_hex16(text: str) -> bool:
    return len(text) == 16 and all(c in HEX for c in text)


def _is_decimal(text: str, maximum: int) -> bool:
    return text.isascii() and text.isdigit() and 1 <= len(text) <= 10 and int(text) <= maximum


@pytest.mark.parametrize("name", ["crl", "composite", "ctl", "ra", "ma", "info"])
def test_every_valid_download_is_200_so_the_refusals_below_are_about_the_defect(world: World, name: str) -> None:
    path, query = world.valid()[name]
    answer = world.get(path, query)
    assert answer.status_code == 200 and answer.body
    assert world.get(path, query, **{"If-None-Match": answer.headers["ETag"]}).status_code == 304


# (download, parameter, largest decimal or None for 16 hex)
PARAMETERS = [
    ("crl", "craca", None),
    ("crl", "crlSeries", 0xFFFF),
    ("composite", "ctlSeriesId", None),
    ("ctl", "ctlSeriesId", None),
    ("ctl", "ctlSequenceNumber", 0xFFFF),
    ("ma", "psid", 0xFFFFFFFF),
]


@pytest.mark.parametrize(("name", "param", "maximum"), PARAMETERS)
@given(value=st.text(max_size=40))
@FAST
def test_a_malformed_parameter_is_400_42(world: World, name: str, param: str, maximum: int | None, value: str) -> None:
    well_formed = _is_hex16(value) if maximum is None else _is_decimal(value, maximum)
    if well_formed:
        return
    path, query = world.valid()[name]
    _refused_42(world.get(path, {**query, param: value}))


@pytest.mark.parametrize(("name", "param", "maximum"), PARAMETERS)
def test_a_missing_required_parameter_is_400_42_and_an_optional_one_is_not(
    world: World, name: str, param: str, maximum: int | None
) -> None:
    path, query = world.valid()[name]
    answer = world.get(path, {k: v for k, v in query.items() if k != param})
    if param in ("ctlSequenceNumber", "psid"):
        assert answer.status_code == 200
    else:
        _refused_42(answer)


@pytest.mark.parametrize(("name", "param", "maximum"), PARAMETERS)
@given(data=st.data())
@FAST
def test_a_well_formed_value_naming_nothing_is_404_without_a_1609_header(
    world: World, name: str, param: str, maximum: int | None, data: st.DataObject
) -> None:
    if maximum is None:
        value = data.draw(st.binary(min_size=8, max_size=8)).hex()
        if value == world.series:
            return
    else:
        value = str(data.draw(st.integers(min_value=0, max_value=maximum)))
        known = {
            "crlSeries": {str(world.cloud.settings.crl_series), str(world.cloud.settings.crl_hash_series)},
            "ctlSequenceNumber": {"0", "1"},
            "psid": {"32"},
        }[param]
        if value in known:
            return
    path, query = world.valid()[name]
    answer = world.get(path, {**query, param: value})
    assert answer.status_code == 404, (value, answer.status_code)
    assert HEADER not in answer.headers


JUNK_HEADERS: list[Callable[[str], dict[str, str]]] = [
    lambda junk: {"Range": junk},
    lambda junk: {"If-None-Match": junk},
    lambda junk: {"If-Modified-Since": junk},
    lambda junk: {"If-Range": junk, "Range": "bytes=0-3"},
    lambda junk: {"Host": junk},
]


@pytest.mark.parametrize("name", ["crl", "composite", "ctl", "ra", "ma", "info"])
@pytest.mark.parametrize("make", JUNK_HEADERS, ids=["range", "if-none-match", "if-modified-since", "if-range", "host"])
@given(junk=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60))
@settings(FAST, max_examples=25)
def test_junk_validators_ranges_and_hosts_never_fail(
    world: World, name: str, make: Callable[[str], dict[str, str]], junk: str
) -> None:
    path, query = world.valid()[name]
    answer = world.get(path, query, **make(junk))
    assert answer.status_code in (200, 206, 304, 416)
    disposition = answer.headers["Content-Disposition"]
    assert disposition.count('"') == 2 and "\\" not in disposition  # a hostile Host never reaches the name
