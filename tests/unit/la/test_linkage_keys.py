"""LA-ACA keys (``scms_service.linkage_keys``) on the in-memory vault."""

from __future__ import annotations

from dataclasses import replace

import pytest
from scms_service.config import Settings
from scms_service.linkage_keys import (
    LA_IDS,
    LA_ROLES,
    LinkageKeyError,
    ensure_la_aca_keys,
    la_aca_key,
    la_aca_keyring,
    la_aca_secret_name,
    la_id_of,
    la_role,
)
from scms_service.stores.ca import InMemoryKeyVault

from scms_codec.spdu.plv import decrypt_plv, encrypt_plv

SETTINGS = Settings(secret_prefix="scms/test/")


def test_ensure_creates_one_16_octet_key_per_la_once() -> None:
    # Given an empty vault, When ensured twice,
    vault = InMemoryKeyVault()
    assert ensure_la_aca_keys(SETTINGS, vault) == LA_ROLES
    keys = {la: la_aca_key(SETTINGS, vault, la) for la in LA_ROLES}
    # Then the second run creates nothing and keeps the keys; the two LAs' keys differ.
    assert ensure_la_aca_keys(SETTINGS, vault) == ()
    assert {la: la_aca_key(SETTINGS, vault, la) for la in LA_ROLES} == keys
    assert all(len(k) == 16 for k in keys.values()) and keys["la1"] != keys["la2"]
    assert vault.names() == ["scms/test/la-aca/la1", "scms/test/la-aca/la2"]


def test_a_missing_la_key_is_created_without_touching_the_other() -> None:
    vault = InMemoryKeyVault()
    vault.create(la_aca_secret_name(SETTINGS, "la1"), "00" * 16)
    assert ensure_la_aca_keys(SETTINGS, vault) == ("la2",)
    assert la_aca_key(SETTINGS, vault, "la1") == bytes(16)


def test_aca_keyring_opens_plvs_of_both_las_and_an_la_key_opens_only_its_own() -> None:
    vault = InMemoryKeyVault()
    ensure_la_aca_keys(SETTINGS, vault)
    plv = bytes(range(9))
    enc = {la: encrypt_plv(LA_IDS[la], plv, la_aca_key(SETTINGS, vault, la)) for la in LA_ROLES}
    keyring = la_aca_keyring(SETTINGS, vault)
    assert all(decrypt_plv(e, keyring) == plv for e in enc.values())
    # Twin: a keyring of LA1's key alone does not open LA2's PLV.
    from scms_codec.errors import DecryptionError
    from scms_codec.secured.keyring import Keyring

    only_la1 = Keyring()
    only_la1.add_symmetric(la_aca_key(SETTINGS, vault, "la1"))
    with pytest.raises(DecryptionError):
        decrypt_plv(enc["la2"], only_la1)


@pytest.mark.parametrize(
    "value",
    ["not hex", "", "00" * 15, "00" * 17, "zz" * 16, "{\"key\": \"" + "00" * 16 + "\"}"],
    ids=["words", "empty", "short-key", "long-key", "not-hex", "json"],
)
def test_a_malformed_key_secret_is_refused_without_quoting_it(value: str) -> None:
    vault = InMemoryKeyVault()
    vault.create(la_aca_secret_name(SETTINGS, "la1"), value)
    with pytest.raises(LinkageKeyError) as info:
        la_aca_key(SETTINGS, vault, "la1")
    assert (value not in str(info.value) or not value) and "00" * 15 not in str(info.value)
    assert info.value.__cause__ is None and (info.value.__context__ is None or info.value.__suppress_context__)


def test_a_missing_key_or_unknown_la_is_refused() -> None:
    with pytest.raises(LinkageKeyError, match="scms init"):
        la_aca_key(SETTINGS, InMemoryKeyVault(), "la2")
    with pytest.raises(LinkageKeyError):
        la_aca_secret_name(SETTINGS, "la3")


def test_la_ids_match_the_hierarchy_roles_and_settings() -> None:
    assert la_role(b"\x00\x01") == "la1" and la_role(b"\x00\x02") == "la2"
    assert la_id_of(replace(SETTINGS, la_id="0002")) == b"\x00\x02"
    # Twin: an id that is no LA of this SCMS, or not hex, is refused.
    with pytest.raises(LinkageKeyError):
        la_role(b"\x8e\x09")
    with pytest.raises(LinkageKeyError):
        la_id_of(replace(SETTINGS, la_id="00x1"))
    with pytest.raises(LinkageKeyError):
        la_id_of(replace(SETTINGS, la_id="0003"))


def test_hierarchy_la_ssp_ids_are_the_linkage_key_ids() -> None:
    # The LaSsp.laId in the LA certificates (hierarchy._app_permissions) equals LA_IDS.
    from scms_service.hierarchy import _app_permissions

    from scms_codec import asn1

    for la in LA_ROLES:
        (entry,) = _app_permissions(la, SETTINGS)
        kind, ssp = asn1.decode("SecurityMgmtSsp", entry["ssp"][1])
        assert kind == "la" and ssp["laId"].to_bytes(2, "big") == LA_IDS[la]


def test_vault_repr_and_errors_hold_no_key() -> None:
    vault = InMemoryKeyVault()
    ensure_la_aca_keys(SETTINGS, vault)
    key = la_aca_key(SETTINGS, vault, "la1")
    assert key.hex() not in repr(vault)
