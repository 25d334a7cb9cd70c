"""Numba kernels of protected reads (private; wrapped in ``protection/__init__.py``).

Callers validate dtypes and shapes; the kernels trust them.

A linear code's decoder sees only the error pattern: the syndrome of a read
codeword ``c ^ e`` is the syndrome of ``e``. So a protected read needs no
dense pass: the faulty prefix of the placement gives the stored bits that
read wrong, those are grouped by codeword, and each touched codeword is
decoded from its few error positions. Codewords without a faulty cell decode
to themselves.
"""

import numpy as np

from accelsim._numba import jit
from accelsim.sram.cells import FLIP

__all__ = ["decode_flips", "protected_read", "read_flips"]

# Outcome of a codeword's decoding.
CLEAN = 0        # no error reached the data and nothing was done
CORRECTED = 1    # the decoder changed bits and the data equals the written data
DETECTED = 2     # flagged uncorrectable (the policy decides what is used)
MISCORRECTED = 3  # no flag, and the data delivered differs from the written data


@jit
def read_flips(stored, neg_v_fail_v, neg_vdd_v, positions, fault_kind, errs):
    """Stream positions of the stored bits that read wrong at ``-neg_vdd_v``, ascending.

    ``stored`` holds one bit per entry (0/1, uint8); ``positions`` is the
    placement's stream position of each footprint cell (word_bits = 1).
    Returns the flipped positions (in placement order) and the faulty-prefix length.
    """
    n_faulty = np.searchsorted(neg_v_fail_v, neg_vdd_v, side="right")
    out = np.empty(n_faulty, np.int64)
    m = 0
    for i in range(n_faulty):
        p = positions[i]
        bit = stored[p]
        kind = fault_kind[i]
        read = bit ^ 1 if kind == FLIP else kind
        if errs[i] and read != bit:
            out[m] = p
            m += 1
    return out[:m], n_faulty


@jit
def decode_flips(flips, n, data_of_pos, n_data_bits, hamming, keep_detected, head):
    """Decode every codeword holding a flipped bit, from its error positions.

    Parameters
    ----------
    flips : int64 array
        Stream positions of wrong stored bits, in any order; codeword ``c``
        occupies positions ``[c * n, (c + 1) * n)``, position ``j`` in it
        being Hamming position ``j`` (0: overall parity; for parity codes, 0
        is the parity bit and 1..N the data).
    n : int
        Codeword length.
    data_of_pos : int64 array of length n
        Data-bit index (0..N-1) held at each position, -1 for a check bit.
    n_data_bits : int
        Data bits actually stored (padding beyond is not delivered).
    hamming : bool
        True: extended Hamming SECDED; False: a single parity bit.
    keep_detected : bool
        Whether the raw data bits of a detected word are delivered (``keep``).
    head : int64 array, one entry per codeword, all -1
        Scratch (restored to -1 on return): the flips are chained per
        codeword through it, so grouping costs O(flips) with no sort.

    Returns
    -------
    data_flips : int64 array
        Global data-bit positions that differ from the written data after
        decoding (under the policy), grouped by codeword.
    detected : int64 array
        Codewords flagged uncorrectable, ascending.
    counts : int64 array of 4
        corrected, detected, miscorrected words, residual data bits.
    """
    big = flips.shape[0]
    chain = np.empty(big, np.int64)
    touched = np.empty(big, np.int64)
    n_touched = 0
    for i in range(big):
        c = flips[i] // n
        if head[c] < 0:
            touched[n_touched] = c
            n_touched += 1
        chain[i] = head[c]
        head[c] = i
    data_flips = np.empty(big + n_touched, np.int64)
    detected = np.empty(n_touched, np.int64)
    counts = np.zeros(4, np.int64)
    nd = 0
    ndet = 0
    N = 0
    for j in range(n):
        if data_of_pos[j] >= 0:
            N += 1
    for w in range(n_touched):
        c = touched[w]
        syndrome = 0
        parity = 0
        k = head[c]
        while k >= 0:
            syndrome ^= flips[k] - c * n
            parity ^= 1
            k = chain[k]
        # Decoder action: fix one position, flag, or nothing.
        fix = -1
        flag = False
        if hamming:
            if parity == 1:
                if syndrome < n:
                    fix = syndrome  # 0 is the overall parity bit itself
                else:
                    flag = True  # points outside the shortened code
            elif syndrome != 0:
                flag = True
        else:
            flag = parity == 1
        if flag:
            counts[1] += 1
            detected[ndet] = c
            ndet += 1
            if keep_detected:
                k = head[c]
                while k >= 0:
                    d = data_of_pos[flips[k] - c * n]
                    if d >= 0 and c * N + d < n_data_bits:
                        data_flips[nd] = c * N + d
                        nd += 1
                        counts[3] += 1
                    k = chain[k]
            head[c] = -1
            continue
        # Error pattern after the fix: the flips, with ``fix`` toggled.
        wrong = 0
        fixed_is_flip = False
        k = head[c]
        while k >= 0:
            pos = flips[k] - c * n
            k = chain[k]
            if pos == fix:
                fixed_is_flip = True
                continue
            d = data_of_pos[pos]
            if d >= 0 and c * N + d < n_data_bits:
                data_flips[nd] = c * N + d
                nd += 1
                wrong += 1
        if fix >= 0 and not fixed_is_flip:
            d = data_of_pos[fix]
            if d >= 0 and c * N + d < n_data_bits:
                data_flips[nd] = c * N + d
                nd += 1
                wrong += 1
        counts[3] += wrong
        if wrong > 0:
            counts[2] += 1
        elif fix >= 0:
            counts[0] += 1
        head[c] = -1
    return data_flips[:nd], np.sort(detected[:ndet]), counts


