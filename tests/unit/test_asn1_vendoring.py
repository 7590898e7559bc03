"""The vendored ASN.1 modules are the published IEEE text plus exactly the edits PATCHES.md lists.

Proof chain: the originals in ``layers/codec/asn1-upstream`` have the git blob SHA-1s recorded in
shared/asn1/README.md; E0 normalisation (CRLF -> LF, Windows-1252 -> UTF-8) followed by
``compiled-ready.diff`` yields each vendored module once its VENDORED-HEADER block is removed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "layers" / "codec" / "asn1-upstream"
MODULES = ROOT / "layers" / "codec" / "scms_codec" / "asn1" / "modules"

# Copied from shared/asn1/README.md ("What is in ieee/ and where it came from").
UPSTREAM_BLOBS = {
    "Ieee1609Dot2.asn": "20f1fd1ba4ba7c19d3826f9dbb8374124cbfd6e1",
    "Ieee1609Dot2BaseTypes.asn": "0274949f87575f0c15a0e23ac59e1b4923306497",
    "Ieee1609Dot2Crl.asn": "875edd82107b0e756a1ea9948d9b46ee631916e9",
    "Ieee1609Dot2CrlBaseTypes.asn": "d70b46f80e78bab58609a0e99223570067ca2938",
    "Ieee1609Dot2CrlSsp.asn": "7fbcace9ca255ac239716257106e3ce9b7c6d4e0",
    "Ieee1609Dot2Peer2Peer.asn": "34c2e7da4695c14df173d4038f5181a02bcb30db",
    "EtsiTs103097ExtensionModule.asn": "a0681146f403ff64123eef7e44479be8479019d3",
    "Ieee1609Dot2Dot1Protocol.asn": "78c04891f050b66d50cae5737e502a1824f10003",
    "Ieee1609Dot2Dot1EeRaInterface.asn": "6384ae6d5685cf1ee48e5a0b1a179b4b13c7e6d1",
    "Ieee1609Dot2Dot1EcaEeInterface.asn": "c325a77b569e5b7de7aa38c14e12486ffe51259f",
    "Ieee1609Dot2Dot1AcaEeInterface.asn": "c83e0e3cb9de96163e44a9fb90d0540941b88e30",
    "Ieee1609Dot2Dot1AcaRaInterface.asn": "1235651a5a66c51472c0e7080154d6cea223449d",
    "Ieee1609Dot2Dot1AcaLaInterface.asn": "26dee6134d5a4545d2e6e0e61cfad02859592c8c",
    "Ieee1609Dot2Dot1AcaMaInterface.asn": "5a1c9fe45e6196da4bb307bd4089597fcb8368c1",
    "Ieee1609Dot2Dot1LaRaInterface.asn": "c5f819a04e9d3df1f771ff6e1f2290b99eae3497",
    "Ieee1609Dot2Dot1LaMaInterface.asn": "74959cbe316d321911a48ea6f8741694dee27f5b",
    "Ieee1609Dot2Dot1MaRaInterface.asn": "b74c2486a8bdbf1e99b7001aaeea93cc755f9ffc",
    "Ieee1609Dot2Dot1EeMaInterface.asn": "e0eebae73342f24b79a629d46911533b3195957f",
    "Ieee1609Dot2Dot1CamRaInterface.asn": "f49c3bc668ecdfecc59eb8a524493cdffe605ac2",
    "Ieee1609Dot2Dot1CertManagement.asn": "5115efebcb7251e024461bb33db57634706f37e2",
    "Ieee1609Dot2Dot1Acpc.asn": "a658f225d2cfdb107cd696a813bf2feca107498f",
}

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_HEADER_END = "-- VENDORED-HEADER-END\n"


class PatchError(Exception):
    """The diff does not apply to the text it claims to edit."""


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git's object id, not a security use


def normalise_e0(data: bytes) -> str:
    """PATCHES.md E0: CRLF -> LF and Windows-1252 -> UTF-8 (pure ASCII/UTF-8 input is unchanged)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    return text.replace("\r\n", "\n")


def parse_diff(diff: str) -> dict[str, list[tuple[int, list[str]]]]:
    """Per target file name, its hunks as (old start line, hunk body lines with their +/-/space prefix).

    Hunk bodies are read by their line counts, so a removed ASN.1 comment (``--- ...``) is never
    mistaken for a file header.
    """
    files: dict[str, list[tuple[int, list[str]]]] = {}
    current: list[tuple[int, list[str]]] | None = None
    old_left = new_left = 0
    for line in diff.splitlines():
        if old_left or new_left:
            tag = line[:1] or " "  # some tools strip the space of an empty context line
            if tag not in " +-":
                raise PatchError(f"unexpected line inside a hunk: {line!r}")
            assert current is not None
            current[-1][1].append(tag + line[1:])
            old_left -= tag != "+"
            new_left -= tag != "-"
            if old_left < 0 or new_left < 0:
                raise PatchError("hunk longer than its header says")
        elif line.startswith("+++ "):
            current = files.setdefault(Path(line[4:].strip()).name, [])
        elif (m := _HUNK.match(line)) is not None:
            if current is None:
                raise PatchError("hunk before any +++ line")
            current.append((int(m.group(1)), []))
            old_left = int(m.group(2) or 1)
            new_left = int(m.group(4) or 1)
        elif not line.startswith(("--- ", "diff ", "index ", "\\")):
            raise PatchError(f"unexpected diff line: {line!r}")
    if old_left or new_left:
        raise PatchError("diff ends inside a hunk")
    return files


