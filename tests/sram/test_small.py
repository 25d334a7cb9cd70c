"""The NumPy twins of accelsim.sram._small return what the Numba kernels return."""

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from accelsim.sram import _kernels, _small
from tests.sram.test_kernels import UINT64, fault_cases


@settings(deadline=None)  # the first example includes the JIT compilation
@given(UINT64, UINT64, hnp.arrays(np.int64, st.integers(0, 300), elements=st.integers(0, 2**62)))
def test_uniform_hash_equals_the_kernel(seed, chip, cell_index):
    got = _small.uniform_hash(np.uint64(seed), np.uint64(chip), cell_index)
    np.testing.assert_array_equal(got, _kernels.uniform_hash(np.uint64(seed), np.uint64(chip), cell_index))
    assert got.dtype == np.float64


@settings(deadline=None)
@given(fault_cases(), st.floats(0.0, 1.0), st.data())
def test_read_prefix_sparse_equals_the_kernel(case, vdd_v, data):
    words, _, word_index, bit_in_word, fault_kind, errs = case
    fail = np.sort(data.draw(hnp.arrays(np.float64, len(word_index),
                                        elements=st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9]))))[::-1]
    stored = words.copy()
    stored.setflags(write=False)  # as the memory holds it
    expected = _kernels.read_prefix_sparse(stored, words.copy(), -fail, -vdd_v, word_index, bit_in_word,
                                           fault_kind, errs)
    got = _small.read_prefix_sparse(stored, -fail, -vdd_v, word_index, bit_in_word, fault_kind, errs)
    np.testing.assert_array_equal(got[0], expected[0])
    assert got[0].dtype == expected[0].dtype
    assert (got[1], got[2]) == (expected[1], expected[2])
    np.testing.assert_array_equal(stored, words)


def test_a_small_sweep_never_loads_a_numba_kernel():
    # Numba's runtime costs a process ~50 MB once loaded: small memories read through NumPy.
    code = """
import numpy as np
from accelsim.models import load_model
from accelsim import load_dataset, load_profile
from accelsim.sram import _kernels
qm = load_model("digits-cnn-normal-8b")
x, _ = load_dataset("digits", limit=32)
profile = load_profile("14nm")
evaluator = qm.evaluator(x, profile, chip=1, batch_size=16)
for v in (0.6, 0.56, 0.54):
    assert evaluator.run(v).flipped_bits > 0
loaded = [name for name in _kernels.__all__ if getattr(_kernels, name).signatures]
print(loaded)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