@jit
def read_flips_placed(stored_bit, neg_v_fail_v, neg_vdd_v, positions, fault_kind, errs):
    """:func:`read_flips` with the stored bit of each placement entry gathered beforehand.

    ``stored_bit[i]`` is the bit written in the cell of entry ``i`` (gathered
    once per chip), so the loop reads every array in order: a random access
    per faulty cell into a codeword stream 9x larger than the words would
    miss the cache.
    """
    n_faulty = np.searchsorted(neg_v_fail_v, neg_vdd_v, side="right")
    out = np.empty(n_faulty, np.int64)
    m = 0
    for i in range(n_faulty):
        bit = stored_bit[i]
        kind = fault_kind[i]
        read = bit ^ 1 if kind == FLIP else kind
        if errs[i] and read != bit:
            out[m] = positions[i]
            m += 1
    return out[:m], n_faulty


@jit
def protected_read(stored_bit, neg_v_fail_v, neg_vdd_v, positions, fault_kind, errs, n,
                   data_of_pos, n_data_bits, hamming, keep_detected, head):
    """:func:`read_flips_placed` then :func:`decode_flips` in one call (one dispatch per read).

    Returns ``data_flips, detected, counts, n_faulty, n_flipped``.
    """
    flips, n_faulty = read_flips_placed(stored_bit, neg_v_fail_v, neg_vdd_v, positions, fault_kind,
                                        errs)
    data_flips, detected, counts = decode_flips(flips, n, data_of_pos, n_data_bits, hamming,
                                                keep_detected, head)
    return data_flips, detected, counts, n_faulty, flips.shape[0]


@jit
def deliver(data, scratch, marker, data_flips, word_bits, detected, n_data):
    """Data words changed by ``data_flips`` and the words of ``detected`` codewords.

    ``scratch`` equals ``data`` and ``marker`` is all zero on entry and on
    return (both patched and restored), so the work grows with the flips.
    Returns ``word_index`` (ascending) and ``values`` of the words whose
    delivered value differs, and ``detected_words`` (ascending, unique): the
    data words with a bit in a detected codeword of ``n_data`` data bits.
    """
    touched = np.empty(data_flips.shape[0], np.int64)
    nt = 0
    for i in range(data_flips.shape[0]):
        t = data_flips[i]
        w = t // word_bits
        scratch[w] ^= np.uint64(1) << np.uint64(t - w * word_bits)
        if marker[w] == 0:
            marker[w] = 1
            touched[nt] = w
            nt += 1
    touched = np.sort(touched[:nt])
    keep = 0
    for i in range(nt):
        w = touched[i]
        marker[w] = 0
        if scratch[w] != data[w]:
            touched[keep] = w
            keep += 1
    index = touched[:keep].copy()
    values = np.empty(keep, data.dtype)
    for i in range(keep):
        values[i] = scratch[index[i]]
    # Restore every touched word (``touched`` was compacted in place above).
    for i in range(data_flips.shape[0]):
        w = data_flips[i] // word_bits
        scratch[w] = data[w]
    n_words = data.shape[0]
    out = np.empty(0, np.int64)
    if detected.shape[0]:
        total = 0
        for i in range(detected.shape[0]):
            first = detected[i] * n_data // word_bits
            last = min((detected[i] * n_data + n_data - 1) // word_bits, n_words - 1)
            total += last - first + 1
        out = np.empty(total, np.int64)
        m = 0
        for i in range(detected.shape[0]):
            first = detected[i] * n_data // word_bits
            last = min((detected[i] * n_data + n_data - 1) // word_bits, n_words - 1)
            for w in range(first, last + 1):
                if m == 0 or out[m - 1] != w:
                    out[m] = w
                    m += 1
        out = out[:m]
    return index, values, out
