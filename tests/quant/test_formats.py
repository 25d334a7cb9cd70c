"""Second-wave number formats against independent references (numpy bit manipulation, torch dtypes)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.quant import QuantError, QuantScheme
from accelsim.quant.formats import FORMAT_NAMES, FormatStore, NumberFormat, resolve_scheme


def _weights(shape=(6, 70), seed=0, scale=0.3):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


# -- independent references --------------------------------------------------------
def _bf16_words_numpy(values):
    """Round-to-nearest-even float32 -> bfloat16 by bit manipulation."""
    u = values.numpy().astype(np.float32).view(np.uint32).astype(np.uint64)
    rounding = ((u >> 16) & 1) + 0x7FFF
    return ((u + rounding) >> 16).astype(np.uint16)


def _fp8_table_numpy(exponent_bits, mantissa_bits, ieee_special):
    """float64 value of each of the 256 patterns of an 8-bit float, from its fields."""
    bias = 2 ** (exponent_bits - 1) - 1
    codes = np.arange(256)
    sign = np.where(codes >> 7, -1.0, 1.0)
    e = (codes >> mantissa_bits) & (2**exponent_bits - 1)
    m = codes & (2**mantissa_bits - 1)
    normal = np.ldexp(1.0 + m / 2**mantissa_bits, e - bias)
    subnormal = np.ldexp(m / 2**mantissa_bits, 1 - bias)
    values = sign * np.where(e == 0, subnormal, normal)
    top = e == 2**exponent_bits - 1
    if ieee_special:  # e5m2: inf when the mantissa is 0, NaN otherwise
        values = np.where(top & (m == 0), sign * np.inf, values)
        values = np.where(top & (m != 0), np.nan, values)
    else:  # e4m3fn: only S.1111.111 is NaN
        values = np.where(top & (m == 2**mantissa_bits - 1), np.nan, values)
    return values


def _group_decode_numpy(words, rows, cols, group, bits):
    groups = -(-cols // group)
    n = rows * groups
    codes = words[: n * group].astype(np.float64).reshape(rows, groups, group)
    zero = words[n * group: n * group + n].astype(np.float64).reshape(rows, groups, 1)
    chunks = 16 // bits
    parts = words[n * group + n:].astype(np.uint32).reshape(n, chunks)
    scale_bits = sum(parts[:, j] << (j * bits) for j in range(chunks)).astype(np.uint16)
    scale = scale_bits.view(np.float16).astype(np.float64).reshape(rows, groups, 1)
    return ((codes - zero) * scale).astype(np.float32).reshape(rows, -1)[:, :cols]


def _bfp_decode_numpy(words, rows, cols, block):
    blocks = -(-cols // block)
    n = rows * blocks
    mant = words[: n * block].astype(np.int64).reshape(rows, blocks, block)
    exp = words[n * block:].astype(np.int64).reshape(rows, blocks, 1)
    value = np.where(mant & 0x80, -1.0, 1.0) * (mant & 0x7F) * np.power(2.0, exp - 133)
    return value.astype(np.float32).reshape(rows, -1)[:, :cols]


# -- floating point ----------------------------------------------------------------------
def test_fp16_words_are_numpy_float16_bit_patterns():
    w = _weights()
    words, _ = NumberFormat("fp16").encode(w)
    assert np.array_equal(words, w.numpy().astype(np.float16).view(np.uint16).ravel())
    every = np.arange(2**16, dtype=np.uint16)
    got = NumberFormat("fp16").decode(every, (2**16,)).numpy()
    expected = every.view(np.float16).astype(np.float32)
    assert np.array_equal(got, expected, equal_nan=True)


def test_bf16_words_round_to_nearest_even_like_bit_manipulation():
    w = torch.cat([_weights().ravel(), torch.tensor([1.00390625, 1.01171875, -3.0e-39])])
    words, _ = NumberFormat("bf16").encode(w)
    assert np.array_equal(words, _bf16_words_numpy(w))
    every = np.arange(2**16, dtype=np.uint16)
    got = NumberFormat("bf16").decode(every, (2**16,)).numpy()
    expected = (every.astype(np.uint32) << 16).view(np.float32)
    assert np.array_equal(got, expected, equal_nan=True)


@pytest.mark.parametrize("name, e, m, ieee", [("fp8-e4m3", 4, 3, False), ("fp8-e5m2", 5, 2, True)])
def test_fp8_every_pattern_decodes_like_its_fields(name, e, m, ieee):
    every = np.arange(256, dtype=np.uint8)
    got = NumberFormat(name).decode(every, (256,)).numpy().astype(np.float64)
    assert np.array_equal(got, _fp8_table_numpy(e, m, ieee), equal_nan=True)


@pytest.mark.parametrize("name", ["fp16", "bf16", "fp8-e4m3", "fp8-e5m2"])
def test_float_values_equal_torchs_own_cast(name):
    fmt = NumberFormat(name)
    w = _weights(scale=2.0)
    words, _ = fmt.encode(w)
    assert torch.equal(fmt.decode(words, w.shape), w.to(fmt.torch_dtype).float())


@pytest.mark.parametrize("name, e, m, ieee", [("fp8-e4m3", 4, 3, False), ("fp8-e5m2", 5, 2, True)])
def test_fp8_stores_a_nearest_representable_value(name, e, m, ieee):
    table = _fp8_table_numpy(e, m, ieee)
    finite = table[np.isfinite(table)]
    w = _weights(scale=3.0).ravel().double().numpy()
    words, _ = NumberFormat(name).encode(torch.from_numpy(w).float())
    distance = np.abs(table[words] - w)
    best = np.abs(finite[None, :] - w[:, None]).min(axis=1)
    assert np.all(distance <= best * (1 + 1e-12))


# -- integers with per-group scales ----------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in FORMAT_NAMES if "-g" in n])
def test_group_words_decode_like_a_numpy_reference(name):
    fmt = NumberFormat(name)
    w = _weights((5, 200))
    words, _ = fmt.encode(w)
    reference = _group_decode_numpy(words, 5, 200, fmt.group_size, fmt.bits)
    assert np.array_equal(fmt.decode(words, w.shape).numpy(), reference)
    # Every value is within half a step of its weight (the FP16 scale's step).
    n_codes = fmt.layout(w.shape)[0]
    assert words[:n_codes].max() < 2**fmt.bits
    assert float((fmt.decode(words, w.shape) - w).abs().max()) <= float(w.max() - w.min()) / (2**fmt.bits - 1)


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 4), cols=st.integers(1, 300), seed=st.integers(0, 1000),
       name=st.sampled_from([n for n in FORMAT_NAMES if "-g" in n or n.startswith("bfp")]))
def test_group_size_not_dividing_the_row_pads_the_last_group(rows, cols, seed, name):
    fmt = NumberFormat(name)
    w = _weights((rows, cols), seed)
    words, _ = fmt.encode(w)
    n_codes, n_aux = fmt.layout(w.shape)
    groups = -(-cols // fmt.group_size)
    assert n_codes == rows * groups * fmt.group_size and len(words) == n_codes + n_aux
    values = fmt.decode(words, w.shape)
    reference = (_bfp_decode_numpy(words, rows, cols, fmt.group_size) if fmt.kind == "bfp"
                 else _group_decode_numpy(words, rows, cols, fmt.group_size, fmt.bits))
    assert values.shape == w.shape and np.array_equal(values.numpy(), reference)


def test_a_flipped_scale_word_changes_its_whole_group():
    fmt = NumberFormat("int4-g32")
    w = _weights((2, 64))
    words, _ = fmt.encode(w)
    n_codes, _ = fmt.layout(w.shape)
    faulty = words.copy()
    faulty[n_codes + 4 + 3] ^= 0b0100  # group 0's scale: bit 14, its exponent's MSB
    changed = (fmt.decode(faulty, w.shape) != fmt.decode(words, w.shape)).reshape(2, 2, 32)
    assert changed[0, 0].sum() >= 28 and not changed[0, 1].any() and not changed[1].any()


# -- block floating point ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bfp-16", "bfp-32"])
def test_bfp_words_decode_like_a_numpy_reference(name):
    fmt = NumberFormat(name)
    w = _weights((3, 96), scale=5.0)
    words, _ = fmt.encode(w)
    assert np.array_equal(fmt.decode(words, w.shape).numpy(), _bfp_decode_numpy(words, 3, 96, fmt.group_size))
    blocks = w.reshape(3, -1, fmt.group_size)
    step = 2.0 ** (np.floor(np.log2(blocks.abs().amax(dim=2).numpy())) - 6)
    error = (fmt.decode(words, w.shape) - w).abs().reshape(3, -1, fmt.group_size).amax(dim=2).numpy()
    assert np.all(error <= step)  # half a step, or the clamp at mantissa 127 (under one step)


def test_bfp_exponent_msb_flip_scales_the_block_by_2_to_128():
    fmt = NumberFormat("bfp-16")
    words, _ = fmt.encode(_weights((1, 16)))
    clean = fmt.decode(words, (1, 16))
    words[16] ^= 0x80
    assert torch.equal(fmt.decode(words, (1, 16)), (clean.double() * 2.0**128).float())
    words[16] = 255
    assert torch.isinf(fmt.decode(words, (1, 16))).any()


# -- names, errors, store -------------------------------------------------------------------
def test_resolve_scheme_keeps_the_presets():
    assert isinstance(resolve_scheme("rquant"), QuantScheme)
    assert resolve_scheme("rquant", 4).bits == 4
    assert resolve_scheme("int4-g128") == NumberFormat("int4-g128")
    assert NumberFormat.from_dict(NumberFormat("bf16").to_dict()) == NumberFormat("bf16")


@pytest.mark.parametrize("name, match", [("int4-g48", "group size 48"), ("bfp-8", "block size 8"),
                                         ("fp4", "unknown"), ("int8-g64x", "unknown")])
def test_bad_format_names(name, match):
    with pytest.raises(QuantError, match=match):
        resolve_scheme(name)


def test_format_width_is_fixed():
    with pytest.raises(QuantError, match="8-bit words"):
        resolve_scheme("fp8-e5m2", 4)


def test_fp8_on_a_torch_without_it(monkeypatch):
    monkeypatch.delattr(torch, "float8_e4m3fn")
    with pytest.raises(QuantError, match="torch.float8_e4m3fn"):
        NumberFormat("fp8-e4m3")


def test_per_channel_int_is_symmetric_twos_complement():
    w = _weights((4, 10))
    words, scale = NumberFormat("int4").encode(w)
    levels = words.astype(np.int64) - ((words.astype(np.int64) >> 3) << 4)
    assert levels.min() >= -7 and levels.max() <= 7
    assert np.array_equal(np.abs(levels).reshape(4, 10).max(axis=1), [7, 7, 7, 7])
    assert torch.equal(NumberFormat("int4").decode(words, w.shape, scale),
                       (torch.from_numpy(levels).reshape(4, 10) * scale).float())


@pytest.mark.parametrize("name", ["int8", "int4"])
@pytest.mark.parametrize("cols", [3, 16, 255, 256, 700])  # below and above the code book (16 or 256)
def test_per_channel_decode_of_any_words_equals_a_numpy_reference(name, cols):
    fmt = NumberFormat(name)
    rng = np.random.default_rng(cols)
    _, scale = fmt.encode(_weights((5, cols)))
    words = rng.integers(0, 2**fmt.bits, 5 * cols).astype(np.uint8)  # faulty words too: any code
    codes = words.astype(np.int64)
    levels = np.where(codes >= 2 ** (fmt.bits - 1), codes - 2**fmt.bits, codes).reshape(5, cols)
    expected = (levels.astype(np.float64) * scale.numpy()).astype(np.float32)
    assert np.array_equal(fmt.decode(words, (5, cols), scale).numpy(), expected)


def test_store_counts_aux_words():
    store = FormatStore(NumberFormat("int8-g32"), [_weights((2, 40)), _weights((3,))])
    n0 = NumberFormat("int8-g32").layout((2, 40))[0]
    assert store.aux_words([0, 1, n0, n0, n0 + 1]) == 2
    assert store.aux_words([int(store.offsets[1]) + 32]) == 1
