"""Parsers of measured fault files: bytes in, arrays of faulty cells out.

Every parser is vectorised over the file's content (hex digits, CSV fields):
Python only loops over files and columns, and over rows when it has already
found an error and looks for the first bad line to name it.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accelsim.sram.profile import ProfileError

__all__ = [
    "ProfileImportError",
    "RawFile",
    "CellRows",
    "read_file",
    "parse_hex_name",
    "parse_map_name",
    "decode_hex_dump",
    "parse_fault_map",
    "parse_cells_csv",
    "CELLS_CSV_COLUMNS",
]

# "KC705B-0.53.bin": the voltage is the last number before the extension.
_HEX_NAME = re.compile(r"[-_](\d+(?:\.\d+)?)\.(?:bin|hex|txt)$", re.IGNORECASE)
# "fmap_sa0_v_0.70.txt": polarity and voltage, as IBM's NeuralFuse reads them.
_MAP_NAME = re.compile(r"^fmap_sa([01])_v_(\d+(?:\.\d+)?)\.txt$")

_INVALID_NIBBLE = 255
_HEX_LUT = np.full(256, _INVALID_NIBBLE, dtype=np.uint8)
_HEX_LUT[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_HEX_LUT[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_HEX_LUT[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)

_INDEX_COLUMNS = ("array", "row", "col")
CELLS_CSV_COLUMNS = (*_INDEX_COLUMNS, "v_fail_v", "fault_kind")
_OPTIONAL_COLUMNS = ("p_error",)


class ProfileImportError(ProfileError):
    """A measured file cannot be imported; the message names the file and the fix."""


@dataclass(frozen=True)
class RawFile:
    """The bytes of one input file with the provenance a profile records."""

    path: Path
    data: bytes
    sha256: str


@dataclass(frozen=True, eq=False)
class CellRows:
    """The validated rows of a cells CSV, one entry per cell.

    ``line`` holds the 1-based line number of each row (the header is line
    1), so that later checks (duplicates, geometry) can name the line.
    """

    array: np.ndarray
    row: np.ndarray
    col: np.ndarray
    v_fail_v: np.ndarray
    fault_kind: np.ndarray
    p_error: np.ndarray
    line: np.ndarray


def read_file(path):
    """Read ``path`` whole and fingerprint it.

    Raises
    ------
    ProfileImportError
        If the file does not exist, is a folder or cannot be read.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProfileImportError(f"{path}: no such file; check the path") from None
    except IsADirectoryError:
        raise ProfileImportError(f"{path}: is a folder; pass the files inside it") from None
    except OSError as exc:
        raise ProfileImportError(f"{path}: cannot be read ({exc.strerror})") from None
    return RawFile(path, data, hashlib.sha256(data).hexdigest())


def parse_hex_name(path):
    """Return ``(chip_name, vdd_v)`` of a dump named like ``KC705B-0.53.bin``."""
    name = Path(path).name
    match = _HEX_NAME.search(name)
    if match is None:
        raise ProfileImportError(
            f"{path}: no supply voltage in the file name; expected a name ending in "
            "'-<volts>.bin' such as 'KC705B-0.53.bin' (rename the file)")
    return name[:match.start()] or name, float(match.group(1))


def parse_map_name(path):
    """Return ``(fault_kind, vdd_v)`` of a map named ``fmap_sa<0|1>_v_<volts>.txt``."""
    match = _MAP_NAME.match(Path(path).name)
    if match is None:
        raise ProfileImportError(
            f"{path}: the file name gives no polarity and voltage; expected "
            "'fmap_sa0_v_<volts>.txt' or 'fmap_sa1_v_<volts>.txt' such as "
            "'fmap_sa0_v_0.70.txt' (rename the file)")
    return int(match.group(1)), float(match.group(2))


def decode_hex_dump(raw, bits_per_array):
    """Flat indices of the 0 bits of a dump of memory written all ones.

    The dump is one line of hex digits; every byte appears twice in a row (an
    artefact of the KC705 read-out) and only the first copy is kept. Bits are
    taken in the order of the hex string, most significant bit first.

    Parameters
    ----------
    raw : RawFile
        The dump.
    bits_per_array : int
        Cells per memory array; the dump must hold a whole number of arrays.

    Returns
    -------
    zero_bits : ndarray of int64
        Ascending flat indices of the cells that read 0.
    n_cells : int
        Cells in the dump (after dropping the duplicated bytes).

    Raises
    ------
    ProfileImportError
        If the dump holds a non-hex character, has a length that is not a
        whole number of arrays, or a byte differs from its copy.
    """
    chars = np.frombuffer(raw.data.rstrip(b"\r\n\t "), dtype=np.uint8)
    nibbles = _HEX_LUT[chars]
    bad = np.flatnonzero(nibbles == _INVALID_NIBBLE)
    if bad.size:
        raise ProfileImportError(
            f"{raw.path}: character {chr(chars[bad[0]])!r} at offset {bad[0]} is not a hex "
            "digit; expected one line of hex digits (0-9, a-f), as the KC705 dumps hold")
    digits_per_array = bits_per_array // 8 * 2 * 2  # 2 digits per byte, every byte twice
    if chars.size == 0 or chars.size % digits_per_array:
        raise ProfileImportError(
            f"{raw.path}: {chars.size} hex digits is not a whole number of arrays; expected "
            f"a positive multiple of {digits_per_array} ({bits_per_array} cells per array, "
            "every byte written twice); is the file truncated?")
    stored = (nibbles[0::2] << 4) | nibbles[1::2]
    kept, copy = stored[0::2], stored[1::2]
    differ = np.flatnonzero(kept != copy)
    if differ.size:
        i = differ[0]
        raise ProfileImportError(
            f"{raw.path}: byte {2 * i + 1} (0x{kept[i]:02x}) differs from its copy, byte "
            f"{2 * i + 2} (0x{copy[i]:02x}); expected every byte twice in a row, as in the "
            "KC705 read-out")
    # Faults are rare: unpack only the bytes that are not all ones.
    partial = np.flatnonzero(kept != 0xFF)
    bits = np.unpackbits(kept[partial][:, None], axis=1)
    positions = partial[:, None] * 8 + np.arange(8)
    return positions[bits == 0].astype(np.int64), kept.size * 8


