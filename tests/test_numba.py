"""The project's Numba helpers: ``jit`` compiles lazily, ``prefetch`` changes nothing."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from accelsim._numba import jit, prefetch


@jit
def _sum_with_prefetch(values, index):
    total = 0.0
    for i in range(index.shape[0]):
        prefetch(values, index[i])
        total += values[index[i]]
    return total


def test_jit_compiles_nothing_until_called():
    @jit
    def twice(x):
        return 2 * x

    assert twice.signatures == []
    assert twice(21) == 42
    assert len(twice.signatures) == 1


@settings(deadline=None)  # the first example includes the JIT compilation
@given(st.sampled_from([np.uint8, np.uint16, np.uint32, np.uint64, np.float64]),
       st.sampled_from([np.int32, np.int64]), st.data())
def test_prefetch_leaves_the_array_and_the_result_alone(dtype, index_dtype, data):
    values = data.draw(hnp.arrays(dtype, st.integers(1, 300), elements=st.integers(0, 200)))
    index = data.draw(hnp.arrays(index_dtype, st.integers(1, 50),
                                 elements=st.integers(0, len(values) - 1)))
    before = values.copy()
    # Small integers: every sum is exact in float64, in any order.
    assert _sum_with_prefetch(values, index) == values[index].sum(dtype=np.float64)
    np.testing.assert_array_equal(values, before)
