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
    Returns the sorted flipped positions and the faulty-prefix length.
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
    flips = np.sort(out[:m])
    return flips, n_faulty


@jit
def decode_flips(flips, n, data_of_pos, n_data_bits, hamming, keep_detected):
    """Decode every codeword holding a flipped bit, from its error positions.

    Parameters
    ----------
    flips : int64 array, ascending
        Stream positions of wrong stored bits; codeword ``c`` occupies
        positions ``[c * n, (c + 1) * n)``, position ``j`` in it being
        Hamming position ``j`` (0: overall parity; for parity codes, 0 is
        the parity bit and 1..N the data).
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

    Returns
    -------
    data_flips : int64 array
        Global data-bit positions that differ from the written data after
        decoding (under the policy), ascending within each codeword.
    detected : int64 array
        Codewords flagged uncorrectable.
    counts : int64 array of 4
        corrected, detected, miscorrected words, residual data bits.
    """
    big = flips.shape[0]
    data_flips = np.empty(big + big, np.int64)
    detected = np.empty(big, np.int64)
    counts = np.zeros(4, np.int64)
    nd = 0
    ndet = 0
    N = 0
    for j in range(n):
        if data_of_pos[j] >= 0:
            N += 1
    i = 0
    while i < big:
        c = flips[i] // n
        start = i
        syndrome = 0
        parity = 0
        while i < big and flips[i] // n == c:
            syndrome ^= flips[i] - c * n
            parity ^= 1
            i += 1
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
                for k in range(start, i):
                    d = data_of_pos[flips[k] - c * n]
                    if d >= 0 and c * N + d < n_data_bits:
                        data_flips[nd] = c * N + d
                        nd += 1
                        counts[3] += 1
            continue
        # Error pattern after the fix: the flips, with ``fix`` toggled.
        wrong = 0
        fixed_is_flip = False
        for k in range(start, i):
            pos = flips[k] - c * n
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
    return data_flips[:nd], detected[:ndet], counts


@jit
def read_flips_coded(data, word_bits, checks, check_of_pos, neg_v_fail_v, neg_vdd_v, positions,
                     fault_kind, errs, n, data_of_pos, n_data_bits):
    """:func:`read_flips` with each stored bit looked up in the data words or the check bytes.

    ``checks[c]`` packs codeword ``c``'s check bits (bit ``check_of_pos[j]``
    for position ``j``). Looking bits up there instead of in a one-byte-per-
    bit stream keeps the random accesses within arrays ~9x smaller, which
    stay in cache.
    """
    n_faulty = np.searchsorted(neg_v_fail_v, neg_vdd_v, side="right")
    out = np.empty(n_faulty, np.int64)
    big_n = 0
    for j in range(n):
        if data_of_pos[j] >= 0:
            big_n += 1
    m = 0
    for i in range(n_faulty):
        p = positions[i]
        c = p // n
        j = p - c * n
        d = data_of_pos[j]
        if d >= 0:
            t = c * big_n + d
            if t < n_data_bits:
                bit = (np.uint64(data[t // word_bits]) >> np.uint64(t % word_bits)) & np.uint64(1)
            else:
                bit = np.uint64(0)
        else:
            bit = (np.uint64(checks[c]) >> np.uint64(check_of_pos[j])) & np.uint64(1)
        kind = np.uint64(fault_kind[i])
        read = bit ^ np.uint64(1) if kind == FLIP else kind
        if errs[i] and read != bit:
            out[m] = p
            m += 1
    flips = np.sort(out[:m])
    return flips, n_faulty


@jit
def protected_read(data, word_bits, checks, check_of_pos, neg_v_fail_v, neg_vdd_v, positions,
                   fault_kind, errs, n, data_of_pos, n_data_bits, hamming, keep_detected):
    """:func:`read_flips_coded` then :func:`decode_flips` in one call (one dispatch per read).

    Returns ``data_flips, detected, counts, n_faulty, n_flipped``.
    """
    flips, n_faulty = read_flips_coded(data, word_bits, checks, check_of_pos, neg_v_fail_v,
                                       neg_vdd_v, positions, fault_kind, errs, n, data_of_pos,
                                       n_data_bits)
    data_flips, detected, counts = decode_flips(flips, n, data_of_pos, n_data_bits, hamming,
                                                keep_detected)
    return data_flips, detected, counts, n_faulty, flips.shape[0]
