"""Parsers of measured fault files, against plain Python/NumPy references."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim._errors import UserInputError
from accelsim.sram._readers import (
    ProfileImportError,
    decode_hex_dump,
    parse_cells_csv,
    parse_fault_map,
    parse_hex_name,
    parse_map_name,
    read_file,
)
from accelsim.sram.profile import ProfileError

BITS_PER_ARRAY = 64  # small arrays keep dumps tiny: 8 bytes, 32 hex digits each


def _dump_text(stored_bytes):
    """Hex text of ``stored_bytes`` with every byte written twice, as on the KC705."""
    return np.repeat(np.asarray(stored_bytes, np.uint8), 2).tobytes().hex().upper()


def _raw(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return read_file(path)


def _reference_zero_bits(stored_bytes):
    bits = "".join(format(int(b), "08b") for b in stored_bytes)
    return [i for i, bit in enumerate(bits) if bit == "0"]


def test_import_error_is_a_profile_error_and_user_input_error():
    assert issubclass(ProfileImportError, ProfileError)
    assert issubclass(ProfileImportError, UserInputError)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=8, max_size=32).map(lambda b: b[: len(b) // 8 * 8]),
       st.booleans())
def test_decode_hex_dump_matches_reference(tmp_path_factory, stored, lowercase):
    text = _dump_text(stored)
    raw = _raw(tmp_path_factory.mktemp("hex"), "chip-0.50.bin", text.lower() if lowercase else text)
    zero_bits, n_cells = decode_hex_dump(raw, BITS_PER_ARRAY)
    assert zero_bits.dtype == np.int64
    assert zero_bits.tolist() == _reference_zero_bits(stored)
    assert n_cells == 8 * len(stored)


def test_decode_hex_dump_accepts_a_trailing_newline(tmp_path):
    stored = [0xFF] * 7 + [0x7F]
    zero_bits, _ = decode_hex_dump(_raw(tmp_path, "c-0.5.bin", _dump_text(stored) + "\n"), 64)
    assert zero_bits.tolist() == [56]


def test_decode_hex_dump_names_a_non_hex_character(tmp_path):
    text = _dump_text([0xFF] * 8)
    text = text[:5] + "G" + text[6:]
    with pytest.raises(ProfileImportError, match=r"c-0\.5\.bin.*'G' at offset 5 is not a hex digit"):
        decode_hex_dump(_raw(tmp_path, "c-0.5.bin", text), BITS_PER_ARRAY)


@pytest.mark.parametrize("n_digits", [0, 4, 60])
def test_decode_hex_dump_refuses_a_partial_array(tmp_path, n_digits):
    with pytest.raises(ProfileImportError, match=rf"{n_digits} hex digits .* multiple of 32"):
        decode_hex_dump(_raw(tmp_path, "c-0.5.bin", "F" * n_digits), BITS_PER_ARRAY)


def test_decode_hex_dump_refuses_a_byte_unlike_its_copy(tmp_path):
    text = _dump_text([0xFF] * 8)
    text = text[:6] + "7F" + text[8:]  # second copy of the second byte
    with pytest.raises(ProfileImportError, match=r"byte 3 \(0xff\) differs from its copy, byte 4 \(0x7f\)"):
        decode_hex_dump(_raw(tmp_path, "c-0.5.bin", text), BITS_PER_ARRAY)


@pytest.mark.parametrize("name, chip, vdd_v", [
    ("KC705B-0.53.bin", "KC705B", 0.53), ("chip_0.6.hex", "chip", 0.6), ("a-b-1.BIN", "a-b", 1.0)])
def test_parse_hex_name(name, chip, vdd_v):
    assert parse_hex_name(name) == (chip, vdd_v)


@pytest.mark.parametrize("name", ["KC705B.bin", "KC705B-0.53.dat", "KC705B-.bin", "0.53.bin"])
def test_parse_hex_name_refuses_a_name_without_voltage(name):
    with pytest.raises(ProfileImportError, match=rf"{name}: no supply voltage in the file name"):
        parse_hex_name(name)


@pytest.mark.parametrize("name, key", [("fmap_sa0_v_0.70.txt", (0, 0.7)),
                                       ("fmap_sa1_v_0.8.txt", (1, 0.8))])
def test_parse_map_name(name, key):
    assert parse_map_name(name) == key


@pytest.mark.parametrize("name", ["fmap_sa2_v_0.70.txt", "fmap_sa0_0.70.txt", "map.txt"])
def test_parse_map_name_refuses_other_names(name):
    with pytest.raises(ProfileImportError, match="gives no polarity and voltage"):
        parse_map_name(name)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.data())
def test_parse_fault_map_round_trips(tmp_path_factory, rows, cols, data):
    matrix = np.array(data.draw(st.lists(st.booleans(), min_size=rows * cols, max_size=rows * cols)))
    matrix = matrix.reshape(rows, cols)
    text = "\n".join(", ".join(str(int(v)) for v in row) for row in matrix) + "\n"
    parsed = parse_fault_map(_raw(tmp_path_factory.mktemp("map"), "fmap_sa0_v_0.5.txt", text))
    assert parsed.dtype == bool
    np.testing.assert_array_equal(parsed, matrix)


@pytest.mark.parametrize("text, message", [
    ("0,1\n0,2\n", r"line 2, column 2: '2' is not 0 or 1"),
    ("0,1\n\n0,1,0\n", r"line 3: 3 comma-separated fields; expected 2, as on line 1"),
    ("", r"the file is empty"),
    ("0,1\n0,\n", r"line 2, column 2: '' is not 0 or 1"),
])
def test_parse_fault_map_names_the_bad_line(tmp_path, text, message):
    with pytest.raises(ProfileImportError, match=message):
        parse_fault_map(_raw(tmp_path, "fmap_sa0_v_0.5.txt", text))


def test_parse_cells_csv_reads_columns_in_any_order(tmp_path):
    text = "fault_kind,v_fail_v,col,row,array\n2,0.61,3,1,0\n\n0,0.55,0,0,1\n"
    rows = parse_cells_csv(_raw(tmp_path, "cells.csv", text))
    assert rows.array.tolist() == [0, 1] and rows.row.tolist() == [1, 0]
    assert rows.col.tolist() == [3, 0] and rows.v_fail_v.tolist() == [0.61, 0.55]
    assert rows.fault_kind.dtype == np.uint8 and rows.fault_kind.tolist() == [2, 0]
    assert rows.p_error.tolist() == [1.0, 1.0]
    assert rows.line.tolist() == [2, 4]


def test_parse_cells_csv_reads_p_error(tmp_path):
    text = "array,row,col,v_fail_v,fault_kind,p_error\n0,0,0,0.6,1,0.25\n"
    assert parse_cells_csv(_raw(tmp_path, "cells.csv", text)).p_error.tolist() == [0.25]


HEADER = "array,row,col,v_fail_v,fault_kind"


@pytest.mark.parametrize("text, message", [
    ("array,row,v_fail_v,fault_kind\n0,0,0.6,0\n", r"line 1: .* missing column\(s\) col"),
    (HEADER + ",colour\n0,0,0,0.6,0,1\n", r"line 1: .* unknown column\(s\) colour"),
    (HEADER + ",row\n0,0,0,0.6,0,1\n", r"line 1: .* a repeated column"),
    (HEADER + "\n", r"no cell rows after the header"),
    (HEADER + "\n0,0,0,0.6,0\n0,0,1,0.6\n", r"line 3: 4 comma-separated fields; expected 5"),
    (HEADER + "\n0,0,0,0.6,0\n0,0,x,0.6,0\n", r"line 3, column 3 \(col\): 'x' is not a number"),
    (HEADER + "\n0,0,0,0.6,3\n", r"line 2, column 5 \(fault_kind\): 3 is out of range; expected 0"),
    (HEADER + "\n0,-1,0,0.6,0\n", r"line 2, column 2 \(row\): -1 is out of range"),
    (HEADER + "\n0,0.5,0,0.6,0\n", r"line 2, column 2 \(row\): 0.5 is out of range"),
    (HEADER + "\n0,0,0,nan,0\n", r"line 2, column 4 \(v_fail_v\): nan is out of range"),
    (HEADER + "\n0,0,0,-0.6,0\n", r"column 4 \(v_fail_v\): -0.6 is out of range"),
    (HEADER + ",p_error\n0,0,0,0.6,0,0\n", r"column 6 \(p_error\): 0 is out of range; expected a probability"),
    (HEADER + ",p_error\n0,0,0,0.6,0,1.5\n", r"column 6 \(p_error\): 1.5 is out of range"),
])
def test_parse_cells_csv_names_line_and_column(tmp_path, text, message):
    with pytest.raises(ProfileImportError, match=r"cells\.csv.*" + message):
        parse_cells_csv(_raw(tmp_path, "cells.csv", text))


def test_parse_cells_csv_refuses_binary_content(tmp_path):
    with pytest.raises(ProfileImportError, match="byte 0 is not text"):
        parse_cells_csv(_raw(tmp_path, "cells.csv", b"\xff\xfe"))


def test_read_file_fingerprints_the_content(tmp_path):
    raw = _raw(tmp_path, "a.bin", b"abc")
    assert raw.data == b"abc"
    assert raw.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_read_file_names_a_missing_file_and_a_folder(tmp_path):
    with pytest.raises(ProfileImportError, match=r"nope-0\.5\.bin: no such file"):
        read_file(tmp_path / "nope-0.5.bin")
    with pytest.raises(ProfileImportError, match="is a folder"):
        read_file(tmp_path)
