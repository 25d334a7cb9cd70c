"""Stored-bit flips in the memory: flip_stream_bits, count_differing_bits, read_with_flips."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.quant import pack_bits, unpack_bits
from accelsim.sram import SimulatedMemory, uniform_profile
from accelsim.sram.memory import count_differing_bits, flip_stream_bits


@st.composite
def words_and_flips(draw):
    bits = draw(st.sampled_from([3, 8, 16]))
    dtype = np.uint8 if bits <= 8 else np.uint16
    n = draw(st.integers(1, 40))
    words = np.array(draw(st.lists(st.integers(0, 2**bits - 1), min_size=n, max_size=n)), dtype=dtype)
    flips = draw(st.lists(st.integers(0, n * bits - 1), unique=True, max_size=n * bits))
    return words, bits, np.array(flips, dtype=np.int64)


@settings(max_examples=60, deadline=None)
@given(words_and_flips())
def test_flips_invert_exactly_those_stream_bits(case):
    words, bits, flips = case
    stream = pack_bits(words, bits)
    stream[flips] ^= 1
    flipped = flip_stream_bits(words, bits, flips)
    np.testing.assert_array_equal(flipped, unpack_bits(stream, bits))
    assert count_differing_bits(flipped, words) == len(flips)


def test_read_with_flips_is_a_read_of_the_flipped_words():
    profile = uniform_profile(0.05, seed=2)
    vdd_v = profile.voltage_for_ber(0.02)
    words = np.random.default_rng(0).integers(0, 256, size=3000).astype(np.uint8)
    flips = np.random.default_rng(1).choice(len(words) * 8, size=500, replace=False)
    memory = SimulatedMemory(profile, words, 8, seed=4)
    read = memory.read_with_flips(vdd_v, 3, flips)
    reference = SimulatedMemory(profile, flip_stream_bits(words, 8, flips), 8, seed=4).read(vdd_v, chip=3)
    np.testing.assert_array_equal(read.words, reference.words)
    assert read.faulty_cells == reference.faulty_cells
    assert read.flipped_bits == count_differing_bits(reference.words, words)
    np.testing.assert_array_equal(memory.words, words)  # the stored words are untouched
