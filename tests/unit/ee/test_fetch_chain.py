"""``scms-ee fetch-chain`` against the RA app in-process (in-memory CaTable): verification, storage, trace, 304."""

from __future__ import annotations

import io
import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

import pytest
from chalice.test import Client
from scms_ee.client import Response
from scms_ee.main import EXIT_LOCAL, EXIT_OK, EXIT_REFUSED, main
from scms_ra.wiring import Services
from scms_service.auth import ApiKeyCheck, key_digest
from scms_service.config import Settings, load_settings
from scms_service.hierarchy import ELECTORS, Hierarchy, init_hierarchy, rotate
from scms_service.stores.artifacts import InMemoryArtifacts
from scms_service.stores.ca import CtlRecord, InMemoryCaStore, InMemoryKeyVault
from scms_service.stores.devices import InMemoryDeviceStore

from scms_codec import time32
from scms_codec.spdu.cert_management import (
    CertificateChain,
    FullIeeeTbsCtl,
    build_certificate_chain_spdu,
    parse_certificate_chain_spdu,
)
from scms_codec.spdu.ctl import build_multi_signed_ctl_spdu, elector_entry, parse_multi_signed_ctl_spdu, sign_ctl
from tests.functional.ra_app import load_ra_app
from tests.support.pki import build_pki, cert

URL = "http://ra.test"


