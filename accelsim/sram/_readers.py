"""Parsers of measured fault files: bytes in, arrays of faulty cells out.

Every parser is vectorised over the file's content (hex digits, CSV fields):
Python only loops over files and columns, and over rows when it has already
found an error and looks for the first bad line to name it.
"""

import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accelsim._limits import MAX_CELL_ROWS, MAX_HEX_DUMP_BYTES, MAX_LINE_BYTES
from accelsim.sram.profile import ProfileError

__all__ = [
    "ProfileImportError",
    "RawFile",
    "CellRows",
    "read_file",
    "parse_hex_name",
    "parse_map_name",
    "decode_hex_dump",
    "stream_hex_dump",
    "parse_fault_map",
    "parse_cells_csv",
    "CELLS_CSV_COLUMNS",
]

# "KC705B-0.53.bin": the voltage is the last number before the extension.
_HEX_NAME = re.compile(r"[-_](\d+(?:\.\d+)?)\.(?:bin|hex|txt)$", re.IGNORECASE)
# "fmap_sa0_v_0.70.txt": polarity and voltage, as IBM's NeuralFuse reads them.
_MAP_NAME = re.compile(r"^fmap_sa([01])_v_(\d+(?:\.\d+)?)\.txt$")

_HEX_CHUNK = 64 << 20
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
    vdd_v = float(match.group(1))
    if vdd_v <= 0:
        raise ProfileImportError(
            f"{path}: the file name gives a supply voltage of {vdd_v:g} V; expected a voltage > 0 at "
            "the end of the name such as 'KC705B-0.53.bin' (rename the file)")
    return name[:match.start()] or name, vdd_v


def parse_map_name(path):
    """Return ``(fault_kind, vdd_v)`` of a map named ``fmap_sa<0|1>_v_<volts>.txt``."""
    match = _MAP_NAME.match(Path(path).name)
    if match is None:
        raise ProfileImportError(
            f"{path}: the file name gives no polarity and voltage; expected "
            "'fmap_sa0_v_<volts>.txt' or 'fmap_sa1_v_<volts>.txt' such as "
            "'fmap_sa0_v_0.70.txt' (rename the file)")
    vdd_v = float(match.group(2))
    if vdd_v <= 0:
        raise ProfileImportError(
            f"{path}: the file name gives a supply voltage of {vdd_v:g} V; expected a voltage > 0 "
            "such as 'fmap_sa0_v_0.70.txt' (rename the file)")
    return int(match.group(1)), vdd_v


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
    decoder = _HexDecoder(raw.path, bits_per_array)
    decoder.feed(raw.data, eof=True)
    return decoder.result()


def stream_hex_dump(path, bits_per_array, chunk_bytes=_HEX_CHUNK):
    """:func:`decode_hex_dump` of a file read in chunks: memory stays O(chunk + faulty cells).

    Returns
    -------
    zero_bits, n_cells
        As :func:`decode_hex_dump`.
    raw : RawFile
        The file's path and sha256 (``data`` is empty: it was never held whole).
    """
    path = Path(path)
    size = _file_size(path)
    if size > MAX_HEX_DUMP_BYTES:
        raise ProfileImportError(f"{path}: {size} bytes exceed the limit of {MAX_HEX_DUMP_BYTES} bytes "
                                 "for one hex dump (docs/limits.md)")
    decoder = _HexDecoder(path, bits_per_array)
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while True:
                chunk = f.read(chunk_bytes)
                digest.update(chunk)
                decoder.feed(chunk, eof=not chunk)
                if not chunk:
                    break
    except OSError as exc:
        raise ProfileImportError(f"{path}: cannot be read ({exc.strerror})") from None
    zero_bits, n_cells = decoder.result()
    return zero_bits, n_cells, RawFile(path, b"", digest.hexdigest())


