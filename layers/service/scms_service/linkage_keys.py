"""The LA-ACA pre-shared keys: one AES-128 key per linkage authority, a secret of its own (protocol.md §4.6).

Each LA encrypts every pre-linkage value for the ACA under its key (``symmRecipInfo``); the ACA holds
both keys, the RA neither. ``scms init`` creates them (``ensure_la_aca_keys``); an LA function reads
only its own (``la_aca_key``), the ACA both (``la_aca_keyring``). The LaIds are those the hierarchy
puts in the LA certificates' ``LaSsp`` (la1 → 1, la2 → 2). Key values never reach a repr, a log
line or an exception message.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Final

from scms_codec.secured.keyring import Keyring

from .errors import Conflict, ScmsError
from .stores.ca import KeyVault

if TYPE_CHECKING:
    from .config import Settings

__all__ = [
    "LA_IDS",
    "LA_ROLES",
    "LinkageKeyError",
    "ensure_la_aca_keys",
    "la_aca_key",
    "la_aca_keyring",
    "la_aca_secret_name",
    "la_id_of",
    "la_role",
]

_log = logging.getLogger(__name__)

LA_ROLES: Final = ("la1", "la2")
# The 2-octet LaId of each LA, as in its certificate's LaSsp.laId (hierarchy._app_permissions).
LA_IDS: Final[dict[str, bytes]] = {"la1": b"\x00\x01", "la2": b"\x00\x02"}
_KEY_SIZE: Final = 16


class LinkageKeyError(ScmsError):
    """An LA-ACA key is missing or not what this SCMS writes, or an LA is unknown (500; names the secret only)."""


def la_role(la_id: bytes) -> str:
    """The hierarchy role ("la1" or "la2") of a 2-octet LaId; ``LinkageKeyError`` for another id."""
    for role, value in LA_IDS.items():
        if value == la_id:
            return role
    raise LinkageKeyError(f"LaId {bytes(la_id).hex()} is not one of this SCMS's LAs ({', '.join(LA_ROLES)})")


def la_id_of(settings: Settings) -> bytes:
    """This LA function's LaId from ``settings.la_id`` (4 hex digits), checked against the known LAs."""
    try:
        la_id = bytes.fromhex(settings.la_id)
    except ValueError:
        raise LinkageKeyError(f"setting la_id: expected 4 hex digits, got {settings.la_id!r}") from None
    la_role(la_id)
    return la_id


def la_aca_secret_name(settings: Settings, la: str) -> str:
    """``<secret_prefix>la-aca/<la>``: the secret holding the key LA ``la`` shares with the ACA."""
    if la not in LA_ROLES:
        raise LinkageKeyError(f"unknown LA {la!r}; one of {', '.join(LA_ROLES)}")
    return f"{settings.secret_prefix}la-aca/{la}"


def ensure_la_aca_keys(settings: Settings, vault: KeyVault) -> tuple[str, ...]:
    """Create each missing LA-ACA key (16 random octets as 32 hex digits); the LAs whose key was created now.

    Idempotent: an existing secret is never overwritten (the vault's create is conditional), so a
    second run, or a concurrent one, keeps the keys the PLVs already in flight were encrypted under.
    """
    created = []
    for la in LA_ROLES:
        try:
            vault.create(la_aca_secret_name(settings, la), secrets.token_bytes(_KEY_SIZE).hex())
        except Conflict:
            continue
        created.append(la)
        _log.info("created LA-ACA key", extra={"la": la, "secret": la_aca_secret_name(settings, la)})
    return tuple(created)


def la_aca_key(settings: Settings, vault: KeyVault, la: str) -> bytes:
    """The AES-128 key LA ``la`` shares with the ACA (``LinkageKeyError`` if missing or malformed)."""
    name = la_aca_secret_name(settings, la)
    value = vault.get(name)
    if value is None:
        raise LinkageKeyError(f"secret {name} is missing; run `scms init`")
    try:
        key = bytes.fromhex(value)
    except ValueError:
        # The cause is dropped on purpose: its message may quote the secret's content.
        raise LinkageKeyError(f"secret {name}: not the hex this SCMS writes") from None
    if len(key) != _KEY_SIZE:
        raise LinkageKeyError(f"secret {name}: not an AES-128 key")
    return key


def la_aca_keyring(settings: Settings, vault: KeyVault, keyring: Keyring | None = None) -> Keyring:
    """ACA side: ``keyring`` (or a new one) accepting the PLVs of both LAs (symmRecipInfo)."""
    keyring = Keyring() if keyring is None else keyring
    for la in LA_ROLES:
        keyring.add_symmetric(la_aca_key(settings, vault, la))
    return keyring
