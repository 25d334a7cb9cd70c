"""Numba kernels of the simulated memory (private; wrapped in ``memory.py``).

Callers validate dtypes and shapes; the kernels trust them.
"""

import numpy as np

from accelsim._numba import jit, prefetch
from accelsim.sram.cells import FLIP

__all__ = ["uniform_hash", "apply_faults", "read_prefix", "read_prefix_sparse", "apply_faults_range",
           "undo_faults_range", "restore_words", "read_delta", "changed_words"]

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
def apply_faults(words, n_faulty, word_index, bit_in_word, fault_kind, errs):
    """Apply the first ``n_faulty`` cells to ``words`` in place; return the bits changed.

    Cell ``i`` holds bit ``bit_in_word[i]`` (LSB = 0) of word
    ``word_index[i]``; ``fault_kind`` gives its kind and ``errs`` whether it
    errs in this run. A stuck-at cell changes only a bit that differs from
    its stuck value. Branch-free: kinds and erring flags are random, so
    branches on them would mispredict about half the time.
    """
    return apply_faults_range(words, 0, n_faulty, word_index, bit_in_word, fault_kind, errs)


@jit
def read_prefix(stored, neg_v_fail_v, neg_vdd_v, word_index, bit_in_word, fault_kind, errs):
    """Copy ``stored`` and apply the cells faulty at the supply ``-neg_vdd_v``.

    Cells are sorted by ascending ``neg_v_fail_v`` (descending fail voltage),
    so the faulty ones are the prefix with ``neg_v_fail_v <= neg_vdd_v``.
    Returns the read words, the length of that prefix and the bits changed.
    One call per read: from Python, each step would cost a dispatch.
    """
    n_faulty = np.searchsorted(neg_v_fail_v, neg_vdd_v, side="right")
    words = stored.copy()
    flipped = apply_faults(words, n_faulty, word_index, bit_in_word, fault_kind, errs)
    return words, n_faulty, flipped


@jit
def read_prefix_sparse(stored, scratch, neg_v_fail_v, neg_vdd_v, word_index, bit_in_word, fault_kind, errs):
    """The read value of every word holding a faulty cell, without copying ``stored``.

    ``scratch`` equals ``stored`` on entry and on return: the faults are
    applied to it in place, the touched words gathered, and the touched
    words restored, so the work is proportional to the faulty cells.
    Returns the word of each faulty cell as read (words holding several
    faulty cells repeat), the prefix length and the bits changed.
    """
    n_faulty = np.searchsorted(neg_v_fail_v, neg_vdd_v, side="right")
    flipped = apply_faults(scratch, n_faulty, word_index, bit_in_word, fault_kind, errs)
    values = np.empty(n_faulty, stored.dtype)
    for i in range(n_faulty):
        values[i] = scratch[word_index[i]]
    for i in range(n_faulty):
        scratch[word_index[i]] = stored[word_index[i]]
    return values, n_faulty, flipped


# Cells ahead of the current one whose words are prefetched. A read touches
# words scattered over the whole memory, mostly not in cache; prefetching lets
# the CPU wait for many of them at once instead of one after another.
# Measured on the development machine, 8,493 cells of a 1 MB memory after the
# cache was flushed: 0.26 ms one cell at a time, 0.14 ms loading blocks of 64
# words before changing them, 0.11 ms prefetching 16-32 cells ahead (8: 0.14).
_AHEAD = 24


@jit
def _prefetch_first(words, word_index, start, end):
    """Prefetch the words of the first ``_AHEAD`` cells of ``[start, end)``."""
    for i in range(start, min(end, start + _AHEAD)):
        prefetch(words, word_index[i])


@jit
def apply_faults_range(words, start, end, word_index, bit_in_word, fault_kind, errs):
    """Apply cells ``[start, end)`` to ``words`` in place; return the bits changed.

    Like :func:`apply_faults`, from cell ``start`` on: each cell holds its
    own stream bit, so cells apply independently and in any grouping.
    """
    flipped = np.uint64(0)
    _prefetch_first(words, word_index, start, end)
    for i in range(start, end):
        if i + _AHEAD < end:
            prefetch(words, word_index[i + _AHEAD])
        k = word_index[i]
        shift = np.uint64(bit_in_word[i])
        word = np.uint64(words[k])
        stored = (word >> shift) & np.uint64(1)
        kind = np.uint64(fault_kind[i])
        # SA0 and SA1 read their own number; a flip cell reads the inverse.
        read = stored ^ np.uint64(1) if kind == FLIP else kind
        changed = np.uint64(errs[i]) & (read ^ stored)
        words[k] = word ^ (changed << shift)
        flipped += changed
    return flipped


