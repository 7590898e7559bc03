"""``scms-ee fetch-trust`` fetches the CTL zip only when the verified info status lists a newer CTL than it holds.

The device holds CTL #1 from its CCF (``fetch-chain``); the fake SCMS of ``revocation_world`` records every GET.
Twins: an unchanged CTL is not asked for, a changed one is fetched and verified, a tampered one is still
refused, and a CTL download that ends below what the info status lists is refused.
"""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from scms_ee.enroll import VerificationFailed
from scms_ee.fetch_trust import CTL_PATH, INFO_STATUS_PATH, fetch_trust
from scms_ee.main import EXIT_OK, EXIT_REFUSED, main
from scms_ee.state import DeviceState
from scms_ee.trace import Trace

from scms_codec.spdu.cert_management import FullIeeeTbsCtl, MultiSignedCtl
from scms_codec.spdu.ctl import build_multi_signed_ctl_spdu, parse_multi_signed_ctl_spdu, sign_ctl
from tests.unit.ee.revocation_world import (  # noqa: F401 (fixtures)
    LINKED_SERIES,
    NOW,
    RevocationWorld,
    device_fixture,
    fresh_fixture,
    world_fixture,
)


def _ctl_2(world: RevocationWorld) -> MultiSignedCtl:
    first = parse_multi_signed_ctl_spdu(world.ctl_spdu(1)).content.tbs_ctl
    tbs = FullIeeeTbsCtl(first.ctl_series_id, 2, NOW, first.elector_approve, first.root_ca_approve,
                         quorum=first.quorum)  # fmt: skip
    return sign_ctl(tbs, [world.hierarchy.signer("elector1"), world.hierarchy.signer("elector2")])


def _serve(world: RevocationWorld, *, ctl_seq: int) -> None:
    world.served.crls[world.series, LINKED_SERIES] = world.linked_crl(world.record.first_i)
    world.served.info = world.info_status(ctl_seq=ctl_seq)


def _paths(world: RevocationWorld) -> list[str]:
    return [call[1] for call in world.served.calls]


def _trust(device: DeviceState) -> dict[str, object]:
    trust = device.load_json().get("trust", {})
    assert isinstance(trust, dict)
    return trust


def test_the_ctl_the_device_holds_is_not_fetched_again_and_the_output_says_so(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    # Given a device holding CTL #1 (from its CCF) and an info status listing CTL #1,
    _serve(fresh, ctl_seq=1)
    fresh.served.calls.clear()
    # when it fetches its trust artefacts,
    out = io.StringIO()
    code = main(["--url", "http://scms.test", "--state", str(device.root), "fetch-trust"],
                transport=fresh.transport(), out=out)  # fmt: skip
    # then it never asks for the CTL zip, says why, and records the CTL it holds.
    assert code == EXIT_OK, out.getvalue()
    assert INFO_STATUS_PATH in _paths(fresh) and CTL_PATH not in _paths(fresh)
    assert f"CTL {fresh.series.hex()}: not fetched (#1 held, the info status lists #1)" in out.getvalue()
    assert _trust(device)["ctl"] == {"series": fresh.series.hex(), "sequence_number": 1, "filename": None}


def test_a_newer_ctl_in_the_info_status_is_fetched_verified_and_then_held(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    # Twin of the above: the info status lists CTL #2, the device holds #1.
    fresh.served.ctls[2] = build_multi_signed_ctl_spdu(_ctl_2(fresh))
    _serve(fresh, ctl_seq=2)
    fresh.served.calls.clear()
    result = fetch_trust(device, fresh.client(), Trace(None), now=NOW)
    (ctl_call,) = [c for c in fresh.served.calls if c[1] == CTL_PATH]
    assert "If-None-Match" not in ctl_call[2]  # the zip's name does not change when a CTL joins it
    assert result.ctls == [2] and _trust(device)["ctl"]["sequence_number"] == 2  # type: ignore[index]
    assert f"CTL {fresh.series.hex()}: fetched (#1 held, the info status lists #2)" in result.notes
    # And once held, a new info status (a new CRL) that still lists #2 does not fetch it again.
    fresh.served.crls[fresh.series, LINKED_SERIES] = fresh.linked_crl(fresh.record.first_i, issue_date=NOW + 60)
    fresh.served.info = fresh.info_status(ctl_seq=2)
    fresh.served.calls.clear()
    again = fetch_trust(device, fresh.client(), Trace(None), now=NOW + 60)
    assert CTL_PATH not in _paths(fresh) and "/v3/crl" in _paths(fresh)
    assert again.ctls == [] and f"CTL {fresh.series.hex()}: not fetched (#2 held, the info status lists #2)" in (
        again.notes
    )


def test_a_tampered_ctl_listed_by_the_info_status_is_refused_and_nothing_of_it_stored(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    # Given CTL #2 whose content changed after the electors signed it,
    signed = _ctl_2(fresh)
    tampered = dataclasses.replace(signed, tbs_ctl=dataclasses.replace(signed.tbs_ctl, effective_date=NOW + 1))
    fresh.served.ctls[2] = build_multi_signed_ctl_spdu(tampered)
    _serve(fresh, ctl_seq=2)
    # when the device fetches it, it is refused,
    with pytest.raises(VerificationFailed, match=r"CTL #2: .*signs another CTL"):
        fetch_trust(device, fresh.client(), Trace(None), now=NOW)
    # nothing of it is stored, and neither is the info status (the next run asks again),
    assert not (device.root / "trust" / "ctl").exists() and "info_status" not in _trust(device)
    assert main(["--url", "http://scms.test", "--state", str(device.root), "fetch-trust"],
                transport=fresh.transport(), out=io.StringIO()) == EXIT_REFUSED  # fmt: skip
    # and once the SCMS serves the CTL as signed, the device takes it.
    fresh.served.ctls[2] = build_multi_signed_ctl_spdu(signed)
    assert fetch_trust(device, fresh.client(), Trace(None), now=NOW).ctls == [2]


def test_a_ctl_download_ending_below_the_listed_sequence_number_is_refused(
    fresh: RevocationWorld, device: DeviceState
) -> None:
    # The info status lists CTL #2, the CTL download holds only #1 (a stale copy).
    _serve(fresh, ctl_seq=2)
    with pytest.raises(VerificationFailed, match="lists #2, the CTL download ends at #1"):
        fetch_trust(device, fresh.client(), Trace(None), now=NOW)
    assert "info_status" not in _trust(device)
    saved = json.loads((device.root / "state.json").read_text())
    assert saved.get("trust", {}).get("ctl", {}).get("sequence_number", 1) == 1
