"""``scms_service.ctl_issue`` and ``scms ctl``: the next CTL of the series, signed by the electors, refusals."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from scms_service.ctl_issue import AddRoot, CtlRefused, RemoveRoot, SetQuorum, current_ctl, issue_next_ctl
from scms_service.hierarchy import ELECTORS, ctl_key

from scms_cli import ctl_cmd
from scms_cli.main import build_parser
from scms_codec.cert.certificate import Certificate
from scms_codec.spdu.ctl import elector_entry, parse_multi_signed_ctl_spdu, verify_ctl_signatures
from tests.support.pki import build_pki, cert
from tests.unit.ra.trust_world import NOW, TrustWorld, other_root, trust_world, world_fixture  # noqa: F401 (the "world" fixture)


def _issue(world: TrustWorld, change: object, now: int = NOW + 10) -> object:
    return issue_next_ctl(change, world.store, world.vault, world.artifacts, now=now)  # type: ignore[arg-type]


def test_add_root_issues_ctl_2_approving_both_roots_signed_by_both_electors(world: TrustWorld) -> None:
    other = other_root()

    record = _issue(world, AddRoot(other.encoded))

    stored = world.store.ctls(world.series)
    assert [c.sequence_number for c in stored] == [1, 2]
    assert world.artifacts.get(ctl_key(world.series, 2)) == stored[-1].spdu
    ctl = parse_multi_signed_ctl_spdu(stored[-1].spdu).content
    tbs = ctl.tbs_ctl
    assert (tbs.ctl_series_id, tbs.sequence_number, tbs.effective_date, tbs.quorum) == (world.series, 2, NOW + 10, 2)
    assert tbs.root_ca_approve == (world.hierarchy.certificate("root").hashed_id32, other.hashed_id32)
    assert tbs.elector_approve == tuple(elector_entry(world.hierarchy.certificate(e)) for e in ELECTORS)
    signers = {e.hashed_id8 for e in verify_ctl_signatures(ctl)}
    assert signers == {world.hierarchy.certificate(e).hashed_id8 for e in ELECTORS}
    assert other.encoded in ctl.unsigned and world.hierarchy.certificate("root").encoded in ctl.unsigned
    assert record == stored[-1]


def test_remove_root_drops_it_and_lists_it_as_removed(world: TrustWorld) -> None:
    other = other_root()
    _issue(world, AddRoot(other.encoded))
    _issue(world, RemoveRoot(other.hashed_id8), now=NOW + 20)
    view = current_ctl(world.hierarchy, world.store)
    assert view.tbs.sequence_number == 3
    assert view.tbs.root_ca_approve == (world.hierarchy.certificate("root").hashed_id32,)
    assert view.tbs.root_ca_remove == (other.hashed_id32,)
    assert other.encoded not in view.ctl.unsigned


def test_quorum_changes_the_next_ctls_signers_requirement(world: TrustWorld) -> None:
    _issue(world, SetQuorum(1))
    assert current_ctl(world.hierarchy, world.store).tbs.quorum == 1
    assert current_ctl(world.hierarchy, world.store).required_signatures == 1


def test_effective_date_never_decreases(world: TrustWorld) -> None:
    _issue(world, SetQuorum(1), now=NOW - 1000)  # a clock behind CTL #1's date
    assert current_ctl(world.hierarchy, world.store).tbs.effective_date == NOW


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda w: AddRoot(b"\x00\x01junk"), "does not decode"),
        (lambda w: AddRoot(w.hierarchy.certificate("ica").encoded), "not self-signed"),
        (lambda w: AddRoot(w.hierarchy.certificate("root").encoded), "already approved"),
        (lambda w: AddRoot(cert(build_pki().root).encoded), "no certIssuePermissions"),
        (lambda w: AddRoot(w.hierarchy.certificate("elector1").encoded), "no certIssuePermissions"),
        (lambda w: RemoveRoot(w.hierarchy.certificate("root").hashed_id8), "last approved root"),
        (lambda w: RemoveRoot(b"\x00" * 8), "not approved"),
        (lambda w: SetQuorum(0), "must be from 1"),
        (lambda w: SetQuorum(3), "must be from 1"),
        (lambda w: SetQuorum(2), "already 2"),
    ],
)
def test_nonsense_is_refused_and_nothing_is_stored(world: TrustWorld, make: object, message: str) -> None:
    before = world.store.snapshot()
    with pytest.raises(CtlRefused, match=message):
        _issue(world, make(world))  # type: ignore[operator]
    assert world.store.snapshot() == before
    assert world.artifacts.get(ctl_key(world.series, 2)) is None


def test_a_root_whose_self_signature_does_not_verify_is_refused(world: TrustWorld) -> None:
    other = other_root()
    value = dict(other.value)
    kind, sig = value["signature"]
    r_sig = dict(sig)
    r_sig["sSig"] = bytes([sig["sSig"][0] ^ 1]) + sig["sSig"][1:]
    value["signature"] = (kind, r_sig)
    forged = Certificate.from_value(value)
    with pytest.raises(CtlRefused, match="does not verify"):
        _issue(world, AddRoot(forged.encoded))
    # Twin: the genuine one is accepted.
    _issue(world, AddRoot(other.encoded))


def test_an_expired_root_is_refused(world: TrustWorld) -> None:
    other = other_root()
    with pytest.raises(CtlRefused, match="expired"):
        _issue(world, AddRoot(other.encoded), now=other.validity[1] + 1)


def test_without_enough_electors_of_the_quorum_it_is_refused(world: TrustWorld) -> None:
    # Given an SCMS that holds only elector1 (elector2's record gone), the quorum of 2 cannot be met.
    world.store._certs = {k: v for k, v in world.store._certs.items() if k[0] != "elector2"}
    world.store._active.pop("elector2")
    with pytest.raises(CtlRefused, match="needs 2 elector signature"):
        _issue(world, SetQuorum(1))
    assert len(world.store.ctls(world.series)) == 1


def test_with_quorum_1_one_held_elector_suffices(world: TrustWorld) -> None:
    _issue(world, SetQuorum(1))
    world.store._certs = {k: v for k, v in world.store._certs.items() if k[0] != "elector2"}
    world.store._active.pop("elector2")
    _issue(world, AddRoot(other_root().encoded), now=NOW + 20)
    ctl = current_ctl(world.hierarchy, world.store).ctl
    assert len(verify_ctl_signatures(ctl)) == 1


# --- scms ctl ------------------------------------------------------------------------------------


def _run(world: TrustWorld, argv: list[str]) -> tuple[int, str, str]:
    args = build_parser().parse_args(["ctl", *argv])
    change = ctl_cmd.change_from(args)
    out, err = io.StringIO(), io.StringIO()
    if isinstance(change, str):
        return 1, "", change
    code = ctl_cmd.execute(change, world.store, world.vault, world.artifacts, now=NOW + 10, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_scms_ctl_show_prints_the_ctl_without_keys(world: TrustWorld) -> None:
    code, out, _ = _run(world, ["show"])
    assert code == 0
    assert f"CTL series {world.series.hex()} #1" in out
    assert "quorum     2" in out
    assert world.hierarchy.certificate("root").hashed_id8.hex() in out
    assert out.count("key held") == 2
    assert "PRIVATE" not in out


def test_scms_ctl_add_root_from_a_file_then_remove_it(world: TrustWorld, tmp_path: Path) -> None:
    other = other_root()
    path = tmp_path / "root.oer"
    path.write_bytes(other.encoded)
    code, out, err = _run(world, ["add-root", "--cert", str(path)])
    assert code == 0, err
    assert "Published CTL #2" in out and other.hashed_id8.hex() in out
    code, out, err = _run(world, ["remove-root", other.hashed_id8.hex()])
    assert code == 0, err
    assert "Published CTL #3" in out and other.hashed_id8.hex() not in out


def test_scms_ctl_refusals_exit_1_with_a_message(world: TrustWorld, tmp_path: Path) -> None:
    assert _run(world, ["quorum", "5"])[0] == 1
    assert "must be from 1" in _run(world, ["quorum", "5"])[2]
    assert _run(world, ["remove-root", "xyz"])[2] == "HASHEDID8: expected 16 hex digits"
    assert "cannot read" in _run(world, ["add-root", "--cert", str(tmp_path / "missing.oer")])[2]
    assert len(world.store.ctls(world.series)) == 1
    # Twin: a sensible quorum is published.
    assert _run(world, ["quorum", "1"])[0] == 0