@jit
def undo_faults_range(words, stored, start, end, word_index, bit_in_word):
    """Give the bits of cells ``[start, end)`` back their stored value; return the bits changed.

    Only the cells' own bits are restored, so faults of other cells in the
    same words stay applied.
    """
    restored = np.uint64(0)
    _prefetch_first(words, word_index, start, end)
    _prefetch_first(stored, word_index, start, end)
    for i in range(start, end):
        if i + _AHEAD < end:
            prefetch(words, word_index[i + _AHEAD])
            prefetch(stored, word_index[i + _AHEAD])
        k = word_index[i]
        shift = np.uint64(bit_in_word[i])
        word = np.uint64(words[k])
        differs = ((word ^ np.uint64(stored[k])) >> shift) & np.uint64(1)
        words[k] = word ^ (differs << shift)
        restored += differs
    return restored


@jit
def restore_words(words, stored, n, word_index):
    """Copy ``stored`` into ``words`` at the words of the first ``n`` cells."""
    _prefetch_first(stored, word_index, 0, n)
    for i in range(n):
        if i + _AHEAD < n:
            prefetch(stored, word_index[i + _AHEAD])
        words[word_index[i]] = stored[word_index[i]]


@jit
def read_delta(stored, buffer, applied, neg_v_fail_v, neg_vdd_v, word_index, bit_in_word, fault_kind,
               errs):
    """Move ``buffer`` from the faults of the first ``applied`` cells to those faulty at ``-neg_vdd_v``.

    ``buffer`` holds ``stored`` with cells ``[0, applied)`` applied. Faults
    are nested, so going down in voltage applies the cells between the two
    prefixes and going up restores their bits. Returns the new prefix
    length and the signed change of the flipped-bit count.
    """
    n_faulty = np.searchsorted(neg_v_fail_v, neg_vdd_v, side="right")
    if n_faulty >= applied:
        delta = np.int64(apply_faults_range(buffer, applied, n_faulty, word_index, bit_in_word,
                                            fault_kind, errs))
    else:
        delta = -np.int64(undo_faults_range(buffer, stored, n_faulty, applied, word_index, bit_in_word))
    return n_faulty, delta


@jit
def changed_words(n_faulty, rank, word_index, stored, bit_in_word, fault_kind, errs):
    """The words the cells of rank ``< n_faulty`` change and their read values, touching only those words.

    The cells come grouped by word, words ascending: ``rank`` is each
    cell's position in fail order (cells of rank ``n_faulty`` or more are
    not faulty and are skipped), the other arrays its word, that word's
    stored value, and the cell's bit, kind and erring flag. Each cell holds its own bit of its word, so the cells of a
    word apply in any order, as in :func:`apply_faults_range`. Returns the
    changed words (int64, ascending), their read values and the bits
    changed.
    """
    out_index = np.empty(n_faulty, np.int64)
    out_words = np.empty(n_faulty, stored.dtype)
    n = 0
    flipped = np.uint64(0)
    current = np.int64(-1)
    old = np.uint64(0)
    word = np.uint64(0)
    for i in range(rank.shape[0]):
        if rank[i] >= n_faulty:
            continue
        k = np.int64(word_index[i])
        if k != current:
            if word != old:
                out_index[n] = current
                out_words[n] = word
                n += 1
            current = k
            old = np.uint64(stored[i])
            word = old
        shift = np.uint64(bit_in_word[i])
        bit = (word >> shift) & np.uint64(1)
        kind = np.uint64(fault_kind[i])
        read = bit ^ np.uint64(1) if kind == FLIP else kind
        changed = np.uint64(errs[i]) & (read ^ bit)
        word ^= changed << shift
        flipped += changed
    if word != old:
        out_index[n] = current
        out_words[n] = word
        n += 1
    return out_index[:n], out_words[:n], flipped