class _HexDecoder:
    """Decodes a hex dump fed in pieces; holds back an incomplete group and trailing blanks."""

    _BLANK = b"\r\n\t "

    def __init__(self, path, bits_per_array):
        self.path, self.bits_per_array = path, bits_per_array
        self._carry = b""
        self._offset = 0  # hex digits consumed
        self._zero_bits = []

    def feed(self, chunk, eof):
        buf = self._carry + chunk
        end = len(buf.rstrip(self._BLANK))
        if not eof:
            if len(buf) - end > (1 << 20):
                end = len(buf)  # blanks inside the dump: let the check below name them
            end -= end % 4  # whole (byte, copy) groups only
        part, self._carry = buf[:end], buf[end:]
        self._decode(part)
        if eof:
            self._carry = b""

    def _decode(self, part):
        if not part:
            return
        chars = np.frombuffer(part, dtype=np.uint8)
        nibbles = _HEX_LUT[chars]
        bad = np.flatnonzero(nibbles == _INVALID_NIBBLE)
        if bad.size:
            raise ProfileImportError(
                f"{self.path}: character {chr(chars[bad[0]])!r} at offset {self._offset + bad[0]} is not a "
                "hex digit; expected one line of hex digits (0-9, a-f), as the KC705 dumps hold")
        if chars.size % 4:
            self._offset += chars.size
            return  # the end of the file: the length check names it
        stored = (nibbles[0::2] << 4) | nibbles[1::2]
        kept, copy = stored[0::2], stored[1::2]
        differ = np.flatnonzero(kept != copy)
        first_byte = self._offset // 2
        if differ.size:
            i = differ[0]
            raise ProfileImportError(
                f"{self.path}: byte {first_byte + 2 * i + 1} (0x{kept[i]:02x}) differs from its copy, byte "
                f"{first_byte + 2 * i + 2} (0x{copy[i]:02x}); expected every byte twice in a row, as in the "
                "KC705 read-out")
        # Faults are rare: unpack only the bytes that are not all ones.
        partial = np.flatnonzero(kept != 0xFF)
        bits = np.unpackbits(kept[partial][:, None], axis=1)
        positions = (first_byte // 2 + partial[:, None]) * 8 + np.arange(8)
        self._zero_bits.append(positions[bits == 0].astype(np.int64))
        self._offset += chars.size

    def result(self):
        digits_per_array = self.bits_per_array // 8 * 2 * 2  # 2 digits per byte, every byte twice
        if self._offset == 0 or self._offset % digits_per_array:
            raise ProfileImportError(
                f"{self.path}: {self._offset} hex digits is not a whole number of arrays; expected "
                f"a positive multiple of {digits_per_array} ({self.bits_per_array} cells per array, "
                "every byte written twice); is the file truncated?")
        zero_bits = np.concatenate(self._zero_bits) if self._zero_bits else np.zeros(0, np.int64)
        return zero_bits, self._offset // 4 * 8


def _file_size(path):
    try:
        return path.stat().st_size
    except FileNotFoundError:
        raise ProfileImportError(f"{path}: no such file; check the path") from None
    except OSError as exc:
        raise ProfileImportError(f"{path}: cannot be read ({exc.strerror})") from None


def parse_fault_map(raw):
    """Boolean matrix (rows x cols) of a comma-separated 0/1 fault map.

    Raises
    ------
    ProfileImportError
        If the file is empty, rows have different lengths or an entry is not
        0 or 1.
    """
    def is_bit(text):
        return text in ("0", "1")

    problem = "is not 0 or 1; expected a comma-separated 0/1 matrix (1 = faulty cell)"
    values, _ = _csv_numbers(raw, raw.data, 1, None, _BIT_BYTES, is_bit, problem)
    if ((values != 0) & (values != 1)).any():  # "10", "00": only 0/1 bytes, but not a bit
        _name_first_bad_field(raw, raw.data, 1, is_bit, problem)
    return values == 1


def parse_cells_csv(raw):
    """Validated rows of a CSV with header ``array,row,col,v_fail_v,fault_kind[,p_error]``.

    Columns may come in any order; ``p_error`` defaults to 1 when absent.
    Parsed on the bytes in linear time; memory is proportional to the cells
    (8 bytes per field), never to the longest line.

    Raises
    ------
    ProfileImportError
        Naming the line and column of the first missing column, malformed
        number or out-of-range value.
    """
    newline = raw.data.find(b"\n")
    header_bytes, body = (raw.data, b"") if newline < 0 else (raw.data[:newline], raw.data[newline + 1:])
    if len(header_bytes) > MAX_LINE_BYTES:
        raise ProfileImportError(f"{raw.path}, line 1: {len(header_bytes)} bytes exceed the limit of "
                                 f"{MAX_LINE_BYTES} bytes per line (docs/limits.md)")
    header_text = _decode(RawFile(raw.path, header_bytes, raw.sha256))
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
    values, lines = _csv_numbers(raw, body, 2, len(header), _NUMBER_BYTES, _is_number, "is not a number",
                                 names=header)
    columns = {name: values[:, j] for j, name in enumerate(header)}
    for name in _INDEX_COLUMNS + ("fault_kind",):
        _require(raw, columns[name], lines, name, header,
                 (columns[name] >= 0) & (columns[name] <= _MAX_INDEX) & (columns[name] == np.round(columns[name])),
                 f"a non-negative integer <= {_MAX_INDEX}")
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
        col=columns["col"].astype(np.int64), v_fail_v=np.ascontiguousarray(columns["v_fail_v"]),
        fault_kind=columns["fault_kind"].astype(np.uint8), p_error=np.ascontiguousarray(p_error), line=lines)


