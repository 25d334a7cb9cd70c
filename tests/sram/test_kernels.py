"""Each kernel of accelsim.sram._kernels against a plain NumPy reference."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from accelsim.sram import _kernels
from accelsim.sram.cells import FLIP, SA0, SA1

UINT64 = st.integers(0, 2**64 - 1)
WORD_DTYPES = st.sampled_from([np.uint8, np.uint16, np.uint32, np.uint64])


def splitmix64_reference(x):
    """splitmix64 on a uint64 array, written from its published definition."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform_hash_reference(seed, chip, cell_index):
    key = splitmix64_reference(splitmix64_reference(np.array([seed], np.uint64))
                               ^ np.uint64(chip))
    h = splitmix64_reference(key ^ cell_index.astype(np.uint64))
    return (h >> np.uint64(11)).astype(np.float64) / 2.0**53


def apply_faults_reference(words, n_faulty, k, j, fault_kind, errs):
    """Vectorised: look up the touched bits, compute read values, write back."""
    k, j, fault_kind, errs = k[:n_faulty], j[:n_faulty], fault_kind[:n_faulty], errs[:n_faulty]
    out = words.astype(np.uint64)
    stored = (out[k] >> j.astype(np.uint64)) & np.uint64(1)
    read = np.select([fault_kind == SA0, fault_kind == SA1, fault_kind == FLIP],
                     [np.zeros_like(stored), np.ones_like(stored), stored ^ np.uint64(1)])
    read = np.where(errs, read, stored)
    changed = read != stored
    np.bitwise_xor.at(out, k[changed], np.uint64(1) << j[changed].astype(np.uint64))
    return out.astype(words.dtype), int(changed.sum())


def test_splitmix64_matches_published_first_outputs():
    # Reference outputs of splitmix64 seeded with 0 (Vigna's generator: state
    # advances by the golden gamma, then mixes).
    state = np.array([0, 0x9E3779B97F4A7C15, 2 * 0x9E3779B97F4A7C15 % 2**64], np.uint64)
    expected = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert splitmix64_reference(state).tolist() == expected


@settings(deadline=None)  # the first example includes the JIT compilation
@given(UINT64, UINT64, hnp.arrays(np.int64, st.integers(0, 200),
                                  elements=st.integers(0, 2**62)))
def test_uniform_hash_matches_reference(seed, chip, cell_index):
    got = _kernels.uniform_hash(np.uint64(seed), np.uint64(chip), cell_index)
    np.testing.assert_array_equal(got, uniform_hash_reference(seed, chip, cell_index))
    assert np.all((got >= 0) & (got < 1))


@settings(deadline=None)  # the first example includes the JIT compilation
@given(UINT64, UINT64, st.integers(0, 2**40), st.integers(0, 10**6))
def test_uniform_hash_of_a_cell_ignores_the_other_cells(seed, chip, cell, other):
    alone = _kernels.uniform_hash(np.uint64(seed), np.uint64(chip), np.array([cell], np.int64))
    among = _kernels.uniform_hash(np.uint64(seed), np.uint64(chip),
                                  np.array([other, cell, other + 1], np.int64))
    assert alone[0] == among[1]


def test_uniform_hash_is_uniform_and_depends_on_every_key():
    cells = np.arange(100_000, dtype=np.int64)
    u = _kernels.uniform_hash(np.uint64(7), np.uint64(3), cells)
    # Kolmogorov-Smirnov bound at alpha = 1e-6 is about 2.7 / sqrt(n).
    ks = np.max(np.abs(np.sort(u) - (np.arange(u.size) + 0.5) / u.size))
    assert ks < 2.7 / np.sqrt(u.size)
    for seed, chip in ((8, 3), (7, 4)):
        other = _kernels.uniform_hash(np.uint64(seed), np.uint64(chip), cells)
        assert abs(np.corrcoef(u, other)[0, 1]) < 0.02
        assert np.mean(u == other) < 1e-3


