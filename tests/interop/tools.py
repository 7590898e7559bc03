"""Runners for decoders nobody here wrote: Bouncy Castle's ITS OER classes (Java) and tshark's ieee1609dot2.

Both take many inputs per process start (one JVM, one tshark run) so each test module stays fast.
Install the tools with ``tests/interop/install.sh``; without them the tests skip and say so.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INSTALL_HINT = "run tests/interop/install.sh"

# Debian's libbcprov-java / libbcutil-java / libbcpkix-java 1.72 install these (symlinks to the versioned jars).
BC_JARS = (Path("/usr/share/java/bcprov.jar"), Path("/usr/share/java/bcutil.jar"), Path("/usr/share/java/bcpkix.jar"))
BC_CHECKER = HERE / "ItsOerCheck.java"

# A user DLT (147 = DLT_USER0) whose payload is handed to the dissector that tshark 4.0 registers under
# this name; it is the only ieee1609dot2 entry point it registers, so certificates travel inside a SignedData.
TSHARK_DLT = 147
TSHARK_DISSECTOR = "ieee1609dot2.data"


# --- Bouncy Castle ------------------------------------------------------------------------------------


def bc_missing() -> str | None:
    """Why the Bouncy Castle check cannot run here, or None when it can."""
    if shutil.which("javac") is None or shutil.which("java") is None:
        return f"java/javac not installed: {INSTALL_HINT}"
    missing = [str(j) for j in BC_JARS if not j.exists()]
    if missing:
        return f"Bouncy Castle jars missing ({', '.join(missing)}): {INSTALL_HINT}"
    return None


def bc_classpath(extra: Path | None = None) -> str:
    """The java classpath: the BC jars, then ``extra`` (the compiled checker)."""
    parts = [str(j) for j in BC_JARS] + ([str(extra)] if extra else [])
    return ":".join(parts)


def bc_compile(out_dir: Path) -> Path:
    """Compile ItsOerCheck.java into ``out_dir``; return the class directory."""
    subprocess.run(
        ["javac", "-nowarn", "-d", str(out_dir), "-cp", bc_classpath(), str(BC_CHECKER)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out_dir


@dataclass(frozen=True)
class BcResult:
    """What Bouncy Castle made of one input file (one JSON line of ItsOerCheck)."""

    file: str
    asn1_type: str
    ok: bool
    error: str | None = None
    trailing: int | None = None
    generic: bytes | None = None  # re-encoding of BC's untyped parse
    typed: bytes | None = None  # re-encoding of BC's typed object (Certificate / Ieee1609Dot2Data)
    summary: dict[str, Any] = field(default_factory=dict)


def bc_run(classes: Path, inputs: Sequence[tuple[str, Path]]) -> dict[str, BcResult]:
    """Run ItsOerCheck once over ``(asn1_type, path)`` pairs; results keyed by the path as given."""
    args = [f"{asn1_type}:{path}" for asn1_type, path in inputs]
    proc = subprocess.run(
        ["java", "-cp", bc_classpath(classes), "ItsOerCheck", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results: dict[str, BcResult] = {}
    for line in proc.stdout.splitlines():
        raw = json.loads(line)
        results[raw["file"]] = BcResult(
            file=raw["file"],
            asn1_type=raw["type"],
            ok=raw["ok"],
            error=raw.get("error"),
            trailing=raw.get("trailing"),
            generic=bytes.fromhex(raw["generic"]) if "generic" in raw else None,
            typed=bytes.fromhex(raw["typed"]) if "typed" in raw else None,
            summary=raw.get("summary", {}),
        )
    return results


# --- tshark -------------------------------------------------------------------------------------------


def tshark_missing() -> str | None:
    """Why the Wireshark check cannot run here, or None when it can."""
    if shutil.which("tshark") is None:
        return f"tshark not installed: {INSTALL_HINT}"
    return None


def write_pcap(path: Path, records: Sequence[bytes], linktype: int = TSHARK_DLT) -> None:
    """A classic little-endian pcap file (magic a1b2c3d4, v2.4) with one record per packet."""
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)
    body = b"".join(struct.pack("<IIII", i, 0, len(r), len(r)) + r for i, r in enumerate(records))
    path.write_bytes(header + body)


@dataclass(frozen=True)
class Field:
    """One PDML field: name, displayed value, raw value hex, position and size in the packet."""

    name: str
    show: str
    value: str
    pos: int
    size: int
    showname: str


@dataclass(frozen=True)
class Dissection:
    """tshark's reading of one packet."""

    length: int
    fields: tuple[Field, ...]
    expert: tuple[str, ...]  # expert-info messages (malformed packets and protocol errors)
    malformed: bool

    def all(self, name: str) -> list[Field]:
        """Every field called ``name``, in packet order."""
        return [f for f in self.fields if f.name == name]

    def shows(self, name: str) -> list[str]:
        """The displayed values of every field called ``name``."""
        return [f.show for f in self.all(name)]

    def top_size(self) -> int:
        """How many octets the dissector attributed to the top-level Ieee1609Dot2Data."""
        tops = self.all("ieee1609dot2.Ieee1609Dot2Data_element")
        return tops[0].size if tops else 0


