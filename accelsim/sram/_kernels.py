"""Numba kernels of the simulated memory (private; wrapped in ``memory.py``).

Callers validate dtypes and shapes; the kernels trust them.
"""

import numpy as np

from accelsim._numba import jit
from accelsim.sram.cells import FLIP, SA0, SA1

__all__ = ["uniform_hash", "apply_faults"]

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_SHIFT_30 = np.uint64(30)
_SHIFT_27 = np.uint64(27)
_SHIFT_31 = np.uint64(31)
_SHIFT_11 = np.uint64(11)
# 53 random mantissa bits scaled to [0, 1): the standard float64 from a u64.
_TWO_POW_MINUS_53 = 2.0 ** -53


@jit
def _splitmix64(x):
    z = x + _GOLDEN_GAMMA
    z = (z ^ (z >> _SHIFT_30)) * _MIX_1
    z = (z ^ (z >> _SHIFT_27)) * _MIX_2
    return z ^ (z >> _SHIFT_31)


@jit
def uniform_hash(seed, chip, cell_index):
    """One uniform in [0, 1) per cell, a pure function of (seed, chip, cell).

    ``seed`` and ``chip`` are uint64 scalars, ``cell_index`` an int64 array.
    A counter-based hash (splitmix64, chained over the three keys) rather
    than a stateful generator, so a cell's draw does not depend on which
    other cells are drawn, or in which order.
    """
    key = _splitmix64(_splitmix64(seed) ^ chip)
    out = np.empty(cell_index.shape[0], np.float64)
    for i in range(cell_index.shape[0]):
        h = _splitmix64(key ^ np.uint64(cell_index[i]))
        out[i] = np.float64(h >> _SHIFT_11) * _TWO_POW_MINUS_53
    return out


@jit
def apply_faults(words, word_bits, fault_bits, fault_kind, errs):
    """Apply faulty cells to ``words`` in place; return the bits changed.

    ``fault_bits`` are stream positions (bit ``j`` of word ``k`` is stream
    bit ``k * word_bits + j``), ``fault_kind`` their kinds, ``errs`` whether
    each cell errs in this run. A stuck-at cell changes only a bit that
    differs from its stuck value.
    """
    flipped = 0
    for i in range(fault_bits.shape[0]):
        if not errs[i]:
            continue
        k = fault_bits[i] // word_bits
        mask = np.uint64(1) << np.uint64(fault_bits[i] % word_bits)
        word = np.uint64(words[k])
        stored = (word & mask) != 0
        kind = fault_kind[i]
        if kind == FLIP or (kind == SA0 and stored) or (kind == SA1 and not stored):
            words[k] = word ^ mask
            flipped += 1
    return flipped
