"""``scms inspect`` on real samples: the tree, identifiers, JSON, verification under --issuer, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from scms_cli.main import main
from scms_codec import asn1
from scms_codec.cert.certificate import Certificate, issue_explicit, issue_implicit
from scms_codec.crypto import ecqv, points
from scms_codec.errors import DecodeError
from scms_codec.inspect import detect, inspect, render_json, render_text
from tests.support.vectors import VECTORS, EncodedSample, encoded_params

ISS_ROOT = VECTORS / "encoded/iyourshaw-ieee1609/iss_v2x_root.oer"
ISS_CRL = VECTORS / "encoded/iyourshaw-ieee1609/CRL-2020-2025.oer"
CHAIN_FILE = VECTORS / "encoded/oscms-asn1c-codecs/OscmsCertificateChainFile.dat"
INFO_STATUS = VECTORS / "encoded/oscms-asn1c-codecs/CertificateManagementInfoStatusSpdu.dat"
SELF_SIGNED_REQUEST = VECTORS / "encoded/openscms/EeEcaCertRequestSpdu.dat"

# Positions in the chain file's ``others``: the root, the ICA, and the RA the ICA issued.
_ICA, _RA = 1, 4


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main(["inspect", *(str(a) for a in argv)])
    out, err = capsys.readouterr()
    return status, out, err


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.fixture
def chain_certs(tmp_path: Path) -> dict[str, Path]:
    """The ICA and RA certificates of the OpenSCMS chain file, written to files."""
    others = asn1.decode("ScmsPdu", CHAIN_FILE.read_bytes())["content"][1][1]["others"]
    paths = {}
    for name, index in (("ica", _ICA), ("ra", _RA)):
        paths[name] = tmp_path / f"{name}.oer"
        paths[name].write_bytes(asn1.encode("Certificate", others[index]))
    return paths


def test_root_certificate_shows_its_identifiers_and_validity(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, ISS_ROOT)
    assert status == 0
    assert "Certificate (detected), 205 octets" in out
    assert "# HashedId8: 7ac9efd3cc396921" in out
    assert "# HashedId3: 396921" in out
    assert "# certificate: explicit" in out
    # Time32 385689600 is TAI: 4 leap seconds before 2016 make the UTC instant 23:59:56 (protocol.md §5.1).
    assert "TAI 385689600 s since 2004-01-01; UTC 2016-03-21T23:59:56Z" in out
    assert "duration: years = 70" in out
    assert "id: name = v2xrootca.ghsiss.com" in out


def test_another_certificate_shows_another_hashed_id8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The twin of the identifier check: one flipped bit in the signature changes the HashedId8.
    flipped = tmp_path / "root.oer"
    flipped.write_bytes(_flip(ISS_ROOT.read_bytes(), len(ISS_ROOT.read_bytes()) - 1))
    status, out, _ = _run(capsys, flipped)
    assert status == 0
    assert "7ac9efd3cc396921" not in out


def test_json_output_parses_and_carries_the_same_tree(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, ISS_ROOT, "--json")
    assert status == 0
    tree = json.loads(out)
    assert tree["type"] == "Certificate"
    assert tree["notes"]["HashedId8"] == "7ac9efd3cc396921"
    tbs = next(c for c in tree["children"] if c["name"] == "toBeSigned")
    crl_series = next(c for c in tbs["children"] if c["name"] == "cracaId")
    assert crl_series["value"] == "000000"  # octets as hex


def test_nested_layers_are_shown_with_their_types(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, ISS_CRL)
    assert status == 0
    assert "content <CrlContents>: unsecuredData" in out
    assert "crlCraca: 7ac9efd3cc396921" in out
    status, out, _ = _run(capsys, CHAIN_FILE)
    assert "tbsCtl <FullIeeeTbsCtl>" in out and "unsigned <SequenceOfCertificate>" in out
    assert out.count("# HashedId8: ") >= 5  # every embedded certificate is identified


def test_issuer_verifies_the_ra_certificate_under_its_ica(
    capsys: pytest.CaptureFixture[str], chain_certs: dict[str, Path]
) -> None:
    status, out, err = _run(capsys, chain_certs["ra"], "--issuer", chain_certs["ica"])
    assert (status, err) == (0, "")
    assert "verify: signature verified under issuer 3631eee885298ccc" in out


def test_issuer_rejects_a_bit_flipped_ra_certificate(
    capsys: pytest.CaptureFixture[str], chain_certs: dict[str, Path]
) -> None:
    # Given the RA certificate with one bit of its sSig (the last octets) flipped
    ra = chain_certs["ra"]
    ra.write_bytes(_flip(ra.read_bytes(), len(ra.read_bytes()) - 1))
    # When it is verified under its ICA, Then verification fails with 400-43 and exit status 1
    status, _, err = _run(capsys, ra, "--issuer", chain_certs["ica"])
    assert status == 1
    assert "400-43" in err


def test_issuer_that_is_not_the_named_issuer_fails(
    capsys: pytest.CaptureFixture[str], chain_certs: dict[str, Path]
) -> None:
    status, _, err = _run(capsys, chain_certs["ra"], "--issuer", ISS_ROOT)
    assert status == 1
    assert "3631eee885298ccc" in err


def test_issuer_verifies_a_crl_signed_by_digest(
    capsys: pytest.CaptureFixture[str], chain_certs: dict[str, Path]
) -> None:
    status, out, _ = _run(capsys, ISS_CRL, "--issuer", ISS_ROOT)
    assert status == 0
    assert "verify: signedData signature verified (psid 256)" in out
    # The same CRL does not verify under a certificate its digest does not name.
    status, _, err = _run(capsys, ISS_CRL, "--issuer", chain_certs["ica"])
    assert status == 1
    assert "400-43" in err


def test_issuer_verifies_signed_data_and_its_embedded_signer(
    capsys: pytest.CaptureFixture[str], chain_certs: dict[str, Path]
) -> None:
    # The info-status SPDU is signed by the RA certificate it embeds; the RA is issued by the ICA.
    status, out, _ = _run(capsys, INFO_STATUS, "--issuer", chain_certs["ica"])
    assert status == 0
    assert "signedData signature verified (psid 35)" in out
    assert "signer 15e298fe7b1d9199: signature verified under issuer 3631eee885298ccc" in out


def test_issuer_rejects_bit_flipped_signed_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, chain_certs: dict[str, Path]
) -> None:
    spdu = tmp_path / "info.oer"
    spdu.write_bytes(_flip(INFO_STATUS.read_bytes(), len(INFO_STATUS.read_bytes()) - 1))
    status, _, err = _run(capsys, spdu, "--issuer", chain_certs["ica"])
    assert status == 1 and "400-43" in err


def test_self_signed_request_verifies_with_its_own_key(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, SELF_SIGNED_REQUEST, "--issuer", ISS_ROOT)
    assert status == 0
    assert "signedCertificateRequest signature verified (self-signed)" in out


def test_implicit_certificate_key_is_reconstructed_under_its_issuer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a CA and an implicit certificate it issued for the request point R = k_U·G
    ca_key = ec.generate_private_key(ec.SECP256R1())
    tbs = asn1.decode("Certificate", ISS_ROOT.read_bytes())["toBeSigned"]
    ca = issue_explicit(dict(tbs), ca_key.public_key(), None, ca_key)
    k_u, request_point = points.generate()
    ee_tbs = {k: v for k, v in tbs.items() if k not in ("certIssuePermissions", "verifyKeyIndicator")}
    ee_tbs["appPermissions"] = [{"psid": 32}]
    cert, r = issue_implicit(ee_tbs, request_point, ca, ca_key)
    (tmp_path / "ca.oer").write_bytes(ca.encoded)
    (tmp_path / "ee.oer").write_bytes(cert.encoded)
    # When inspected with --issuer, Then the printed key is d_U·G for the holder's d_U = e·k_U + r
    d_u = ecqv.reconstruct_private(ecqv.certificate_hash_e(cert.tbs_encoded, ca.encoded), k_u, r)
    expected = points.to_public_key(points.base_mul(d_u)).public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    assert expected == cert.public_key(ca).public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    status, out, _ = _run(capsys, tmp_path / "ee.oer", "--issuer", tmp_path / "ca.oer")
    assert status == 0
    assert f"reconstructed public key {expected.hex()}" in out
    assert "# certificate: implicit" in out
    # And under another issuer (the ISS root) the certificate's issuer id does not match
    status, _, err = _run(capsys, tmp_path / "ee.oer", "--issuer", ISS_ROOT)
    assert status == 1 and "400-43" in err


def test_garbage_is_undecodable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\xff\x00garbage")
    status, out, err = _run(capsys, garbage)
    assert (status, out) == (2, "")
    assert "400-42" in err


def test_explicit_type_is_used_and_an_unknown_type_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, ISS_CRL, "--type", "SecuredCrl")
    assert status == 0 and "SecuredCrl (as --type)" in out
    status, _, err = _run(capsys, ISS_CRL, "--type", "NoSuchType")
    assert status == 2 and "NoSuchType" in err
    status, _, _ = _run(capsys, ISS_CRL, "--type", "Certificate")
    assert status == 2


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = _run(capsys, tmp_path / "absent.oer")
    assert status == 2 and err


@pytest.mark.parametrize("sample", encoded_params())
def test_every_sample_is_detected_and_renders(sample: EncodedSample) -> None:
    # SecuredCrl collapses to Ieee1609Dot2Data, so detection names the collapsed type.
    result = inspect(sample.data)
    expected = "Ieee1609Dot2Data" if sample.asn1_type == "SecuredCrl" else sample.asn1_type
    assert result.type_name == expected
    assert render_text(result.tree).startswith(expected)
    tree: dict[str, Any] = json.loads(render_json(result.tree))
    assert tree["type"] == expected


def test_detection_refuses_a_truncated_sample() -> None:
    with pytest.raises(DecodeError):
        detect(ISS_ROOT.read_bytes()[:-1])


def test_certificate_notes_match_the_certificate_class() -> None:
    cert = Certificate.from_bytes(ISS_ROOT.read_bytes())
    notes = dict(inspect(ISS_ROOT.read_bytes()).tree.notes)
    assert notes["HashedId8"] == cert.hashed_id8.hex() == "7ac9efd3cc396921"
