"""Number formats of the second wave: integer codes with per-channel or per-group scales,
floating point storage and block floating point.

Each format turns one float tensor into the exact words written to the weight
memory (codes *and*, where the format has them, per-group scales, zero points
or shared exponents), and turns words read back, possibly faulty, into the
float32 values the engine computes with. Names (``../shared/DESIGN.md``):

=============  ==========  =================================================================
name           word bits   stored per tensor (in this order)
=============  ==========  =================================================================
``int8``       8           codes: per output channel symmetric, two's complement
``int4``       4           (scales stay in the controller, as for the fixed-point presets)
``int8-gG``    8           codes (unsigned, asymmetric, G in 32/64/128 along the input
``int4-gG``    4           dimension), then one zero-point word per group, then each group's
                           FP16 scale split into 16/bits words, low bits first
``fp16``       16          IEEE binary16 bit patterns (torch.float16)
``bf16``       16          bfloat16 bit patterns (torch.bfloat16)
``fp8-e4m3``   8           torch.float8_e4m3fn bit patterns (no inf; NaN = S.1111.111)
``fp8-e5m2``   8           torch.float8_e5m2 bit patterns (IEEE-like inf and NaN)
``bfp-B``      8           sign-magnitude mantissas (bit 7 sign, bits 0-6 magnitude) of each
                           block of B in 16/32, then one 8-bit shared exponent per block
=============  ==========  =================================================================

Groups and blocks run along the input dimension: a tensor of two or more
dimensions is read as rows (dim 0) of ``prod(shape[1:])`` values, a vector as
one row. **A group (or block) size that does not divide the row is padded**:
the last group of each row is filled up with zeros, which are stored (they
take cells and can be hit by faults, like the padding of a real memory
layout) and dropped when decoding.

Values: ``int8-gG`` decodes ``(q - z) * s`` with ``s`` the FP16 scale read
from memory (computed in float32); ``fp*`` formats decode exactly as torch
does (``w.to(dtype).float()``); ``bfp`` decodes ``(-1)**sign * m * 2**(E -
133)`` (bias 127, 6 fraction bits), in float64 then rounded once to float32.
A flipped exponent bit can make a weight (or a scale) infinite or NaN; the
engine propagates them as the hardware would and counts them.
"""

import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from accelsim.quant.scheme import QuantError, get_scheme

__all__ = ["FORMAT_NAMES", "NumberFormat", "FormatStore", "resolve_scheme", "is_format_name"]

SCHEMA_VERSION = 1
GROUP_SIZES = (32, 64, 128)
BLOCK_SIZES = (16, 32)
FORMAT_NAMES = (
    "int8", "int4",
    *(f"int{b}-g{g}" for b in (8, 4) for g in GROUP_SIZES),
    "fp16", "bf16", "fp8-e4m3", "fp8-e5m2",
    *(f"bfp-{b}" for b in BLOCK_SIZES),
)
_FLOAT_DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp8-e4m3": "float8_e4m3fn",
                 "fp8-e5m2": "float8_e5m2"}
_NAME = re.compile(r"^(?:int(?P<ibits>[48])(?:-g(?P<group>\d+))?|bfp-(?P<block>\d+)|(?P<float>fp16|bf16|fp8-e4m3|fp8-e5m2))$")
_BFP_BIAS = 127
_BFP_FRACTION_BITS = 6
_BFP_MAX_MANTISSA = 127


def is_format_name(name):
    """True when ``name`` is one of :data:`FORMAT_NAMES`."""
    return isinstance(name, str) and name in FORMAT_NAMES


