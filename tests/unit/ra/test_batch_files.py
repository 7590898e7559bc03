"""Batch file names and the zip of one i-period (protocol.md §2.3)."""

from __future__ import annotations

import io
import zipfile

import pytest
from scms_ra.batch_files import (
    BadBatchName,
    BadPeriodZip,
    BatchName,
    batch_filename,
    batch_key,
    parse_batch_filename,
    period_zip,
    read_period_zip,
)

from scms_codec.spdu.ra_ee_ack import RaEeCertInfo, build_ra_ee_cert_info

HASH = bytes.fromhex("ab09281c9867de53")
PERIOD = 0x1A
RESPONSES = {0: b"\x03\x81\x00first", 1: b"second", 2: b"third"}


def info(i: int = PERIOD, request_hash: bytes = HASH) -> RaEeCertInfo:
    return RaEeCertInfo(generation_time=700_000_000, current_i=i, request_hash=request_hash, next_dl_time=700_600_000)


def rebuild(entries: list[tuple[str, bytes]], compression: int = zipfile.ZIP_STORED) -> bytes:
    """A zip with exactly these entries (what a faulty or hostile RA could send)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, body in entries:
            archive.writestr(name, body)
    return buffer.getvalue()


def good_entries() -> list[tuple[str, bytes]]:
    return [("1a.info", build_ra_ee_cert_info(info()))] + [(f"1a_{j:x}", b) for j, b in RESPONSES.items()]


# --- names -------------------------------------------------------------------------------


def test_name_is_upper_case_hash_and_lower_case_hex_i() -> None:
    assert batch_filename(HASH, 15) == "AB09281C9867DE53_f.zip"
    assert batch_key(HASH, 15) == "batches/AB09281C9867DE53/AB09281C9867DE53_f.zip"


@pytest.mark.parametrize("i", [0, 1, 15, 16, 0x1A, 0xFFFF])
def test_name_round_trips(i: int) -> None:
    assert parse_batch_filename(batch_filename(HASH, i)) == BatchName(HASH, i)


def test_parse_accepts_either_case_and_reads_digit_only_i_as_hex() -> None:
    assert parse_batch_filename("ab09281c9867de53_F.zip") == BatchName(HASH, 15)
    assert parse_batch_filename("AB09281C9867DE53_10.zip") == BatchName(HASH, 16)  # not ten


@pytest.mark.parametrize(
    "name",
    [
        "AB09281C9867DE5_f.zip",  # 15 hash digits
        "AB09281C9867DE531_f.zip",  # 17
        "AB09281C9867DE53_.zip",
        "AB09281C9867DE53_g.zip",
        "AB09281C9867DE53_f.ZIP",
        "AB09281C9867DE53_f.zip ",
        "AB09281C9867DE53-f.zip",
        "../AB09281C9867DE53_f.zip",
        "AB09281C9867DE53_123456789.zip",  # nine i digits
        "AB09281C9867DE53_10000.zip",  # beyond Uint16
        "AB09281C9867DE53_f",
        "",
    ],
)
def test_parse_refuses_names_outside_the_grammar(name: str) -> None:
    with pytest.raises(BadBatchName):
        parse_batch_filename(name)


def test_builder_refuses_a_short_hash_and_an_i_beyond_uint16() -> None:
    with pytest.raises(ValueError):
        batch_filename(HASH[:7], 1)
    with pytest.raises(ValueError):
        batch_filename(HASH, 0x10000)


# --- the zip -----------------------------------------------------------------------------


def test_zip_has_the_info_first_then_stored_entries_in_j_order() -> None:
    data = period_zip(HASH, PERIOD, {2: RESPONSES[2], 0: RESPONSES[0], 1: RESPONSES[1]}, info())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = [e.filename for e in archive.infolist()]
        assert names == ["1a.info", "1a_0", "1a_1", "1a_2"]
        assert {e.compress_type for e in archive.infolist()} == {zipfile.ZIP_STORED}
        assert archive.read("1a.info") == build_ra_ee_cert_info(info())
        assert archive.read("1a_1") == RESPONSES[1]


def test_same_inputs_give_the_same_bytes_and_other_inputs_other_bytes() -> None:
    first = period_zip(HASH, PERIOD, RESPONSES, info())
    assert period_zip(HASH, PERIOD, dict(reversed(list(RESPONSES.items()))), info()) == first
    assert period_zip(HASH, PERIOD, {**RESPONSES, 2: b"other"}, info()) != first


def test_zip_refuses_an_info_of_another_batch() -> None:
    with pytest.raises(ValueError):
        period_zip(HASH, PERIOD, RESPONSES, info(i=PERIOD + 1))


def test_read_round_trips_what_period_zip_wrote() -> None:
    read = read_period_zip(period_zip(HASH, PERIOD, RESPONSES, info()), expected=BatchName(HASH, PERIOD))
    assert read.info == info()
    assert dict(read.responses) == RESPONSES
    assert list(read.responses) == [0, 1, 2]


def test_read_accepts_a_zip_with_exactly_the_layout() -> None:
    # Twin of the refusals below: the same construction with nothing wrong.
    assert dict(read_period_zip(rebuild(good_entries())).responses) == RESPONSES


def test_read_refuses_an_extra_entry() -> None:
    with pytest.raises(BadPeriodZip, match="readme"):
        read_period_zip(rebuild([*good_entries(), ("readme.txt", b"hi")]))


def test_read_refuses_a_compressed_entry() -> None:
    with pytest.raises(BadPeriodZip, match="compressed"):
        read_period_zip(rebuild(good_entries(), compression=zipfile.ZIP_DEFLATED))


def test_read_refuses_entries_out_of_j_order() -> None:
    entries = good_entries()
    entries[1], entries[2] = entries[2], entries[1]
    with pytest.raises(BadPeriodZip, match="order"):
        read_period_zip(rebuild(entries))


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_read_refuses_a_repeated_j() -> None:
    with pytest.raises(BadPeriodZip, match="repeated"):
        read_period_zip(rebuild([*good_entries(), ("1a_2", b"again")]))


def test_read_refuses_the_info_anywhere_but_first() -> None:
    entries = good_entries()
    with pytest.raises(BadPeriodZip, match="first entry"):
        read_period_zip(rebuild(entries[1:] + entries[:1]))


@pytest.mark.parametrize("name", ["../1a_3", "/1a_3", "x/1a_3", "1a_03", "1b_3", "1A_3 "])
def test_read_refuses_path_tricks_padding_and_foreign_periods(name: str) -> None:
    with pytest.raises(BadPeriodZip):
        read_period_zip(rebuild([*good_entries(), (name, b"x")]))


def test_read_refuses_an_info_whose_current_i_differs_from_its_name() -> None:
    with pytest.raises(BadPeriodZip, match="currentI"):
        read_period_zip(rebuild([("1b.info", build_ra_ee_cert_info(info()))]))


def test_read_refuses_a_batch_downloaded_under_another_name() -> None:
    data = period_zip(HASH, PERIOD, RESPONSES, info())
    with pytest.raises(BadPeriodZip, match="another batch"):
        read_period_zip(data, expected=BatchName(bytes(8), PERIOD))


def test_read_refuses_bytes_that_are_not_a_zip_or_an_info_that_does_not_decode() -> None:
    with pytest.raises(BadPeriodZip, match="zip"):
        read_period_zip(b"PK\x03\x04 not really")
    with pytest.raises(BadPeriodZip, match="RaEeCertInfoSpdu"):
        read_period_zip(rebuild([("1a.info", b"\x03\x80junk")]))
