"""``scms-ee sign-message``: an application message signed with one of the device's pseudonyms (1609.2 §5.3.1).

The message is what another device observes on the air and may report as evidence (protocol.md
§3.6): an ``Ieee1609Dot2Data`` signedData whose headerInfo carries ``psid`` (default 32) and
``generationTime`` (Time64, as a BSM's does), whose payload is ``unsecuredData`` = the given octets,
and whose signer is the pseudonym (i, j)'s ``certificate`` (so a verifier, the MA included, needs
nothing else but the issuing ACA's certificate for an implicit one).
"""

from __future__ import annotations

from pathlib import Path

from scms_codec.asn1 import decode
from scms_codec.secured.signed_data import sign_tbs_data
from scms_codec.secured.unsecured import wrap_unsecured

from .pseudonym_files import OwnPseudonym, pseudonym
from .state import DeviceState, _write_atomic
from .trace import Trace

__all__ = ["DEFAULT_PSID", "SignedMessage", "sign_message"]

DEFAULT_PSID = 32
_MICROSECONDS = 1_000_000


class SignedMessage:
    """A signed message and the pseudonym that signed it."""

    def __init__(self, data: bytes, signer: OwnPseudonym) -> None:
        self.data = data
        self.signer = signer

    def __repr__(self) -> str:
        return f"SignedMessage({len(self.data)} octets, pseudonym {self.signer.i:x}_{self.signer.j:x})"


def build_message(signer: OwnPseudonym, payload: bytes, *, psid: int, generation_time: int) -> bytes:
    """COER ``Ieee1609Dot2Data`` signedData of ``payload`` under ``psid``, signed by the pseudonym's certificate."""
    tbs = {
        "payload": {"data": _unsecured_value(payload)},
        "headerInfo": {"psid": psid, "generationTime": generation_time * _MICROSECONDS},
    }
    return sign_tbs_data(tbs, signer.signer(), signer_form="certificate")


def _unsecured_value(payload: bytes) -> dict[str, object]:
    """The ``Ieee1609Dot2Data`` value of ``payload`` as unsecuredData (the codec's own wrapper, decoded)."""
    return dict(decode("Ieee1609Dot2Data", wrap_unsecured(payload)))


def sign_message(
    state: DeviceState,
    trace: Trace,
    *,
    i: int,
    j: int,
    psid: int = DEFAULT_PSID,
    payload: bytes,
    now: int,
    out: Path,
) -> SignedMessage:
    """The whole ``sign-message`` command: find pseudonym (i, j), sign, write ``out``, trace (module docstring)."""
    if not 0 <= psid < 1 << 32:
        raise ValueError("psid: expected a PSID (0 .. 2^32 - 1)")
    signer = pseudonym(state, i, j)
    data = build_message(signer, payload, psid=psid, generation_time=now)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(out, data, 0o644)
    if trace.enabled:
        cert_file = trace.certificate("pseudonym", signer.certificate, issued_by=None)
        trace.message("sent", "Ieee1609Dot2Data", data, signed_by=cert_file)
    return SignedMessage(data, signer)