def apply_hunks(text: str, hunks: list[tuple[int, list[str]]]) -> str:
    """Apply unified-diff hunks strictly: every context and removed line must match where the hunk says."""
    old = text.split("\n")
    out: list[str] = []
    cursor = 0  # index into old of the next line not yet copied
    for start, body in hunks:
        at = start - 1
        if at < cursor:
            raise PatchError(f"hunk at line {start} overlaps the previous one")
        out.extend(old[cursor:at])
        cursor = at
        for line in body:
            tag, content = line[0], line[1:]
            if tag in (" ", "-"):
                if cursor >= len(old) or old[cursor] != content:
                    found = old[cursor] if cursor < len(old) else "<end of file>"
                    raise PatchError(f"line {cursor + 1}: expected {content!r}, found {found!r}")
                if tag == " ":
                    out.append(content)
                cursor += 1
            else:
                out.append(content)
    out.extend(old[cursor:])
    return "\n".join(out)


def strip_vendored_header(text: str) -> str:
    assert text.startswith("-- VENDORED-HEADER-BEGIN\n"), "vendored module lacks its header block"
    end = text.index(_HEADER_END) + len(_HEADER_END)
    return text[end:]


def vendoring_mismatches(modules_dir: Path) -> list[str]:
    """Names of vendored modules that are not upstream + E0 + the diff (empty when all match)."""
    hunks = parse_diff((modules_dir / "compiled-ready.diff").read_text(encoding="utf-8"))
    bad = []
    for name in sorted(UPSTREAM_BLOBS):
        expected = apply_hunks(normalise_e0((UPSTREAM / name).read_bytes()), hunks.get(name, []))
        actual = strip_vendored_header((modules_dir / name).read_text(encoding="utf-8"))
        if actual != expected:
            bad.append(name)
    return bad


@pytest.mark.parametrize("name", sorted(UPSTREAM_BLOBS))
def test_upstream_original_has_the_recorded_git_blob_sha1(name: str) -> None:
    assert git_blob_sha1((UPSTREAM / name).read_bytes()) == UPSTREAM_BLOBS[name]


def test_the_upstream_and_vendored_sets_are_exactly_the_recorded_modules() -> None:
    assert {p.name for p in UPSTREAM.glob("*.asn")} == set(UPSTREAM_BLOBS)
    assert {p.name for p in MODULES.glob("*.asn")} == set(UPSTREAM_BLOBS)


def test_vendored_modules_are_upstream_after_e0_and_the_diff() -> None:
    assert vendoring_mismatches(MODULES) == []


def test_every_module_the_diff_touches_is_listed_in_patches_md() -> None:
    touched = set(parse_diff((MODULES / "compiled-ready.diff").read_text(encoding="utf-8")))
    assert touched, "the diff edits no module"
    patches = (MODULES / "PATCHES.md").read_text(encoding="utf-8")
    for name in touched:
        assert name.removesuffix(".asn") in patches, name


def test_one_altered_line_in_a_vendored_copy_is_detected(tmp_path: Path) -> None:
    # Given a copy of the vendored modules in which one line of ASN.1 differs
    copy = tmp_path / "modules"
    shutil.copytree(MODULES, copy)
    target = copy / "Ieee1609Dot2Crl.asn"
    text = target.read_text(encoding="utf-8")
    assert "SecuredCrl ::=" in text
    target.write_text(text.replace("SecuredCrl ::=", "SecuredCrl  ::=", 1), encoding="utf-8")
    # When the vendoring check runs, Then exactly that module is reported
    assert vendoring_mismatches(copy) == ["Ieee1609Dot2Crl.asn"]


def test_a_diff_whose_context_does_not_match_is_refused() -> None:
    hunks = [(2, [" b", "-c", "+C"])]
    assert apply_hunks("a\nb\nc\nd", hunks) == "a\nb\nC\nd"
    with pytest.raises(PatchError):
        apply_hunks("a\nB\nc\nd", hunks)


def test_an_altered_upstream_original_changes_its_blob_sha1() -> None:
    data = (UPSTREAM / "Ieee1609Dot2Crl.asn").read_bytes()
    flipped = bytes([data[0] ^ 1]) + data[1:]
    assert git_blob_sha1(flipped) != UPSTREAM_BLOBS["Ieee1609Dot2Crl.asn"]