@dataclass
class Scms:
    """The RA app over an in-memory hierarchy, reachable through ``transport``; ``tamper`` rewrites 200 bodies."""

    settings: Settings
    store: InMemoryCaStore
    vault: InMemoryKeyVault
    artifacts: InMemoryArtifacts
    hierarchy: Hierarchy
    client: Client
    tamper: Callable[[bytes], bytes] | None = None
    replay: bytes | None = None  # answer 200 with these octets whatever was asked (a stale or hostile server)
    calls: list[tuple[str, Mapping[str, str], int]] = field(default_factory=list)

    def transport(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Response:
        if self.replay is not None:
            return Response(200, {"content-type": "application/octet-stream"}, self.replay)
        parts = urllib.parse.urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        answer = self.client.http.request(method, path, headers=dict(headers), body=body or b"")
        data = answer.body
        if self.tamper is not None and answer.status_code == 200:
            data = self.tamper(data)
        self.calls.append((path, dict(headers), answer.status_code))
        return Response(answer.status_code, {k.lower(): v for k, v in answer.headers.items()}, data)

    @property
    def series(self) -> str:
        return self.hierarchy.certificate("root").hashed_id8.hex()

    def publish_ctl(self, sequence_number: int, electors: tuple[str, ...] = ELECTORS, quorum: int = 2) -> None:
        """A further CTL of the series approving the same root and electors, signed by ``electors``."""
        root = self.hierarchy.certificate("root")
        approved = [self.hierarchy.certificate(e) for e in ELECTORS]
        tbs = FullIeeeTbsCtl(
            ctl_series_id=root.hashed_id8,
            sequence_number=sequence_number,
            effective_date=time32.now(),
            elector_approve=tuple(elector_entry(c) for c in approved),
            root_ca_approve=self.root_approval(),
            quorum=quorum,
        )
        ctl = sign_ctl(tbs, [self.hierarchy.signer(e) for e in electors], [root, *approved])
        self.store.put_ctl(CtlRecord(root.hashed_id8, sequence_number, build_multi_signed_ctl_spdu(ctl), time32.now()))

    def root_approval(self) -> tuple[bytes, ...]:
        first = self.store.ctls(bytes.fromhex(self.series))[0]
        return parse_multi_signed_ctl_spdu(first.spdu).content.tbs_ctl.root_ca_approve


@pytest.fixture
def scms() -> Iterator[Scms]:
    settings = load_settings({})
    store, vault, artifacts = InMemoryCaStore(), InMemoryKeyVault(), InMemoryArtifacts()
    hierarchy, _ = init_hierarchy(settings, store, vault, artifacts, now=time32.now() - 60)
    app: ModuleType = load_ra_app()
    app.configure(Services(settings, InMemoryDeviceStore(), ApiKeyCheck(lambda: key_digest("k")), store))
    app.configure_ccf_source(store)
    with Client(app.app) as client:
        yield Scms(settings, store, vault, artifacts, hierarchy, client)
    app.configure(None)
    app.configure_ccf_source(None)


def run(scms: Scms, state: Path, *args: str, trace: Path | None = None) -> tuple[int, str]:
    out = io.StringIO()
    extra = ["--trace", str(trace)] if trace is not None else []
    code = main(["--url", URL, "--state", str(state), *extra, "fetch-chain", *args], transport=scms.transport, out=out)
    return code, out.getvalue()


def root_file(scms: Scms, tmp_path: Path) -> str:
    path = tmp_path / "root.oer"
    path.write_bytes(scms.hierarchy.certificate("root").encoded)
    return str(path)


def rewrite_ctl(data: bytes, change: Callable[[tuple[bytes, ...]], tuple[bytes, ...]]) -> bytes:
    """The CCF with its home CTL's signature list changed by ``change``."""
    content = parse_certificate_chain_spdu(data).content
    ctl = parse_multi_signed_ctl_spdu(content.home_ctl).content
    home = build_multi_signed_ctl_spdu(replace(ctl, signatures=change(ctl.signatures)))
    return build_certificate_chain_spdu(CertificateChain(home, content.others))


def flip_last_bit(octets: bytes) -> bytes:
    return octets[:-1] + bytes([octets[-1] ^ 1])


# --- success ------------------------------------------------------------------------------------


def test_fetch_chain_with_a_pinned_root_verifies_and_stores_every_certificate(scms: Scms, tmp_path: Path) -> None:
    state = tmp_path / "ee"

    code, out = run(scms, state, "--root", root_file(scms, tmp_path))

    assert code == EXIT_OK, out
    assert "2 elector signature(s) verified" in out and "8 CA certificate(s)" in out
    saved = json.loads((state / "state.json").read_text())
    assert saved["ccf"]["filename"] == "ccf_1_8.oer"
    assert saved["ccf"]["ctl_series_id"] == scms.series
    assert saved["root"] == {"hashed_id8": scms.series, "source": "pinned"}
    roles = sorted(c["role"] for c in saved["ccf"]["certificates"])
    assert roles == sorted(["ica", "eca", "aca", "ra", "la1", "la2", "ma", "crlg"])
    for entry in saved["ccf"]["certificates"]:
        stored = (state / "ccf" / f"{entry['hashed_id8']}.oer").read_bytes()
        assert stored == scms.hierarchy.by_hashed_id8(bytes.fromhex(entry["hashed_id8"])).encoded  # type: ignore[union-attr]
    assert (state / "root.oer").read_bytes() == scms.hierarchy.certificate("root").encoded
    assert scms.calls[0][0] == f"/v3/ccf-ctl?ctlSeriesId={scms.series}"


def test_first_use_with_series_trusts_the_approved_root_the_ctl_carries(scms: Scms, tmp_path: Path) -> None:
    state = tmp_path / "ee"
    code, out = run(scms, state, "--series", scms.series)
    assert code == EXIT_OK, out
    assert json.loads((state / "state.json").read_text())["root"]["source"] == "trust-on-first-use"
    assert (state / "root.oer").read_bytes() == scms.hierarchy.certificate("root").encoded


def test_without_root_or_series_it_is_a_usage_error(scms: Scms, tmp_path: Path) -> None:
    assert run(scms, tmp_path / "ee")[0] == EXIT_LOCAL
    assert scms.calls == []


# --- verification failures (exit 1, nothing stored) ---------------------------------------------------


def _nothing_stored(state: Path) -> bool:
    return not (state / "ccf").exists() and not (state / "root.oer").exists()


def test_a_tampered_ctl_signature_exits_1_and_stores_nothing(
    scms: Scms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scms.tamper = lambda data: rewrite_ctl(data, lambda sigs: (flip_last_bit(sigs[0]), *sigs[1:]))
    state = tmp_path / "ee"
    code, _ = run(scms, state, "--root", root_file(scms, tmp_path))
    assert code == EXIT_REFUSED
    assert "elector signature does not verify" in capsys.readouterr().err
    assert _nothing_stored(state)


def test_fewer_signatures_than_the_quorum_exits_1(
    scms: Scms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scms.tamper = lambda data: rewrite_ctl(data, lambda sigs: sigs[:1])
    state = tmp_path / "ee"
    assert run(scms, state, "--root", root_file(scms, tmp_path))[0] == EXIT_REFUSED
    assert "the quorum is 2" in capsys.readouterr().err
    assert _nothing_stored(state)


def test_a_root_the_ctl_does_not_approve_exits_1(
    scms: Scms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other-root.oer"
    other.write_bytes(cert(build_pki().root).encoded)
    state = tmp_path / "ee"
    assert run(scms, state, "--root", str(other), "--series", scms.series)[0] == EXIT_REFUSED
    assert "is not approved by the CTL" in capsys.readouterr().err
    assert _nothing_stored(state)


def test_a_certificate_that_does_not_chain_to_the_root_exits_1(scms: Scms, tmp_path: Path) -> None:
    foreign = cert(build_pki().eca)

    def swap(data: bytes) -> bytes:
        content = parse_certificate_chain_spdu(data).content
        return build_certificate_chain_spdu(CertificateChain(content.home_ctl, (*content.others, foreign)))

    scms.tamper = swap
    state = tmp_path / "ee"
    assert run(scms, state, "--root", root_file(scms, tmp_path))[0] == EXIT_REFUSED
    assert _nothing_stored(state)


def test_unknown_series_exits_1(scms: Scms, tmp_path: Path) -> None:
    assert run(scms, tmp_path / "ee", "--root", root_file(scms, tmp_path), "--series", "ff" * 8)[0] == EXIT_REFUSED


# --- revalidation and newer CTLs --------------------------------------------------------------------


def test_a_second_fetch_revalidates_and_an_unchanged_file_is_304(scms: Scms, tmp_path: Path) -> None:
    state = tmp_path / "ee"
    assert run(scms, state, "--root", root_file(scms, tmp_path))[0] == EXIT_OK

    code, out = run(scms, state)

    assert code == EXIT_OK and "unchanged (304" in out
    assert scms.calls[-1][1]["If-None-Match"] == '"ccf_1_8.oer"' and scms.calls[-1][2] == 304


def test_after_a_rotation_the_second_fetch_downloads_the_new_file(scms: Scms, tmp_path: Path) -> None:
    state = tmp_path / "ee"
    assert run(scms, state, "--root", root_file(scms, tmp_path))[0] == EXIT_OK
    rotate("eca", scms.settings, scms.store, scms.vault, scms.artifacts, now=time32.now())

    code, out = run(scms, state)

    assert code == EXIT_OK and "9 CA certificate(s)" in out
    assert scms.calls[-1][2] == 200
    assert json.loads((state / "state.json").read_text())["ccf"]["filename"] == "ccf_1_9.oer"


def test_a_newer_ctl_signed_by_the_approved_electors_is_accepted(scms: Scms, tmp_path: Path) -> None:
    state = tmp_path / "ee"
    assert run(scms, state, "--root", root_file(scms, tmp_path))[0] == EXIT_OK
    scms.publish_ctl(2)

    code, _ = run(scms, state)

    assert code == EXIT_OK
    assert json.loads((state / "state.json").read_text())["ccf"]["ctl_sequence_number"] == 2


def test_a_newer_ctl_below_the_stored_quorum_is_refused(
    scms: Scms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a device that stored CTL #1 (quorum 2), and a CTL #2 signed by one elector claiming quorum 1
    state = tmp_path / "ee"
    assert run(scms, state, "--root", root_file(scms, tmp_path))[0] == EXIT_OK
    scms.publish_ctl(2, electors=ELECTORS[:1], quorum=1)

    # Then the quorum of the stored CTL applies
    assert run(scms, state)[0] == EXIT_REFUSED
    assert "the quorum is 2" in capsys.readouterr().err
    assert json.loads((state / "state.json").read_text())["ccf"]["ctl_sequence_number"] == 1


def test_an_older_ctl_than_the_stored_one_is_refused_as_rollback(
    scms: Scms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the CCF of CTL #1 recorded, then a device that stored the CCF of CTL #2
    state = tmp_path / "ee"
    old_state = tmp_path / "old"
    assert run(scms, old_state, "--root", root_file(scms, tmp_path))[0] == EXIT_OK
    old_ccf = (old_state / "ccf" / "ccf.oer").read_bytes()
    scms.publish_ctl(2)
    assert run(scms, state, "--root", root_file(scms, tmp_path))[0] == EXIT_OK

    # When the server answers with the old file
    scms.replay = old_ccf
    code, _ = run(scms, state)

    # Then it is refused and CTL #2 stays
    assert code == EXIT_REFUSED
    assert "rollback" in capsys.readouterr().err
    assert json.loads((state / "state.json").read_text())["ccf"]["ctl_sequence_number"] == 2


# --- trace --------------------------------------------------------------------------------------


def test_trace_records_the_file_and_each_certificate_with_its_issuer(scms: Scms, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    code, _ = run(scms, tmp_path / "ee", "--root", root_file(scms, tmp_path), trace=trace)
    assert code == EXIT_OK
    index = {e["file"]: e for e in json.loads((trace / "trace.json").read_text())["files"]}
    message = index["001-CertificateChainSpdu.oer"]
    assert message["direction"] == "received" and message["signed_by"] is None
    assert (trace / "001-CertificateChainSpdu.oer").read_bytes() == (tmp_path / "ee" / "ccf" / "ccf.oer").read_bytes()
    h = {role: scms.hierarchy.certificate(role).hashed_id8.hex() for role in ("root", "ica", "eca", *ELECTORS)}
    assert index[f"certs/root-{h['root']}.oer"]["issued_by"] == f"certs/root-{h['root']}.oer"
    assert index[f"certs/ica-{h['ica']}.oer"]["issued_by"] == f"certs/root-{h['root']}.oer"
    assert index[f"certs/eca-{h['eca']}.oer"]["issued_by"] == f"certs/ica-{h['ica']}.oer"
    assert f"certs/elector-{h['elector1']}.oer" in index and f"certs/elector-{h['elector2']}.oer" in index
