"""Codec costs: ASN.1 compile on import, and strict COER decode/encode of certificates and SPDUs.

performance.md §4: asn1tools costs 20-30 µs per certificate encode and compiles the modules
once per process; these figures re-measure both with the vendored 1609.2.1 modules.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scms_codec import asn1
from scms_codec.asn1._spec import specification

from .timing import Timing, measure

ROOT = Path(__file__).resolve().parents[1]
ENCODED = ROOT / "tests" / "vectors" / "encoded"


@dataclass(frozen=True)
class Sample:
    """One public encoding the codec benchmark decodes and re-encodes."""

    label: str
    asn1_type: str
    path: Path

    @property
    def data(self) -> bytes:
        """The sample's bytes."""
        return self.path.read_bytes()


SAMPLES = (
    Sample("explicit certificate (RA, 189 B)", "Certificate", ENCODED / "oscms-asn1c-codecs" / "RaCertificate.dat"),
    Sample("implicit pseudonym cert (89 B)", "Certificate", ENCODED / "wwhyte-1609dot2-asn" / "TestCertificate.coer"),
    Sample("signed BSM SPDU, cert signer (357 B)", "Ieee1609Dot2Data",
           ENCODED / "usdot-misbehavior-detection" / "bsm_cert_first_spdu.coer"),
    Sample("signed info-status SPDU (316 B)", "Ieee1609Dot2Data",
           ENCODED / "oscms-asn1c-codecs" / "CertificateManagementInfoStatusSpdu.dat"),
)

# Runs in a fresh interpreter: the cost a cold Lambda pays before its first message.
_COLD_START = """
import json, time
t0 = time.perf_counter()
import scms_codec
t1 = time.perf_counter()
scms_codec.encode("Psid", 32)
t2 = time.perf_counter()
scms_codec.encode("Psid", 32)
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "first_encode_ms": (t2 - t1) * 1e3,
                  "second_encode_us": (t3 - t2) * 1e6}))
"""


def cold_start(*, repeat: int) -> dict[str, Any]:
    """Median ``import scms_codec`` and first-encode (ASN.1 compile) time in fresh processes."""
    runs = []
    baseline = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", _COLD_START], capture_output=True, text=True, cwd=ROOT,
                              timeout=120, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        baseline.append(_interpreter_start_ms())
    result: dict[str, Any] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    result["interpreter_start_ms"] = statistics.median(baseline)
    result["repeats"] = runs
    return result


def _interpreter_start_ms() -> float:
    """Wall time of ``python -c pass``, so the cold-start figure can be read against it."""
    import time

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)
    return (time.perf_counter() - start) * 1e3


def sample_timings(*, number: int, repeat: int) -> list[Timing]:
    """Strict decode and encode of each sample, beside asn1tools alone without the strictness."""
    spec = specification()
    timings = []
    for sample in SAMPLES:
        data = sample.data
        value = asn1.decode(sample.asn1_type, data)
        if asn1.encode(sample.asn1_type, value) != data:
            raise AssertionError(f"{sample.path.name}: does not re-encode identically")
        kind = sample.asn1_type

        def strict_decode(kind: str = kind, data: bytes = data) -> object:
            return asn1.decode(kind, data)

        def checked_encode(kind: str = kind, value: Any = value) -> bytes:
            return asn1.encode(kind, value)

        def plain_decode(kind: str = kind, data: bytes = data) -> object:
            return spec.decode(kind, data)

        def plain_encode(kind: str = kind, value: Any = value) -> object:
            return spec.encode(kind, value)

        timings += [
            measure(f"{sample.label}: strict decode", strict_decode, number=number, repeat=repeat),
            measure(f"{sample.label}: encode (constraints checked)", checked_encode, number=number, repeat=repeat),
            measure(f"{sample.label}: asn1tools decode, unchecked", plain_decode, number=number, repeat=repeat),
            measure(f"{sample.label}: asn1tools encode, unchecked", plain_encode, number=number, repeat=repeat),
        ]
        if kind == "Certificate":
            tbs = value["toBeSigned"]
            def encode_tbs(tbs: Any = tbs) -> bytes:
                return asn1.encode("ToBeSignedCertificate", tbs)

            timings.append(measure(f"{sample.label}: encode toBeSigned (hash input)", encode_tbs,
                                   number=number, repeat=repeat))
            timings.extend(_certificate_class_timings(sample, data, number=number, repeat=repeat))
    return timings


def _certificate_class_timings(sample: Sample, data: bytes, *, number: int, repeat: int) -> list[Timing]:
    """``Certificate.from_bytes`` (decode, canonicalise, hash) once cert/certificate.py exists."""
    try:
        from scms_codec.cert.certificate import Certificate
    except ImportError:
        return []
    try:
        Certificate.from_bytes(data)
    except Exception:  # A sample the class refuses is not a benchmark failure; skip it.
        return []
    return [measure(f"{sample.label}: Certificate.from_bytes", lambda: Certificate.from_bytes(data),
                    number=number, repeat=repeat)]
