"""Every nested layer of every public sample decodes strictly and re-encodes identically (protocol.md §1.3)."""

from __future__ import annotations

from typing import Any

import pytest

from scms_codec import asn1
from scms_codec.asn1.nested import Layer, Path, iter_layers, nested_layers
from scms_codec.errors import DecodeError
from tests.support.vectors import EncodedSample, encoded_params, encoded_samples

_CHAIN = ["ScmsPdu", "FullIeeeTbsCtl", "SequenceOfCertificate"]
_CTL_SIGNATURES = ["ScmsPdu"] * 3
# The inner types, depth first, of the samples the vectors README describes; every other sample
# (certificates, encrypted SPDUs, BSMs under psid 32) has no decodable inner layer.
EXPECTED_LAYERS: dict[str, list[str]] = {
    "encoded/iyourshaw-ieee1609/CRL-2020-2025.oer": ["CrlContents"],
    "encoded/openscms/EeEcaCertRequestSpdu.dat": ["SignedCertificateRequest"],
    "encoded/oscms-asn1c-codecs/CertificateManagementInfoStatusSpdu.dat": ["ScmsPdu"],
    "encoded/oscms-asn1c-codecs/DecryptedEeRaCertRequestSpdu.dat": ["SignedCertificateRequest"],
    "encoded/oscms-asn1c-codecs/EncryptedEeEcaCertRequestSpdu.dat": ["SignedCertificateRequest"],
    "encoded/oscms-asn1c-codecs/OscmsCertificateChainFile.dat": _CHAIN,
    "encoded/oscms-asn1c-codecs/OscmsCertificateChainFileSpdu.dat": ["ScmsPdu", *_CHAIN],
    "encoded/oscms-asn1c-codecs/composite-crl-scms-pdu.dat": ["CrlContents", *_CHAIN, *_CTL_SIGNATURES],
    "encoded/oscms-asn1c-codecs/composite-crl-file.dat": ["ScmsPdu", "CrlContents", *_CHAIN, *_CTL_SIGNATURES],
}


def _layers(sample: EncodedSample) -> list[Layer]:
    return list(iter_layers(nested_layers(asn1.decode(sample.asn1_type, sample.data))))