def resolve_scheme(name_or_scheme, bits=None):
    """A :class:`NumberFormat` for a format name, else :func:`accelsim.quant.get_scheme`'s answer.

    Parameters
    ----------
    name_or_scheme : str, NumberFormat or QuantScheme
    bits : int, optional
        Only for the fixed-point presets; a format fixes its own width.
    """
    if isinstance(name_or_scheme, NumberFormat):
        fmt = name_or_scheme
    elif isinstance(name_or_scheme, str) and _NAME.match(name_or_scheme):
        fmt = NumberFormat(name_or_scheme)  # an unsupported group or block size says so
    else:
        try:
            return get_scheme(name_or_scheme, bits)
        except QuantError:
            raise QuantError(
                f"unknown quantization scheme {name_or_scheme!r}; expected a preset (global, normal, "
                f"asymmetric, unsigned, rquant) or a format ({', '.join(FORMAT_NAMES)})") from None
    if bits is not None and bits != fmt.bits:
        raise QuantError(f"scheme {fmt.name!r} stores {fmt.bits}-bit words; bits = {bits!r} cannot change it "
                         "(choose another format name)")
    return fmt


@dataclass(frozen=True)
class NumberFormat:
    """One storage format, by name (see the module docstring).

    Parameters
    ----------
    name : str
        One of :data:`FORMAT_NAMES`.
    """

    name: str

    def __post_init__(self):
        match = _NAME.match(self.name) if isinstance(self.name, str) else None
        if match is None or self.name not in FORMAT_NAMES:
            if match is not None and match["group"]:
                raise QuantError(f"scheme {self.name!r}: group size {match['group']} is not supported; "
                                 f"expected one of {', '.join(map(str, GROUP_SIZES))}")
            if match is not None and match["block"]:
                raise QuantError(f"scheme {self.name!r}: block size {match['block']} is not supported; "
                                 f"expected one of {', '.join(map(str, BLOCK_SIZES))}")
            raise QuantError(f"number format {self.name!r} is unknown; expected one of {', '.join(FORMAT_NAMES)}")
        if self.kind == "float":
            dtype_name = _FLOAT_DTYPES[self.name]
            if not hasattr(torch, dtype_name):
                raise QuantError(f"scheme {self.name!r} needs torch.{dtype_name}, which this torch "
                                 f"({torch.__version__}) lacks; use torch >= 2.1 or another format")

    @property
    def kind(self):
        """``channel``, ``group``, ``float`` or ``bfp``."""
        if self.name.startswith("bfp"):
            return "bfp"
        if self.name in _FLOAT_DTYPES:
            return "float"
        return "group" if "-g" in self.name else "channel"

    @property
    def bits(self):
        """Bits per memory word."""
        if self.kind in ("channel", "group"):
            return int(self.name[3])
        if self.name in ("fp16", "bf16"):
            return 16
        return 8

    @property
    def group_size(self):
        """Values per group (``int*-gG``) or block (``bfp-B``), else None."""
        if self.kind == "group":
            return int(self.name.rpartition("g")[2])
        if self.kind == "bfp":
            return int(self.name[4:])
        return None

    @property
    def torch_dtype(self):
        """The torch dtype of a floating point format (None otherwise)."""
        return getattr(torch, _FLOAT_DTYPES[self.name]) if self.kind == "float" else None

    @property
    def word_dtype(self):
        """numpy dtype of the memory words."""
        return np.dtype(np.uint16) if self.bits == 16 else np.dtype(np.uint8)

    def with_bits(self, bits):
        """Formats fix their width: ``bits`` must equal :attr:`bits`."""
        return resolve_scheme(self, bits)

    def to_dict(self):
        """JSON-ready dict with a schema version."""
        return {"schema_version": SCHEMA_VERSION, "format": self.name}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION or set(data) != {
                "schema_version", "format"}:
            raise QuantError(f"number format dict {data!r}; expected {{'schema_version': {SCHEMA_VERSION}, "
                             "'format': NAME}")
        return cls(data["format"])

    # -- one tensor ---------------------------------------------------------------
    def layout(self, shape):
        """``(n_code_words, n_aux_words)`` of a tensor of ``shape``.

        Aux words are the zero points and scales (``int*-gG``) or shared
        exponents (``bfp``), stored after the codes.
        """
        rows, cols = _rows_cols(shape)
        if self.kind in ("channel", "float"):
            return rows * cols, 0
        groups = -(-cols // self.group_size)
        codes = rows * groups * self.group_size
        if self.kind == "bfp":
            return codes, rows * groups
        return codes, rows * groups * (1 + 16 // self.bits)

    def encode(self, tensor):
        """The words of ``tensor`` and the off-memory state decoding needs.

        Returns
        -------
        words : ndarray
            1-D, :attr:`word_dtype`, ``sum(layout(shape))`` words.
        state : Tensor or None
            Per-channel scales of ``int8``/``int4`` (float64, kept by the
            controller, never faulty); None for every other format.
        """
        values = _checked(tensor)
        if self.kind == "float":
            return _float_words(values.to(torch.float32), self.torch_dtype, self.word_dtype), None
        if self.kind == "channel":
            return _channel_encode(values, self.bits)
        rows, cols = _rows_cols(values.shape)
        padded = _padded(values.reshape(rows, cols).to(torch.float32), self.group_size)
        if self.kind == "group":
            return _group_encode(padded, self.bits), None
        return _bfp_encode(padded), None

    def decode(self, words, shape, state=None):
        """float32 values of ``words`` (as returned by :meth:`encode`, possibly faulty)."""
        words = np.ascontiguousarray(words, dtype=self.word_dtype)
        if self.kind == "float":
            return _float_values(words, self.torch_dtype).reshape(shape)
        if self.kind == "channel":
            return _channel_decode(words, self.bits, state).reshape(shape)
        rows, cols = _rows_cols(shape)
        groups = -(-cols // self.group_size)
        if self.kind == "group":
            values = _group_decode(words, self.bits, rows, groups, self.group_size)
        else:
            values = _bfp_decode(words, rows, groups, self.group_size)
        return values.reshape(rows, groups * self.group_size)[:, :cols].reshape(shape)


def _checked(tensor):
    if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
        raise QuantError(f"values to store must be a floating-point torch.Tensor, got {type(tensor).__name__}")
    flat = tensor.detach().reshape(-1)
    if not all(bool(torch.isfinite(flat[i:i + _BLOCK_VALUES]).all()) for i in range(0, flat.numel(), _BLOCK_VALUES)):
        raise QuantError("values to store hold NaN or inf; only finite weights can be stored")
    return tensor.detach()


def _rows_cols(shape):
    shape = tuple(shape)
    if len(shape) >= 2:
        return shape[0], math.prod(shape[1:])
    return 1, math.prod(shape)


def _padded(matrix, size):
    pad = (-matrix.shape[1]) % size
    if pad:
        matrix = torch.nn.functional.pad(matrix, (0, pad))
    return matrix.reshape(matrix.shape[0], -1, size)


# -- floating point -------------------------------------------------------------------
def _float_words(values, dtype, word_dtype):
    cast = values.to(dtype).contiguous()
    signed = torch.int16 if word_dtype.itemsize == 2 else torch.uint8
    return cast.view(signed).reshape(-1).numpy().view(word_dtype).copy()


def _float_values(words, dtype):
    signed = np.int16 if words.dtype.itemsize == 2 else np.uint8
    return torch.from_numpy(words.view(signed).copy()).view(dtype).to(torch.float32)


# -- per-channel integers -------------------------------------------------------------
# Rows are processed in blocks of about this many values, so that the float64
# and int64 temporaries of a 38-million-value embedding table stay small.
_BLOCK_VALUES = 1 << 20


def _row_blocks(rows, cols):
    step = max(1, _BLOCK_VALUES // max(cols, 1))
    return [(r, min(r + step, rows)) for r in range(0, rows, step)]


def _channel_encode(values, bits):
    rows, cols = _rows_cols(values.shape)
    matrix = values.reshape(rows, cols)
    top = 2 ** (bits - 1) - 1
    peak = torch.empty(rows, 1, dtype=matrix.dtype)
    for lo, hi in _row_blocks(rows, cols):  # no |matrix| of the whole tensor (411 MB for VGG-11's first FC)
        peak[lo:hi] = matrix[lo:hi].abs().amax(dim=1, keepdim=True)
    scale = (peak.to(torch.float64) / top).clamp_min(float(torch.finfo(torch.float32).eps))
    words = np.empty(rows * cols, dtype=np.uint8)
    for lo, hi in _row_blocks(rows, cols):
        levels = torch.round(matrix[lo:hi].to(torch.float64) / scale[lo:hi]).clamp(-top, top).to(torch.int64)
        words[lo * cols:hi * cols] = (levels & (2**bits - 1)).reshape(-1).numpy()
    return words, scale


def _channel_decode(words, bits, scale):
    rows = scale.shape[0]
    cols = len(words) // rows
    out = torch.empty(rows, cols, dtype=torch.float32)
    if cols >= 2**bits:
        # Rows longer than the code book: each row's 2**bits values (the same float64 product,
        # rounded once) looked up by code, 2-3x faster than the arithmetic below.
        book = torch.arange(2**bits, dtype=torch.int64)
        book = book - ((book >> (bits - 1)) << bits)
        for lo, hi in _row_blocks(rows, cols):
            table = (book * scale[lo:hi]).to(torch.float32)
            codes = torch.from_numpy(words[lo * cols:hi * cols].astype(np.int64)).reshape(hi - lo, cols)
            torch.gather(table, 1, codes, out=out[lo:hi])
        return out
    for lo, hi in _row_blocks(rows, cols):
        codes = torch.from_numpy(words[lo * cols:hi * cols].astype(np.int64)).reshape(hi - lo, cols)
        levels = codes - ((codes >> (bits - 1)) << bits)
        out[lo:hi] = (levels * scale[lo:hi]).to(torch.float32)
    return out


# -- per-group integers ---------------------------------------------------------------
_FP16_TINY = float(torch.finfo(torch.float16).smallest_normal) * 2.0**-10  # the smallest subnormal


def _group_encode(groups, bits):
    """groups: (rows, n_groups, G) float32 -> codes, zero points, FP16 scales as words."""
    top = 2**bits - 1
    lo = groups.amin(dim=2).clamp_max(0.0)
    hi = groups.amax(dim=2).clamp_min(0.0)
    # The scale is rounded to FP16 first, so codes are chosen for the scale the
    # hardware will read back; a zero-width group keeps the smallest subnormal.
    scale = ((hi - lo) / top).to(torch.float16).clamp_min(_FP16_TINY).to(torch.float32)
    if not bool(torch.isfinite(scale).all()):
        raise QuantError(f"a group's range {float((hi - lo).max()):.3g} overflows its FP16 scale "
                         "(max 65504 per step); weights this large need fp32 storage")
    zero = torch.round(-lo / scale).clamp(0, top)
    codes = torch.round(groups / scale[..., None] + zero[..., None]).clamp(0, top).to(torch.int64)
    scale_bits = scale.to(torch.float16).view(torch.int16).to(torch.int64) & 0xFFFF
    chunks = 16 // bits
    shifts = torch.arange(chunks, dtype=torch.int64) * bits
    scale_words = (scale_bits.reshape(-1, 1) >> shifts) & top
    return np.concatenate([codes.reshape(-1).numpy(), zero.to(torch.int64).reshape(-1).numpy(),
                           scale_words.reshape(-1).numpy()]).astype(np.uint8)


def _group_decode(words, bits, rows, n_groups, size):
    n_codes, n = rows * n_groups * size, rows * n_groups
    chunks = 16 // bits
    codes = torch.from_numpy(words[:n_codes].astype(np.int32)).reshape(rows, n_groups, size)
    zero = torch.from_numpy(words[n_codes:n_codes + n].astype(np.int32)).reshape(rows, n_groups, 1)
    parts = words[n_codes + n:].astype(np.uint16).reshape(n, chunks)
    shifts = (np.arange(chunks, dtype=np.uint16) * bits)
    scale_bits = np.bitwise_or.reduce(parts << shifts, axis=1).astype(np.uint16)
    scale = torch.from_numpy(scale_bits.view(np.int16).copy()).view(torch.float16).to(torch.float32)
    return (codes - zero).to(torch.float32) * scale.reshape(rows, n_groups, 1)


# -- block floating point -------------------------------------------------------------
def _bfp_encode(blocks):
    """blocks: (rows, n_blocks, B) float32 -> sign-magnitude mantissas, then exponents."""
    values = blocks.to(torch.float64)
    top = values.abs().amax(dim=2)
    _, exponent = torch.frexp(top)  # top = f * 2**exponent, f in [0.5, 1)
    stored = (exponent.to(torch.int64) - 1 + _BFP_BIAS).clamp(0, 255)
    stored = torch.where(top > 0, stored, torch.zeros_like(stored))
    step = torch.ldexp(torch.ones_like(values[..., 0]), stored - _BFP_BIAS - _BFP_FRACTION_BITS)
    magnitude = torch.round(values.abs() / step[..., None]).clamp(0, _BFP_MAX_MANTISSA).to(torch.int64)
    mantissa = magnitude | ((values < 0).to(torch.int64) << 7)
    return np.concatenate([mantissa.reshape(-1).numpy(), stored.reshape(-1).numpy()]).astype(np.uint8)


def _bfp_decode(words, rows, n_blocks, size):
    n_codes = rows * n_blocks * size
    mantissa = torch.from_numpy(words[:n_codes].astype(np.int64)).reshape(rows, n_blocks, size)
    stored = torch.from_numpy(words[n_codes:].astype(np.int64)).reshape(rows, n_blocks, 1)
    magnitude = (mantissa & _BFP_MAX_MANTISSA).to(torch.float64)
    signed = torch.where(mantissa >> 7 == 1, -magnitude, magnitude)
    return torch.ldexp(signed, stored - _BFP_BIAS - _BFP_FRACTION_BITS).to(torch.float32)


class FormatStore:
    """Every parameter tensor of a model stored in one :class:`NumberFormat`.

    Parameters
    ----------
    fmt : NumberFormat
    tensors : sequence of Tensor
        In memory order.

    Attributes
    ----------
    words : ndarray
        All tensors' words, concatenated.
    offsets : ndarray of int64
        ``offsets[i]:offsets[i+1]`` are tensor ``i``'s words.
    aux_starts : ndarray of int64
        First aux (scale, zero point, exponent) word of each tensor; its aux
        words end at the next tensor's offset.
    """

    def __init__(self, fmt, tensors):
        self.format = fmt
        self._shapes = tuple(t.shape for t in tensors)
        layouts = [fmt.layout(t.shape) for t in tensors]
        sizes = np.array([sum(layout) for layout in layouts], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.aux_starts = self.offsets[:-1] + np.asarray([layout[0] for layout in layouts], dtype=np.int64)
        # Written tensor by tensor into one array: no second copy of the words.
        self.words = np.empty(int(self.offsets[-1]), dtype=fmt.word_dtype)
        states = []
        for i, tensor in enumerate(tensors):
            words, state = fmt.encode(tensor)
            self.words[self.offsets[i]:self.offsets[i + 1]] = words
            states.append(state)
        self._states = tuple(states)

    def decode(self, index, chunk):
        """float32 values of tensor ``index`` from its words ``chunk``."""
        return self.format.decode(chunk, self._shapes[index], self._states[index])

    def aux_words(self, word_index):
        """How many of the (unique) global ``word_index`` are aux words (scales, zero points, exponents)."""
        if len(word_index) == 0 or not bool((self.aux_starts < self.offsets[1:]).any()):
            return 0
        index = np.unique(np.asarray(word_index, dtype=np.int64))
        owner = np.searchsorted(self.offsets, index, side="right") - 1
        return int(np.count_nonzero(index >= self.aux_starts[owner]))
