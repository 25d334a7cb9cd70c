import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from accelsim.quant.bits import (
    codes_to_words,
    pack_bits,
    unpack_bits,
    word_dtype,
    words_to_codes,
)
from accelsim.quant.scheme import SUPPORTED_BITS, QuantError


@st.composite
def words_and_bits(draw, max_dims=1):
    bits = draw(st.sampled_from(SUPPORTED_BITS))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=0, max_side=16))
    words = draw(hnp.arrays(word_dtype(bits), shape, elements=st.integers(0, 2**bits - 1)))
    return words, bits


@pytest.mark.parametrize("bits, dtype", [(2, np.uint8), (8, np.uint8), (16, np.uint16)])
def test_word_dtype(bits, dtype):
    assert word_dtype(bits) == dtype


@given(words_and_bits(max_dims=3))
def test_codes_and_words_round_trip(case):
    words, bits = case
    codes = words_to_codes(words, bits)
    assert codes.dtype == torch.int64 and codes.shape == words.shape
    back = codes_to_words(codes, bits)
    assert back.dtype == word_dtype(bits)
    np.testing.assert_array_equal(back, words)


@given(words_and_bits())
def test_pack_then_unpack_is_exact(case):
    words, bits = case
    stream = pack_bits(words, bits)
    assert stream.dtype == np.uint8 and stream.shape == (len(words) * bits,)
    assert set(np.unique(stream)) <= {0, 1}
    unpacked = unpack_bits(stream, bits)
    assert unpacked.dtype == word_dtype(bits)
    np.testing.assert_array_equal(unpacked, words)


@given(st.integers(1, 5).flatmap(lambda n: hnp.arrays(np.uint8, n * 8, elements=st.integers(0, 1))))
def test_unpack_then_pack_is_exact(stream):
    np.testing.assert_array_equal(pack_bits(unpack_bits(stream, 8), 8), stream)


@given(hnp.arrays(np.uint8, st.integers(0, 32)))
def test_pack_bits_matches_numpy_little_endian_unpackbits(words):
    np.testing.assert_array_equal(pack_bits(words, 8), np.unpackbits(words, bitorder="little"))


def test_pack_bits_is_lsb_first_per_word():
    # 1 = 0b001, 6 = 0b110: stream bit k*3 + j is bit j of word k.
    stream = pack_bits(np.array([1, 6], np.uint8), 3)
    assert stream.tolist() == [1, 0, 0, 0, 1, 1]


def test_sixteen_bit_words_keep_their_high_byte():
    words = np.array([0x8001, 0x7FFF], np.uint16)
    stream = pack_bits(words, 16)
    assert stream[15] == 1 and stream[31] == 0 and stream[:15].sum() == 1
    np.testing.assert_array_equal(unpack_bits(stream, 16), words)


@pytest.mark.parametrize(
    "codes, bits, match",
    [
        (torch.tensor([0, 16]), 4, r"\[0, 15\]"),
        (torch.tensor([-1]), 8, r"\[0, 255\]"),
        (torch.tensor([1], dtype=torch.int32), 8, "int64"),
        (np.array([1]), 8, "int64"),
        (torch.tensor([1]), 12, "bits"),
    ],
)
def test_codes_to_words_rejects_bad_input(codes, bits, match):
    with pytest.raises(QuantError, match=match):
        codes_to_words(codes, bits)


@pytest.mark.parametrize(
    "words, bits, match",
    [
        (np.array([1, 2], np.int64), None, "unsigned"),
        ([1, 2], None, "unsigned"),
        (np.array([4], np.uint8), 2, r"\[0, 3\]"),
    ],
)
def test_words_to_codes_rejects_bad_input(words, bits, match):
    with pytest.raises(QuantError, match=match):
        words_to_codes(words, bits)


@pytest.mark.parametrize(
    "words, bits, match",
    [
        (np.array([[1]], np.uint8), 8, "1-D"),
        (np.array([1], np.int8), 8, "unsigned"),
        (np.array([8], np.uint8), 3, r"\[0, 7\]"),
        (np.array([1], np.uint8), 0, "bits"),
    ],
)
def test_pack_bits_rejects_bad_input(words, bits, match):
    with pytest.raises(QuantError, match=match):
        pack_bits(words, bits)


@pytest.mark.parametrize(
    "stream, bits, match",
    [
        (np.array([1, 0, 1], np.uint8), 2, "multiple"),
        (np.array([2, 0], np.uint8), 2, "0 and 1"),
        (np.array([1, 0], np.int64), 2, "uint8"),
        (np.array([[1, 0]], np.uint8), 2, "1-D"),
    ],
)
def test_unpack_bits_rejects_bad_input(stream, bits, match):
    with pytest.raises(QuantError, match=match):
        unpack_bits(stream, bits)
