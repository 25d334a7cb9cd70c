"""Faulty reads from the placement alone (accelsim.engine.sparse) against the memory's own read."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.engine.sparse import faulty_words
from accelsim.sram import SimulatedMemory
from tests.engine.conftest import cells_profile


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), vdd_v=st.floats(0.5, 1.0), bits=st.sampled_from([4, 8, 16]))
def test_changed_words_equal_a_full_read(seed, vdd_v, bits):
    rng = np.random.default_rng(seed)
    n_cells = 4 * 64 * 64
    cells = np.sort(rng.choice(n_cells, 600, replace=False))
    profile = cells_profile(cells, rng.uniform(0.5, 0.95, 600), rng.integers(0, 3, 600),
                            p_error=np.where(rng.random(600) < 0.5, 1.0, 0.5))
    dtype = np.uint16 if bits == 16 else np.uint8
    words = rng.integers(0, 2**bits, n_cells // bits, dtype=np.uint64).astype(dtype)
    memory = SimulatedMemory(profile, words, bits, seed=seed)
    expected = memory.read(vdd_v, 0)
    index, values, faulty, flipped, tiled = faulty_words(memory, vdd_v, 0)
    changed = np.flatnonzero(expected.words != words)
    assert np.array_equal(index, changed) and np.array_equal(values, expected.words[changed])
    assert (faulty, flipped, tiled) == (expected.faulty_cells, expected.flipped_bits, expected.tiled)


def test_patched_copy_equals_decoding_whole_tensors():
    import torch

    from accelsim.engine import QuantizedModel
    from accelsim.engine.sparse import patched_copy
    from tests.engine.test_layers import _case

    net, x = _case("lm")
    for scheme in ("int8", "int4", "fp16", "bf16", "fp8-e4m3", "fp8-e5m2"):
        qm = QuantizedModel.from_torch(net, scheme, x)
        rng = np.random.default_rng(0)
        index = np.sort(rng.choice(len(qm.words), 300, replace=False))
        faulty = qm.words.copy()
        faulty[index] ^= np.asarray(rng.integers(1, 2**qm.bits, 300), dtype=faulty.dtype)
        names = qm.tensors_at_bits(index * qm.bits)
        got = patched_copy(qm, index, faulty[index], names)
        expected = qm.weights_from_words(faulty)
        for name in qm.tensor_names:
            torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("scheme", ["int8", "rquant", "fp16", "fp8-e4m3", "int4-g32", "bfp-16"])
def test_lazy_weights_of_a_large_model_equal_full_weights(scheme, monkeypatch):
    import torch

    from accelsim.engine import QuantizedModel, sparse
    from accelsim.sram import uniform_profile
    from tests.engine.test_layers import _case

    net, x = _case("lm")
    full = QuantizedModel.from_torch(net, scheme, x)
    monkeypatch.setattr(sparse, "LARGE_MODEL_WORD_BYTES", 1)  # every model is large
    lazy = QuantizedModel.from_torch(net, scheme, x)
    assert isinstance(lazy.clean_weights, sparse.LazyWeights) and list(lazy.clean_weights) == list(full.tensor_names)
    for name in full.tensor_names:
        torch.testing.assert_close(lazy.clean_weights[name], full.clean_weights[name], rtol=0, atol=0)
    with torch.inference_mode():
        assert torch.equal(lazy.reference_module()(x), full.forward(x))
    profile = uniform_profile(0.05)
    vdd_v = float(profile.voltage_for_ber(3e-3))
    from accelsim.engine.multipoint import run_points

    shared = run_points([lazy.evaluator(x, profile, chip=c) for c in range(3)], [vdd_v] * 3)
    for chip in range(3):
        torch.testing.assert_close(shared[chip].logits, full.evaluator(x, profile, chip=chip).run(vdd_v).logits,
                                   rtol=0, atol=0, equal_nan=True)
    for chip in range(3):
        want = full.evaluator(x, profile, chip=chip).run(vdd_v)
        got = lazy.evaluator(x, profile, chip=chip).run(vdd_v)
        torch.testing.assert_close(got.logits, want.logits, rtol=0, atol=0, equal_nan=True)
        assert (got.flipped_bits, got.faulty_cells, got.first_step, got.nonfinite_weights, got.erred_scale_words) == (
            want.flipped_bits, want.faulty_cells, want.first_step, want.nonfinite_weights, want.erred_scale_words)
        assert got.changed_tensors == want.changed_tensors and got.flipped_bits > 0
        with_flips = lazy.run(x, profile, vdd_v, chip=chip, extra_flips=np.array([3, 70]))  # the copying path
        torch.testing.assert_close(with_flips.logits, full.run(x, profile, vdd_v, chip=chip,
                                                               extra_flips=np.array([3, 70])).logits,
                                   rtol=0, atol=0, equal_nan=True)