def _replace(value: Any, path: Path, new: Any) -> Any:
    """A copy of ``value`` with the item at ``path`` replaced (CHOICE steps name the alternative)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    if isinstance(value, list):
        return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]
    assert isinstance(value, tuple) and value[0] == head, (value, head)
    return (head, _replace(value[1], rest, new))


def _choice(value: Any) -> str:
    name: str = value[0]
    return name


def test_the_expected_samples_exist() -> None:
    assert set(EXPECTED_LAYERS) <= {s.path for s in encoded_samples()}


@pytest.mark.parametrize("sample", encoded_params())
def test_sample_has_the_expected_nested_layers(sample: EncodedSample) -> None:
    assert [layer.type_name for layer in _layers(sample)] == EXPECTED_LAYERS.get(sample.path, [])


@pytest.mark.parametrize("sample", encoded_params())
def test_every_nested_layer_reencodes_identically(sample: EncodedSample) -> None:
    for layer in _layers(sample):
        assert asn1.encode(layer.type_name, layer.value) == layer.encoded, layer.path


@pytest.mark.parametrize("sample", [p for p in encoded_params() if p.values[0].path in EXPECTED_LAYERS])
def test_a_trailing_octet_in_the_first_nested_layer_is_rejected(sample: EncodedSample) -> None:
    # Given a sample whose first nested layer gets one octet more, still a valid outer encoding
    value = asn1.decode(sample.asn1_type, sample.data)
    first = nested_layers(value)[0]
    tampered = _replace(value, first.path, first.encoded + b"\x00")
    asn1.decode(sample.asn1_type, asn1.encode(sample.asn1_type, tampered))
    # When the nested layers are decoded, Then the strict decode refuses the inner value
    with pytest.raises(DecodeError):
        nested_layers(tampered)


def test_crl_payload_is_crl_contents_under_psid_256() -> None:
    sample = next(s for s in encoded_samples() if s.path.endswith("CRL-2020-2025.oer"))
    (layer,) = nested_layers(asn1.decode("SecuredCrl", sample.data))
    assert layer.path[-1] == "unsecuredData"
    assert layer.value["crlSeries"] == 256
    assert layer.value["crlCraca"] == bytes.fromhex("7ac9efd3cc396921")  # HashedId8 of the ISS root


def test_self_signed_request_holds_an_eca_ee_cert_request() -> None:
    sample = next(s for s in encoded_samples() if s.path == "encoded/openscms/EeEcaCertRequestSpdu.dat")
    (layer,) = nested_layers(asn1.decode("Ieee1609Dot2Data", sample.data))
    assert _choice(layer.value["signer"]) == "self"
    scms = layer.value["tbsRequest"]["content"]
    assert scms[0] == "eca-ee" and _choice(scms[1]) == "eeEcaCertRequest"


def test_decrypted_ee_ra_request_holds_an_ee_ra_cert_request() -> None:
    sample = next(s for s in encoded_samples() if s.path.endswith("DecryptedEeRaCertRequestSpdu.dat"))
    (layer,) = nested_layers(asn1.decode("Ieee1609Dot2Data", sample.data))
    scms = layer.value["tbsRequest"]["content"]
    assert scms[0] == "ee-ra" and _choice(scms[1]) == "eeRaCertRequest"


def test_chain_file_multi_signed_ctl_holds_a_full_ieee_tbs_ctl() -> None:
    sample = next(s for s in encoded_samples() if s.path.endswith("OscmsCertificateChainFile.dat"))
    # The home CTL is a layer of the chain file; the CTL contents are layers of the home CTL.
    (home,) = nested_layers(asn1.decode("ScmsPdu", sample.data))
    assert home.value["content"][1][0] == "multiSignedCtl"
    tbs_ctl, unsigned = home.layers
    assert tbs_ctl.path == ("content", "cert", "multiSignedCtl", "tbsCtl")
    assert tbs_ctl.type_name == "FullIeeeTbsCtl"
    assert unsigned.type_name == "SequenceOfCertificate" and isinstance(unsigned.value, list)


def test_bsm_payload_under_psid_32_stays_opaque() -> None:
    sample = next(s for s in encoded_samples() if s.path.endswith("Ieee1609Dot2Data_bad_accel.coer"))
    value = asn1.decode("Ieee1609Dot2Data", sample.data)
    assert value["content"][1]["tbsData"]["headerInfo"]["psid"] == 32
    assert nested_layers(value) == ()


# Constructed values for the branches no public sample exercises.

def _unsecured(inner: bytes) -> dict[str, Any]:
    return {"protocolVersion": 3, "content": ("unsecuredData", inner)}


def test_unsecured_layer_holding_an_ieee1609dot2data_is_decoded_recursively() -> None:
    # Ieee1609Dot2Data-EncryptedSigned puts Unsecured(COER(Ieee1609Dot2Data)) under the signature.
    scms = asn1.encode("ScmsPdu", {"version": 2, "content": ("ee-ma", None)})
    middle = asn1.encode("Ieee1609Dot2Data", _unsecured(scms))
    (outer,) = nested_layers(_unsecured(middle))
    assert outer.type_name == "Ieee1609Dot2Data"
    assert [child.type_name for child in outer.layers] == ["ScmsPdu"]


def test_unsecured_layer_with_an_unknown_version_is_rejected() -> None:
    with pytest.raises(DecodeError):
        nested_layers(_unsecured(b"\x07\x00"))
    with pytest.raises(DecodeError):
        nested_layers(_unsecured(b""))


def _tbs_certificate(**extra: Any) -> dict[str, Any]:
    sample = next(s for s in encoded_samples() if s.path.endswith("iss_v2x_root.oer"))
    cert = asn1.decode("Certificate", sample.data)
    return {**cert, "toBeSigned": {**cert["toBeSigned"], **extra}}


def test_app_extension_is_decoded_through_opentypes() -> None:
    oid = asn1.encode("OperatingOrganizationId", "1.3.6.1.4.1")
    (layer,) = nested_layers(_tbs_certificate(appExtensions=[{"id": 1, "content": oid}]))
    assert (layer.type_name, layer.value) == ("OperatingOrganizationId", "1.3.6.1.4.1")
    assert layer.path[-3:] == ("appExtensions", 0, "content")


def test_app_extension_with_an_unknown_id_or_bad_content_is_rejected() -> None:
    with pytest.raises(DecodeError):
        nested_layers(_tbs_certificate(appExtensions=[{"id": 9, "content": b"\x06\x01\x01"}]))
    with pytest.raises(DecodeError):
        nested_layers(_tbs_certificate(appExtensions=[{"id": 1, "content": b"\xff"}]))


def test_null_issue_extension_must_be_empty() -> None:
    assert nested_layers(_tbs_certificate(certIssueExtensions=[{"id": 1, "permissions": ("specific", b"")}])) == ()
    with pytest.raises(DecodeError):
        nested_layers(_tbs_certificate(certIssueExtensions=[{"id": 1, "permissions": ("specific", b"\x00")}]))


def test_contributed_header_extension_is_decoded_in_two_layers() -> None:
    # Given a signed BSM whose headerInfo carries the IEEE p2pcd 8-byte learning request (contributor 1, id 1)
    sample = next(s for s in encoded_samples() if s.path.endswith("Ieee1609Dot2Data_bad_accel.coer"))
    value = asn1.decode("Ieee1609Dot2Data", sample.data)
    wanted = bytes.fromhex("0102030405060708")
    ext_value = {"id": 1, "content": asn1.encode("HashedId8", wanted)}
    extension = asn1.encode("Ieee1609ContributedHeaderInfoExtension", ext_value)
    header_path = ("content", "signedData", "tbsData", "headerInfo")
    header = value["content"][1]["tbsData"]["headerInfo"]

    def with_block(contributor: int) -> Any:
        block = {"contributorId": contributor, "extns": [extension]}
        return _replace(value, header_path, {**header, "contributedExtensions": [block]})

    good = with_block(1)
    # When the layers are decoded, Then the Extension and its HashedId8 content are both layers
    (layer,) = nested_layers(good)
    assert layer.type_name == "Ieee1609ContributedHeaderInfoExtension"
    assert [(c.type_name, c.value) for c in layer.layers] == [("HashedId8", wanted)]
    # And an unknown contributor is rejected
    with pytest.raises(DecodeError):
        nested_layers(with_block(9))


def _aprv_tree() -> bytes:
    tree = {
        "version": 2, "generationTime": 650_000_000, "currentI": 7, "acpcTreeId": b"\x01" * 8,
        "hashAlgorithmId": "sha256", "tree": (b"\x80", 1), "nodeValueList": [b"\x02" * 16],
    }
    return bytes(asn1.encode("AcpcPdu", ("tree", tree)))


def test_unsecured_aprv_binary_tree_outside_signed_data_is_an_acpc_pdu() -> None:
    # UnsecuredAprvBinaryTree (Acpc module) is Unsecured{AcpcPdu (tree)}, whose first octet is a CHOICE tag.
    (layer,) = nested_layers(_unsecured(_aprv_tree()))
    assert layer.type_name == "AcpcPdu"
    assert layer.value[0] == "tree"


def test_individual_aprv_outside_signed_data_is_rejected() -> None:
    # IndividualAprv is only ever signed (SignedIndividualAprv); the 0x81 tag is not an unsecured form.
    aprv = {"version": 2, "generationTime": 0, "currentI": 0, "acpcTreeId": b"\x01" * 8,
            "nodeId": (b"\x80", 1), "nodeValue": b"\x02" * 16}
    with pytest.raises(DecodeError):
        nested_layers(_unsecured(bytes(asn1.encode("AcpcPdu", ("aprv", aprv)))))