def parse_fault_map(raw):
    """Boolean matrix (rows x cols) of a comma-separated 0/1 fault map.

    Raises
    ------
    ProfileImportError
        If the file is empty, rows have different lengths or an entry is not
        0 or 1.
    """
    fields, lines = _csv_fields(raw, _decode(raw), first_line=1, n_columns=None)
    invalid = (fields != "0") & (fields != "1")
    if invalid.any():
        row, col = np.argwhere(invalid)[0]
        raise ProfileImportError(
            f"{raw.path}, line {lines[row]}, column {col + 1}: {str(fields[row, col])!r} is not "
            "0 or 1; expected a comma-separated 0/1 matrix (1 = faulty cell)")
    return fields == "1"


def parse_cells_csv(raw):
    """Validated rows of a CSV with header ``array,row,col,v_fail_v,fault_kind[,p_error]``.

    Columns may come in any order; ``p_error`` defaults to 1 when absent.

    Raises
    ------
    ProfileImportError
        Naming the line and column of the first missing column, malformed
        number or out-of-range value.
    """
    text = _decode(raw)
    header_text, _, body = text.partition("\n")
    header = [name.strip() for name in header_text.split(",")]
    missing = [name for name in CELLS_CSV_COLUMNS if name not in header]
    unknown = [name for name in header if name not in CELLS_CSV_COLUMNS + _OPTIONAL_COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        problem = (f"missing column(s) {', '.join(missing)}" if missing else
                   f"unknown column(s) {', '.join(unknown)}" if unknown else "a repeated column")
        raise ProfileImportError(
            f"{raw.path}, line 1: header {header_text.strip()!r} has {problem}; expected the "
            f"header {','.join(CELLS_CSV_COLUMNS)}[,p_error]")
    if not body.strip():
        raise ProfileImportError(
            f"{raw.path}: no cell rows after the header; expected at least one cell")
    fields, lines = _csv_fields(raw, body, first_line=2, n_columns=len(header))
    columns = {name: _to_float(raw, fields[:, j], lines, name, j) for j, name in enumerate(header)}
    for name in _INDEX_COLUMNS + ("fault_kind",):
        _require(raw, columns[name], lines, name, header,
                 (columns[name] >= 0) & (columns[name] == np.round(columns[name])),
                 "a non-negative integer")
    _require(raw, columns["fault_kind"], lines, "fault_kind", header,
             columns["fault_kind"] <= 2, "0 (stuck-at-0), 1 (stuck-at-1) or 2 (flip)")
    _require(raw, columns["v_fail_v"], lines, "v_fail_v", header,
             np.isfinite(columns["v_fail_v"]) & (columns["v_fail_v"] > 0),
             "a finite voltage > 0 in volts")
    p_error = columns.get("p_error", np.ones(len(lines)))
    if "p_error" in columns:
        _require(raw, p_error, lines, "p_error", header, (p_error > 0) & (p_error <= 1),
                 "a probability in (0, 1]")
    return CellRows(
        array=columns["array"].astype(np.int64), row=columns["row"].astype(np.int64),
        col=columns["col"].astype(np.int64), v_fail_v=columns["v_fail_v"],
        fault_kind=columns["fault_kind"].astype(np.uint8), p_error=p_error, line=lines)


def _decode(raw):
    try:
        return raw.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileImportError(
            f"{raw.path}: byte {exc.start} is not text (UTF-8); expected a comma-separated "
            "text file") from None


def _csv_fields(raw, text, first_line, n_columns):
    """Stripped fields (n_rows x n_columns) of ``text`` and each row's line number."""
    lines = np.char.strip(np.array(text.splitlines(), dtype=str))
    numbers = np.arange(first_line, first_line + lines.size)
    nonblank = np.char.str_len(lines) > 0
    lines, numbers = lines[nonblank], numbers[nonblank]
    if lines.size == 0:
        raise ProfileImportError(f"{raw.path}: the file is empty; expected comma-separated rows")
    counts = np.char.count(lines, ",") + 1
    expected = counts[0] if n_columns is None else n_columns
    ragged = np.flatnonzero(counts != expected)
    if ragged.size:
        i = ragged[0]
        raise ProfileImportError(
            f"{raw.path}, line {numbers[i]}: {counts[i]} comma-separated fields; expected "
            f"{expected}, as on {'the header' if n_columns else f'line {numbers[0]}'}")
    fields = np.array(",".join(lines.tolist()).split(","), dtype=str).reshape(lines.size, expected)
    return np.char.strip(fields), numbers


def _to_float(raw, column, lines, name, j):
    try:
        return column.astype(np.float64)
    except ValueError:
        # Error path only: find the first offending row to name its line.
        for i, text in enumerate(column.tolist()):
            try:
                float(text)
            except ValueError:
                raise ProfileImportError(
                    f"{raw.path}, line {lines[i]}, column {j + 1} ({name}): {text!r} is not a "
                    "number") from None
        raise


def _require(raw, values, lines, name, header, ok, expected):
    bad = np.flatnonzero(~ok)
    if bad.size:
        i = bad[0]
        raise ProfileImportError(
            f"{raw.path}, line {lines[i]}, column {header.index(name) + 1} ({name}): "
            f"{float(values[i]):g} is out of range; expected {expected}")