def _walk(node: ET.Element) -> Iterator[ET.Element]:
    for child in node:
        yield child
        yield from _walk(child)


def tshark_dissect(work_dir: Path, records: Sequence[bytes]) -> list[Dissection]:
    """Dissect each record as an ``Ieee1609Dot2Data`` with tshark (one run, PDML output)."""
    pcap = work_dir / "records.pcap"
    write_pcap(pcap, records)
    user_dlt = f'uat:user_dlts:"User 0 (DLT={TSHARK_DLT})","{TSHARK_DISSECTOR}","0","","0",""'
    proc = subprocess.run(
        ["tshark", "-n", "-o", user_dlt, "-r", str(pcap), "-T", "pdml"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    root = ET.fromstring(proc.stdout)
    out: list[Dissection] = []
    for packet, record in zip(root.iter("packet"), records, strict=True):
        fields: list[Field] = []
        expert: list[str] = []
        malformed = False
        for node in _walk(packet):
            name = node.get("name", "")
            if name.startswith("_ws.malformed"):
                malformed = True
            if name == "_ws.expert.message":
                expert.append(node.get("show", ""))
            if node.tag == "field":
                fields.append(
                    Field(
                        name=name,
                        show=node.get("show", ""),
                        value=node.get("value", ""),
                        pos=int(node.get("pos", "0")),
                        size=int(node.get("size", "0")),
                        showname=node.get("showname", ""),
                    )
                )
        out.append(Dissection(len(record), tuple(fields), tuple(expert), malformed))
    return out


def certificate_carrier(certificate: bytes, psid: int = 35) -> bytes:
    """An ``Ieee1609Dot2Data`` signedData whose signer is ``certificate``, so the dissector reads it.

    The signature is a placeholder (the dissector does not verify); the certificate octets appear verbatim.
    """
    from scms_codec import asn1

    value = asn1.decode("Certificate", certificate)
    signed = {
        "hashId": "sha256",
        "tbsData": {"payload": {"data": {"protocolVersion": 3, "content": ("unsecuredData", b"")}},
                    "headerInfo": {"psid": psid}},
        "signer": ("certificate", [value]),
        "signature": ("ecdsaNistP256Signature", {"rSig": ("x-only", b"\x11" * 32), "sSig": b"\x22" * 32}),
    }
    carrier: bytes = asn1.encode("Ieee1609Dot2Data", {"protocolVersion": 3, "content": ("signedData", signed)})
    if certificate not in carrier:
        raise AssertionError("certificate_carrier: the certificate was re-encoded differently")
    return carrier


def first_missing(dissection: Dissection, expected: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """The first (name, raw hex) pair not found in the dissection after the previous one, or None if all are."""
    fields = iter(dissection.fields)
    for name, value in expected:
        if not any(f.name == name and f.value == value for f in fields):
            return name, value
    return None
