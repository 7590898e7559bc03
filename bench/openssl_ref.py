"""OpenSSL's own P-256 figures (``openssl speed``), measured in the same run as the Python side.

performance.md §1: ECDSA P-256 sign and ECDH are the C-level limit per core. ``openssl speed``
has no fixed-base k·G test, so ``fixed_base_standin`` times ``ec.generate_private_key`` from
Python instead (performance.md §6), which is a random k and one k·G in OpenSSL.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from .timing import Timing, measure

# The human-readable table: " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  47510.3  13906.0".
_ECDSA_ROW = re.compile(
    r"^\s*256\s+bits?\s+ecdsa\s+\(nistp256\)\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)\s*$", re.M | re.I
)
# " 256 bits ecdh (nistp256)   0.0000s  21915.3".
_ECDH_ROW = re.compile(r"^\s*256\s+bits?\s+ecdh\s+\(nistp256\)\s+[\d.]+s\s+([\d.]+)\s*$", re.M | re.I)
# The progress lines on stderr, used when the table is missing: "46085 256 bits ECDSA signs in 0.97s".
_DOING_SIGN = re.compile(r"(\d+)\s+256\s+bits?\s+ECDSA\s+signs?\s+in\s+([\d.]+)s", re.I)
_DOING_VERIFY = re.compile(r"(\d+)\s+256\s+bits?\s+ECDSA\s+verify\s+in\s+([\d.]+)s", re.I)
_DOING_ECDH = re.compile(r"(\d+)\s+256-?\s*bits?\s+ECDH\s+ops\s+in\s+([\d.]+)s", re.I)
_VERSION = re.compile(r"^(?:version:\s*(\S+)|OpenSSL\s+(\S+))", re.M)


@dataclass(frozen=True)
class OpenSSLSpeed:
    """ECDSA P-256 and ECDH P-256 rates from one ``openssl speed`` run; ``error`` says why not."""

    command: tuple[str, ...] = ()
    version: str | None = None
    multi: int = 1
    sign_per_s: float | None = None
    verify_per_s: float | None = None
    ecdh_per_s: float | None = None
    error: str | None = None
    raw: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        """True when both the sign and the ECDH rate were measured."""
        return self.error is None and self.sign_per_s is not None and self.ecdh_per_s is not None

    @property
    def sign_us(self) -> float | None:
        """µs per ECDSA sign on one core (a ``-multi`` rate is divided by the process count)."""
        return None if not self.sign_per_s else 1e6 * self.multi / self.sign_per_s

    @property
    def ecdh_us(self) -> float | None:
        """µs per ECDH on one core."""
        return None if not self.ecdh_per_s else 1e6 * self.multi / self.ecdh_per_s

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary without the raw output."""
        return {
            "command": list(self.command),
            "version": self.version,
            "multi": self.multi,
            "sign_per_s": self.sign_per_s,
            "verify_per_s": self.verify_per_s,
            "ecdh_per_s": self.ecdh_per_s,
            "sign_us": self.sign_us,
            "ecdh_us": self.ecdh_us,
            "error": self.error,
        }


def parse_speed(stdout: str, stderr: str = "") -> dict[str, float]:
    """Rates (``sign``, ``verify``, ``ecdh`` per second) from ``openssl speed`` output.

    The summary table on stdout is preferred; without it the per-test progress lines on
    stderr ("N 256 bits ECDSA signs in Ts") give count / seconds. Missing rates are absent.
    """
    rates: dict[str, float] = {}
    if m := _ECDSA_ROW.search(stdout):
        rates["sign"], rates["verify"] = float(m[1]), float(m[2])
    if m := _ECDH_ROW.search(stdout):
        rates["ecdh"] = float(m[1])
    for key, pattern in (("sign", _DOING_SIGN), ("verify", _DOING_VERIFY), ("ecdh", _DOING_ECDH)):
        if key not in rates and (m := pattern.search(stderr)) and float(m[2]) > 0:
            rates[key] = int(m[1]) / float(m[2])
    return rates


def speed_command(openssl: str, *, seconds: int, multi: int, help_text: str) -> list[str]:
    """The ``openssl speed`` command line, using only the flags this build's ``-help`` lists."""
    command = [openssl, "speed"]
    if "-seconds" in help_text:
        command += ["-seconds", str(seconds)]
    if multi > 1 and "-multi" in help_text:
        command += ["-multi", str(multi)]
    return [*command, "ecdsap256", "ecdhp256"]


def run_openssl_speed(*, seconds: int = 1, multi: int = 1, openssl: str = "openssl") -> OpenSSLSpeed:
    """Run ``openssl speed`` for ECDSA P-256 and ECDH P-256; never raises for a missing or odd openssl."""
    path = shutil.which(openssl)
    if path is None:
        return OpenSSLSpeed(error=f"{openssl!r} not found on PATH: no OpenSSL ratio")
    try:
        helped = subprocess.run([path, "speed", "-help"], capture_output=True, text=True, timeout=30, check=False)
        help_text = helped.stdout + helped.stderr
        if multi > 1 and "-multi" not in help_text:
            return OpenSSLSpeed(error="this openssl has no 'speed -multi'", multi=multi)
        command = speed_command(path, seconds=seconds, multi=multi, help_text=help_text)
        # Eight tests run by default without -seconds; allow for that, and for a slow machine.
        done = subprocess.run(command, capture_output=True, text=True, timeout=120 + 20 * seconds, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return OpenSSLSpeed(error=f"openssl speed failed: {exc}", multi=multi)
    rates = parse_speed(done.stdout, done.stderr)
    version_match = _VERSION.search(done.stdout)
    version = next((g for g in version_match.groups() if g), None) if version_match else None
    missing = [k for k in ("sign", "ecdh") if k not in rates]
    error = None
    if done.returncode != 0:
        error = f"openssl speed exited with status {done.returncode}"
    elif missing:
        error = f"could not read {', '.join(missing)} from the openssl speed output"
    return OpenSSLSpeed(
        command=tuple(command),
        version=version,
        multi=multi,
        sign_per_s=rates.get("sign"),
        verify_per_s=rates.get("verify"),
        ecdh_per_s=rates.get("ecdh"),
        error=error,
        raw=done.stdout + done.stderr,
    )


def python_primitives(*, number: int, repeat: int) -> dict[str, Timing]:
    """The same P-256 operations through ``cryptography`` from Python (performance.md §2).

    ``fixed_base`` is ``generate_private_key``: a random k and k·G, the stand-in for the
    C-level fixed-base cost that ``openssl speed`` does not measure (performance.md §6).
    """
    curve = ec.SECP256R1()
    key = ec.generate_private_key(curve)
    peer = ec.generate_private_key(curve).public_key()
    digest = bytes(range(32))
    algorithm = ec.ECDSA(Prehashed(hashes.SHA256()))
    return {
        "fixed_base": measure("generate_private_key (k·G)", lambda: ec.generate_private_key(curve), number=number,
                              repeat=repeat),
        "sign": measure("ECDSA P-256 sign (Prehashed)", lambda: key.sign(digest, algorithm), number=number,
                        repeat=repeat),
        "ecdh": measure("ECDH P-256 exchange", lambda: key.exchange(ec.ECDH(), peer), number=number, repeat=repeat),
    }