@st.composite
def fault_cases(draw):
    dtype = draw(WORD_DTYPES)
    dtype_bits = np.dtype(dtype).itemsize * 8
    word_bits = draw(st.integers(1, dtype_bits))
    n_words = draw(st.integers(1, 40))
    words = draw(hnp.arrays(dtype, n_words, elements=st.integers(0, 2**word_bits - 1)))
    n_bits = n_words * word_bits
    n_faults = draw(st.integers(0, n_bits))
    fault_bits = draw(hnp.arrays(np.int64, n_faults, elements=st.integers(0, n_bits - 1),
                                 unique=True))
    fault_kind = draw(hnp.arrays(np.uint8, n_faults, elements=st.sampled_from([SA0, SA1, FLIP])))
    errs = draw(hnp.arrays(np.bool_, n_faults))
    word_index, bit_in_word = np.divmod(fault_bits, word_bits)
    word_index = word_index.astype(draw(st.sampled_from([np.int32, np.int64])))
    # Entries past the prefix must be ignored: give them random content.
    n_faulty = draw(st.integers(0, n_faults))
    return words, n_faulty, word_index, bit_in_word.astype(np.uint8), fault_kind, errs


@settings(deadline=None)  # the first example includes the JIT compilation
@given(fault_cases())
def test_apply_faults_matches_reference(case):
    words = case[0]
    expected, expected_flipped = apply_faults_reference(*case)
    got = words.copy()
    flipped = _kernels.apply_faults(got, *case[1:])
    np.testing.assert_array_equal(got, expected)
    assert flipped == expected_flipped
    # The count is exactly the bits that changed.
    changed = np.unpackbits((got ^ words).view(np.uint8)).sum()
    assert flipped == changed


@settings(deadline=None)  # the first example includes the JIT compilation
@given(fault_cases(), st.floats(0.0, 1.0), st.data())
def test_read_prefix_matches_reference(case, vdd_v, data):
    words, _, word_index, bit_in_word, fault_kind, errs = case
    fail = data.draw(hnp.arrays(np.float64, len(word_index), elements=st.sampled_from(
        [0.1, 0.3, 0.5, 0.7, 0.9])))
    order = np.argsort(-fail, kind="stable")
    word_index, bit_in_word = word_index[order], bit_in_word[order]
    fault_kind, errs, fail = fault_kind[order], errs[order], fail[order]
    stored = words.copy()
    stored.setflags(write=False)  # as the memory holds it
    got, n_faulty, flipped = _kernels.read_prefix(stored, -fail, -vdd_v, word_index,
                                                  bit_in_word, fault_kind, errs)
    expected_n = int(np.sum(fail >= vdd_v))
    expected, expected_flipped = apply_faults_reference(words, expected_n, word_index,
                                                        bit_in_word, fault_kind, errs)
    assert n_faulty == expected_n
    np.testing.assert_array_equal(got, expected)
    assert flipped == expected_flipped
    np.testing.assert_array_equal(stored, words)


@settings(deadline=None)  # the first example includes the JIT compilation
@given(fault_cases(), st.data())
def test_read_delta_moves_between_prefixes_like_fresh_reads(case, data):
    words, _, word_index, bit_in_word, fault_kind, errs = case
    fail = data.draw(hnp.arrays(np.float64, len(word_index), elements=st.sampled_from(
        [0.1, 0.3, 0.5, 0.7, 0.9])))
    order = np.argsort(-fail, kind="stable")
    word_index, bit_in_word = word_index[order], bit_in_word[order]
    fault_kind, errs, fail = fault_kind[order], errs[order], fail[order]
    stored = words.copy()
    stored.setflags(write=False)
    buffer, applied, flipped = words.copy(), 0, 0
    for vdd_v in data.draw(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5)):
        applied, delta = _kernels.read_delta(stored, buffer, applied, -fail, -vdd_v, word_index,
                                             bit_in_word, fault_kind, errs)
        flipped += int(delta)
        expected_n = int(np.sum(fail >= vdd_v))
        expected, expected_flipped = apply_faults_reference(words, expected_n, word_index,
                                                            bit_in_word, fault_kind, errs)
        assert applied == expected_n and flipped == expected_flipped
        np.testing.assert_array_equal(buffer, expected)
    _kernels.restore_words(buffer, stored, applied, word_index)
    np.testing.assert_array_equal(buffer, words)
