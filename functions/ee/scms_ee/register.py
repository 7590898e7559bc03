"""``scms-ee register``: the device registers its canonical key through the management API (protocol.md §3.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization

from .client import Client
from .state import DeviceState, canonical_id_of

__all__ = ["EE_SSP", "SECURITY_MGMT_PSID", "Permission", "default_permissions", "register"]

SECURITY_MGMT_PSID = 35
EE_SSP = bytes.fromhex("8c0002")
"""``EeSsp`` (protocol.md §1.1): EEs carry PSID 35 with it to sign their requests to the RA."""


@dataclass(frozen=True)
class Permission:
    """One registered permission: a PSID and, optionally, its SSP."""

    psid: int
    ssp: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {"psid": self.psid} if self.ssp is None else {"psid": self.psid, "ssp": self.ssp.hex()}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Permission:
        ssp = value.get("ssp")
        return cls(int(value["psid"]), None if ssp is None else bytes.fromhex(ssp))


def default_permissions(psids: list[int]) -> list[Permission]:
    """PSID 35 with ``EeSsp`` plus the application PSIDs (protocol.md §3.3: what the EE later asks the RA for)."""
    out = [Permission(SECURITY_MGMT_PSID, EE_SSP)]
    out += [Permission(psid) for psid in dict.fromkeys(psids) if psid != SECURITY_MGMT_PSID]
    return out


def register(
    state: DeviceState, client: Client, api_key: str, *, device_id: str | None, psids: list[int]
) -> dict[str, Any]:
    """``POST /manage/v1/devices`` with this device's canonical key; stores the registration in ``state.json``."""
    public = state.canonical_key().public_key()
    canonical_id = canonical_id_of(public)
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    permissions = default_permissions(psids)
    body = {
        "device_id": device_id or f"ee-{canonical_id[:16]}",
        "canonical_public_key": point.hex(),
        "canonical_id": canonical_id,
        "permissions": [p.to_json() for p in permissions],
    }
    answer = client.manage("POST", "/manage/v1/devices", api_key, body)
    state.update_json(
        device_id=body["device_id"],
        permissions=body["permissions"],
        registered=answer if isinstance(answer, dict) else {},
    )
    return answer if isinstance(answer, dict) else {"answer": answer}
