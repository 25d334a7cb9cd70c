"""Protected memory: codes against a dense reference decoder, policies, counters."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sram import gaussian_profile, uniform_profile
from accelsim.sram.protection import (
    ProtectedMemory,
    ProtectionError,
    _kernels,
    decode_flipped,
    encode_codewords,
    hamming_layout,
    parse_protection,
    reference_decode,
    stored_stream_bits,
)

CODES = ["secded:8", "secded:16", "secded:32", "secded:64", "parity:8", "parity:16", "parity:32",
         "parity:64"]


@pytest.mark.parametrize("name, n", [("secded:8", 13), ("secded:16", 22), ("secded:32", 39),
                                     ("secded:64", 72), ("parity:64", 65)])
def test_codeword_lengths(name, n):
    assert hamming_layout(parse_protection(name))[0] == n


@pytest.mark.parametrize("text", ["secded", "secded:12", "parity:7", "hamming:64", "msb:0", "", 3,
                                  "msb:-1", "NONE"])
def test_bad_protection_names(text):
    with pytest.raises(ProtectionError, match="protection = "):
        parse_protection(text)


def test_msb_wider_than_word_is_refused():
    with pytest.raises(ProtectionError, match="K <= 8"):
        ProtectedMemory(uniform_profile(1e-2), np.zeros(4, np.uint8), 8, "msb:9")


def test_bad_policy_is_refused():
    mem = ProtectedMemory(uniform_profile(1e-2), np.zeros(4, np.uint8), 8, "secded:8")
    with pytest.raises(ProtectionError, match="on_detect = 'drop'"):
        mem.read(1.0, on_detect="drop")


@pytest.mark.parametrize("name", CODES)
def test_encoded_codewords_decode_clean(name):
    p = parse_protection(name)
    data = np.random.default_rng(1).integers(0, 2, (300, p.data_bits)).astype(np.uint8)
    decoded, detected, corrected = reference_decode(encode_codewords(data, p), p)
    assert np.array_equal(decoded, data) and not detected.any() and not corrected.any()


@pytest.mark.parametrize("name", CODES)
@pytest.mark.parametrize("keep", [True, False])
def test_sparse_decoder_matches_dense_reference(name, keep):
    p = parse_protection(name)
    n, data_of_pos = hamming_layout(p)
    rng = np.random.default_rng(2)
    data = rng.integers(0, 2, (3000, p.data_bits)).astype(np.uint8)
    code = encode_codewords(data, p)
    errors = (rng.random(code.shape) < 0.04).astype(np.uint8)
    decoded, detected, corrected = reference_decode(code ^ errors, p)
    # Any order: the reads deliver flips in placement (fail-voltage) order.
    flips = rng.permutation(np.flatnonzero(errors.reshape(-1)).astype(np.int64))
    head = np.full(len(code), -1, np.int64)
    data_flips, det, counts = _kernels.decode_flips(flips, n, data_of_pos, data.size,
                                                    p.kind == "secded", keep, head)
    assert np.all(head == -1)  # the scratch is restored for the next read
    assert np.array_equal(det, np.flatnonzero(detected))
    wrong = (decoded != data)
    if not keep:
        wrong[detected] = False
    assert np.array_equal(np.sort(data_flips), np.flatnonzero(wrong.reshape(-1)))
    silent_wrong = wrong.any(axis=1) & ~detected
    assert counts[1] == detected.sum() and counts[2] == silent_wrong.sum()
    assert counts[0] == (corrected & ~wrong.any(axis=1) & ~detected).sum()
    assert counts[3] == wrong.sum()


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(CODES[:4]), seed=st.integers(0, 2**32 - 1),
       n_errors=st.integers(1, 2))
def test_single_errors_correct_and_double_errors_detect(name, seed, n_errors):
    p = parse_protection(name)
    n, data_of_pos = hamming_layout(p)
    rng = np.random.default_rng(seed)
    n_words = 50
    # Every codeword gets exactly n_errors distinct wrong bits.
    positions = np.stack([rng.choice(n, n_errors, replace=False) for _ in range(n_words)])
    flips = np.sort((positions + np.arange(n_words)[:, None] * n).reshape(-1)).astype(np.int64)
    data_flips, detected, counts = _kernels.decode_flips(flips, n, data_of_pos,
                                                         n_words * p.data_bits, True, True,
                                                         np.full(n_words, -1, np.int64))
    if n_errors == 1:
        assert data_flips.size == 0 and detected.size == 0 and counts[0] == n_words
    else:
        assert np.array_equal(detected, np.arange(n_words)) and counts[2] == 0


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(CODES[4:]), seed=st.integers(0, 2**32 - 1))
def test_parity_detects_every_odd_count(name, seed):
    p = parse_protection(name)
    n, data_of_pos = hamming_layout(p)
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, n, 40)
    flips = np.sort(np.concatenate([rng.choice(n, k, replace=False) + i * n
                                    for i, k in enumerate(counts)])).astype(np.int64)
    _, detected, _ = _kernels.decode_flips(flips, n, data_of_pos, 40 * p.data_bits, False, True,
                                          np.full(40, -1, np.int64))
    assert np.array_equal(detected, np.flatnonzero(counts % 2 == 1))


def _words(n=20000, bits=8, seed=0):
    return np.random.default_rng(seed).integers(0, 2**bits, n).astype(np.uint8 if bits <= 8 else np.uint16)


@pytest.mark.parametrize("name", ["secded:64", "secded:8", "parity:16", "msb:2", "msb:3:tmr"])
def test_read_delivers_written_words_at_nominal(name):
    profile = uniform_profile(1e-2)
    mem = ProtectedMemory(profile, _words(), 8, name)
    read = mem.read(profile.vdd_nominal_v)
    assert read.faulty_cells == 0 and read.word_index.size == 0 and read.residual_flipped_bits == 0


@pytest.mark.parametrize("name", ["secded:64", "secded:16", "parity:8", "msb:2", "msb:3:tmr"])
@pytest.mark.parametrize("on_detect", ["keep", "zero"])
def test_protected_read_matches_dense_decode_of_a_full_read(name, on_detect):
    """The sparse protected read equals decoding every codeword of the dense faulty array."""
    profile = uniform_profile(1e-2)
    words = _words(5000, 6)
    mem = ProtectedMemory(profile, words, 6, name)
    vdd = profile.voltage_for_ber(5e-3)
    read = mem.read(vdd, chip=3, on_detect=on_detect)
    raw = mem._inner.read(vdd, chip=3)
    assert read.faulty_cells == raw.faulty_cells and read.flipped_bits == raw.flipped_bits
    p = parse_protection(name)
    expected = words.copy()
    detected_words = np.empty(0, np.int64)
    if p.kind in ("secded", "parity"):
        n, _ = hamming_layout(p)
        decoded, detected, _ = reference_decode(raw.words.reshape(-1, n), p)
        bits = decoded.reshape(-1)[:words.size * 6].reshape(-1, 6).astype(np.uint8)
        delivered = (bits << np.arange(6, dtype=np.uint8)).sum(axis=1).astype(np.uint8)
        det_bits = np.repeat(detected, p.data_bits)[:words.size * 6].reshape(-1, 6).any(axis=1)
        detected_words = np.flatnonzero(det_bits)
        if on_detect == "zero":
            delivered[det_bits] = words[det_bits]  # the engine zeroes these; the memory does not
        expected = delivered
    else:
        k = p.msb_bits
        low = raw.words & np.uint8((1 << (6 - k)) - 1)
        if p.tmr:
            copies = [(raw.words.astype(np.uint32) >> s) & ((1 << k) - 1) for s in (6 - k, 6, 6 + k)]
            vote = (copies[0] & copies[1]) | (copies[0] & copies[2]) | (copies[1] & copies[2])
        else:
            vote = words.astype(np.uint32) >> (6 - k)
        expected = (low | (vote << (6 - k))).astype(np.uint8)
    differs = np.flatnonzero(expected != words)
    assert np.array_equal(read.word_index, differs)
    assert np.array_equal(read.words, expected[differs])
    assert np.array_equal(read.detected_index, detected_words)
    residual = np.unpackbits((expected ^ words)[:, None], axis=1).sum()
    assert read.residual_flipped_bits == residual


def test_check_bits_are_stored_in_the_faulty_array():
    mem = ProtectedMemory(uniform_profile(1e-2), _words(6400), 8, "secded:64")
    assert mem.stored_bits == 6400 * 8 // 64 * 72
    assert mem.nominal_bits == 0
    msb = ProtectedMemory(uniform_profile(1e-2), _words(100), 8, "msb:2")
    assert msb.stored_bits == 600 and msb.nominal_bits == 200
    tmr = ProtectedMemory(uniform_profile(1e-2), _words(100), 8, "msb:2:tmr")
    assert tmr.stored_bits == 1200


def test_triple_errors_miscorrect_like_a_hamming_decoder():
    """Three errors with odd parity: the decoder flips the bit the syndrome names."""
    p = parse_protection("secded:64")
    n, data_of_pos = hamming_layout(p)
    flips = np.array([3, 5, 9], np.int64)  # syndrome 3 ^ 5 ^ 9 = 15, a data position
    data_flips, detected, counts = _kernels.decode_flips(flips, n, data_of_pos, 64, True, True,
                                                         np.full(1, -1, np.int64))
    assert detected.size == 0 and counts[2] == 1
    assert sorted(data_flips) == sorted(data_of_pos[[3, 5, 9, 15]])


# -- the attacker's flips: into the stored cells, then the faults, then the decoder -----------


def _dense_delivery(p, words, word_bits, raw):
    """Data words and detected-word mask a dense decode of the stored array ``raw`` delivers (keep)."""
    if p.kind in ("secded", "parity"):
        n, _ = hamming_layout(p)
        decoded, detected, _ = reference_decode(raw.reshape(-1, n), p)
        bits = decoded.reshape(-1)[:words.size * word_bits].reshape(-1, word_bits).astype(np.uint8)
        delivered = (bits << np.arange(word_bits, dtype=np.uint8)).sum(axis=1).astype(np.uint8)
        det = np.repeat(detected, p.data_bits)[:words.size * word_bits].reshape(-1, word_bits).any(axis=1)
        return delivered, det
    k = p.msb_bits
    copies = [(raw.astype(np.uint32) >> s) & ((1 << k) - 1) for s in (word_bits - k, word_bits, word_bits + k)]
    vote = (copies[0] & copies[1]) | (copies[0] & copies[2]) | (copies[1] & copies[2])
    low = raw & np.uint8((1 << (word_bits - k)) - 1)
    return (low | (vote << (word_bits - k))).astype(np.uint8), np.zeros(words.size, bool)


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(["secded:64", "secded:8", "parity:16", "msb:2:tmr"]),
       seed=st.integers(0, 2**32 - 1), n_flips=st.integers(0, 60), faulty=st.booleans())
def test_flips_then_faults_then_decoder_match_a_dense_reference(name, seed, n_flips, faulty):
    """Flips land in the cells (check bits included), faults apply, the decoder decodes all of it."""
    profile = uniform_profile(1e-2, seed=seed % 7)
    words = _words(700, 6)
    p = parse_protection(name)
    mem = ProtectedMemory(profile, words, 6, p, seed=seed % 5)
    total = stored_stream_bits(words.size, 6, p)
    assert total == mem.stored_bits  # codes and TMR: the attacker's index is the faulty array's stream
    rng = np.random.default_rng(seed)
    flips = np.sort(rng.choice(total, size=n_flips, replace=False)).astype(np.int64)
    vdd = profile.voltage_for_ber(3e-3) if faulty else profile.vdd_nominal_v
    read = mem.read_with_flips(vdd, 2, flips, on_detect="keep")
    raw = mem._inner.read_with_flips(vdd, 2, flips)  # SimulatedMemory: flips, then faults
    expected, det = _dense_delivery(p, words, 6, raw.words)
    differs = np.flatnonzero(expected != words)
    assert np.array_equal(read.word_index, differs)
    assert np.array_equal(read.words, expected[differs])
    assert np.array_equal(read.detected_index, np.flatnonzero(det))
    assert read.flipped_bits == raw.flipped_bits and read.faulty_cells == raw.faulty_cells
    if not faulty:  # the same through the fault-free path
        free = decode_flipped(words, 6, p, flips, on_detect="keep")
        assert np.array_equal(free.word_index, read.word_index) and np.array_equal(free.words, read.words)
        assert free.detected_index.tolist() == read.detected_index.tolist()
        assert (free.corrected_words, free.detected_words, free.miscorrected_words,
                free.residual_flipped_bits) == (read.corrected_words, read.detected_words,
                                                read.miscorrected_words, read.residual_flipped_bits)


@pytest.mark.parametrize("name", ["secded:8", "secded:64"])
def test_one_flip_in_a_secded_codeword_is_corrected_wherever_it_lands(name):
    p = parse_protection(name)
    n, _ = hamming_layout(p)
    words = _words(64, 8)
    for position in range(n):
        for codeword in (0, 3):
            read = decode_flipped(words, 8, p, np.array([codeword * n + position]))
            assert read.word_index.size == 0 and read.corrected_words == 1 and read.residual_flipped_bits == 0


def test_two_flips_are_detected_and_three_check_bits_miscorrect_one_data_bit():
    p = parse_protection("secded:8")
    n, data_of_pos = hamming_layout(p)
    words = _words(4, 8)
    two = decode_flipped(words, 8, p, np.array([n + 3, n + 5]), on_detect="zero")
    assert two.detected_index.tolist() == [1] and two.detected_words == 1 and two.word_index.size == 0
    # Position 7 = 1 ^ 2 ^ 4: flipping those three check bits makes the decoder flip data bit at 7.
    three = decode_flipped(words, 8, p, np.array([2 * n + 1, 2 * n + 2, 2 * n + 4]))
    assert three.word_index.tolist() == [2] and three.miscorrected_words == 1
    assert int(three.words[0] ^ words[2]) == 1 << int(data_of_pos[7])


def test_parity_one_flip_detected_two_flips_pass():
    p = parse_protection("parity:8")
    words = _words(4, 8)
    one = decode_flipped(words, 8, p, np.array([9 + 4]), on_detect="keep")
    assert one.detected_index.tolist() == [1] and one.word_index.tolist() == [1]
    two = decode_flipped(words, 8, p, np.array([9 + 1, 9 + 2]))
    assert two.detected_words == 0 and two.miscorrected_words == 1 and two.word_index.tolist() == [1]


def test_msb_nominal_bits_are_attackable_and_tmr_outvotes_one_copy():
    profile = uniform_profile(1e-2)
    words = _words(50, 8)
    mem = ProtectedMemory(profile, words, 8, "msb:2")
    vdd = profile.vdd_floor_v
    base = mem.read_with_flips(vdd, 0, np.zeros(0, np.int64))
    plain = mem.read(vdd, 0)
    assert np.array_equal(base.word_index, plain.word_index) and np.array_equal(base.words, plain.words)
    flipped = mem.read_with_flips(vdd, 0, np.array([3 * 8 + 7]))  # bit 7 of word 3: nominal array
    value = dict(zip(flipped.word_index.tolist(), flipped.words.tolist(), strict=True))
    assert value[3] >> 7 == ((words[3] >> 7) ^ 1)
    width = 8 + 4
    one = decode_flipped(words, 8, "msb:2:tmr", np.array([5 * width + 8]))  # one copy of bit 6 of word 5
    assert one.word_index.size == 0 and one.corrected_words == 1
    two = decode_flipped(words, 8, "msb:2:tmr", np.array([5 * width + 8, 5 * width + 10]))
    assert two.word_index.tolist() == [5] and int(two.words[0] ^ words[5]) == 1 << 6
    assert two.miscorrected_words == 1


def test_stuck_cells_mask_the_attackers_flip():
    profile = gaussian_profile(seed=2)  # stuck-at cells
    mem = ProtectedMemory(profile, _words(4000, 8), 8, "secded:16")
    vdd = profile.vdd_floor_v
    masked = mem.masked_bits(vdd, 1)
    assert masked.size > 0
    plain = mem.read_with_flips(vdd, 1, np.zeros(0, np.int64))
    on_stuck = mem.read_with_flips(vdd, 1, masked[:5])
    assert np.array_equal(plain.words, on_stuck.words) and plain.flipped_bits == on_stuck.flipped_bits
