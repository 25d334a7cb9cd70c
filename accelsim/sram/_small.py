"""NumPy twins of two memory kernels, for small memories (private; used by ``memory.py``).

Loading Numba's compiled kernels costs a process about 50 MB of resident
memory and half a second, once. A sweep of a small model (MNIST LeNet: half a
million stored bits, tens of thousands of faulty cells) reads so few cells
that vectorised NumPy is as fast, so up to :data:`SMALL_CELLS` cells these
twins run instead, and a sweep's peak memory stays close to a plain
evaluation's. They return exactly what the Numba kernels of
:mod:`accelsim.sram._kernels` return (the same integer arithmetic; tested).
"""

import numpy as np

from accelsim.sram.cells import FLIP

__all__ = ["SMALL_CELLS", "uniform_hash", "read_prefix_sparse"]

#: Cells up to which the NumPy twins run (above: the Numba kernels).
SMALL_CELLS = 1 << 18

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_TWO_POW_MINUS_53 = 2.0 ** -53


def _splitmix64(z):
    """splitmix64 of a uint64 array, in place (wrapping arithmetic, as the kernel's)."""
    z += _GOLDEN_GAMMA
    z ^= z >> np.uint64(30)
    z *= _MIX_1
    z ^= z >> np.uint64(27)
    z *= _MIX_2
    z ^= z >> np.uint64(31)
    return z


def uniform_hash(seed, chip, cell_index):
    """:func:`accelsim.sram._kernels.uniform_hash` in NumPy."""
    key = _splitmix64(np.array([seed], dtype=np.uint64))
    key ^= np.uint64(chip)
    key = _splitmix64(key)
    h = cell_index.astype(np.uint64)
    h ^= key[0]
    h = _splitmix64(h)
    h >>= np.uint64(11)
    out = h.astype(np.float64)
    out *= _TWO_POW_MINUS_53
    return out


def read_prefix_sparse(stored, neg_v_fail_v, neg_vdd_v, word_index, bit_in_word, fault_kind, errs):
    """:func:`accelsim.sram._kernels.read_prefix_sparse` in NumPy (no scratch copy needed).

    Every cell holds its own stream bit, so the bits a word's faulty cells
    change combine into one mask per word, whatever their order.
    """
    n_faulty = int(np.searchsorted(neg_v_fail_v, neg_vdd_v, side="right"))
    index = word_index[:n_faulty]
    shift = bit_in_word[:n_faulty].astype(np.uint64)
    original = stored[index].astype(np.uint64)
    bit = (original >> shift) & np.uint64(1)
    kind = fault_kind[:n_faulty].astype(np.uint64)
    # SA0 and SA1 read their own number; a flip cell reads the inverse.
    read = np.where(kind == FLIP, bit ^ np.uint64(1), kind)
    changed = errs[:n_faulty].astype(np.uint64) & (read ^ bit)
    flipped = int(changed.sum(dtype=np.uint64))
    words, owner = np.unique(index, return_inverse=True)
    masks = np.zeros(len(words), dtype=np.uint64)
    np.bitwise_or.at(masks, owner, changed << shift)  # distinct bits: or is xor
    values = (original ^ masks[owner]).astype(stored.dtype)
    return values, n_faulty, flipped