def _decode(raw):
    try:
        return raw.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileImportError(
            f"{raw.path}: byte {exc.start} is not text (UTF-8); expected a comma-separated "
            "text file") from None


_BLANK_BYTES = np.zeros(256, bool)
_BLANK_BYTES[np.frombuffer(b" \t\r\n", np.uint8)] = True
# Integers above this would lose precision as float64 and overflow a cell index.
_MAX_INDEX = 2**40


def _csv_numbers(raw, data, first_line, n_columns, allowed, ok, problem, names=None):
    """Numbers (n_rows x n_columns, float64) of comma-separated ``data`` and each row's line number.

    Works on the bytes: line and field boundaries come from the positions of
    newlines and commas, numbers from one pass of NumPy's text parser, so
    time is linear and memory proportional to the fields (no string array
    padded to the longest line). Blank lines are skipped. Bytes outside
    ``allowed`` or fields NumPy cannot read send the error path to name the
    first field that ``ok`` refuses, with ``problem``.
    """
    buf = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(buf == 10)
    if buf.size and buf[-1] != 10:
        ends = np.append(ends, buf.size)
    starts = np.concatenate(([0], ends[:-1] + 1)) if ends.size else np.zeros(0, np.int64)
    if ends.size > MAX_CELL_ROWS:
        raise ProfileImportError(f"{raw.path}: {ends.size} lines exceed the limit of {MAX_CELL_ROWS} rows "
                                 "(docs/limits.md)")
    lengths = ends - starts
    if lengths.size and lengths.max() > MAX_LINE_BYTES:
        i = int(np.argmax(lengths))
        raise ProfileImportError(f"{raw.path}, line {first_line + i}: {int(lengths[i])} bytes exceed the "
                                 f"limit of {MAX_LINE_BYTES} bytes per line (docs/limits.md)")
    line_of_comma = np.searchsorted(ends, np.flatnonzero(buf == 44))
    counts = np.bincount(line_of_comma, minlength=ends.size) + 1
    blank = np.zeros(ends.size, bool)
    for i in np.flatnonzero(counts == 1):  # no comma: blank, or a one-column file
        blank[i] = not data[starts[i]:ends[i]].strip()
    numbers = np.arange(first_line, first_line + ends.size)[~blank]
    counts = counts[~blank]
    if numbers.size == 0:
        raise ProfileImportError(f"{raw.path}: the file is empty; expected comma-separated rows")
    expected = int(counts[0]) if n_columns is None else n_columns
    ragged = np.flatnonzero(counts != expected)
    if ragged.size:
        i = ragged[0]
        raise ProfileImportError(
            f"{raw.path}, line {numbers[i]}: {counts[i]} comma-separated fields; expected "
            f"{expected}, as on {'the header' if n_columns else f'line {numbers[0]}'}")
    if blank.any():
        keep = np.repeat(~blank, np.diff(np.append(starts, buf.size)))
        buf = buf[keep]
    text = buf.tobytes().translate(_TO_FIELDS).rstrip(b", \t")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(text, dtype=np.float64, sep=",")  # text mode: not deprecated
        except (DeprecationWarning, ValueError):
            values = None
    del text
    if values is None or values.size != numbers.size * expected or not allowed[buf].all():
        _name_first_bad_field(raw, data, first_line, ok, problem, names)
    return values.reshape(numbers.size, expected), numbers


_TO_FIELDS = bytes.maketrans(b"\n\r", b", ")
_NUMBER_BYTES = np.zeros(256, bool)
_NUMBER_BYTES[np.frombuffer(b"0123456789+-.eEinfatyINFATY, \t\r\n", np.uint8)] = True
_BIT_BYTES = np.zeros(256, bool)
_BIT_BYTES[np.frombuffer(b"01, \t\r\n", np.uint8)] = True


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _name_first_bad_field(raw, data, first_line, ok, problem, names=None):
    """Error path only: walk the lines to name the first field ``ok`` refuses."""
    for number, line in enumerate(data.split(b"\n"), start=first_line):
        text = line.decode("utf-8", errors="replace")
        if not text.strip():
            continue
        for j, field in enumerate(text.split(",")):
            if not ok(field.strip()):
                name = f" ({names[j]})" if names else ""
                raise ProfileImportError(
                    f"{raw.path}, line {number}, column {j + 1}{name}: {field.strip()!r} {problem}")
    raise ProfileImportError(f"{raw.path}: cannot be parsed as comma-separated numbers")


def _require(raw, values, lines, name, header, ok, expected):
    bad = np.flatnonzero(~ok)
    if bad.size:
        i = bad[0]
        raise ProfileImportError(
            f"{raw.path}, line {lines[i]}, column {header.index(name) + 1} ({name}): "
            f"{float(values[i]):g} is out of range; expected {expected}")
