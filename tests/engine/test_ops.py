"""The engine's faster equivalents of torch functions give torch's values."""

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from accelsim.engine.graph import trace_program
from accelsim.engine.ops import max_pool2d


@given(batch=st.integers(1, 3), channels=st.integers(1, 4), height=st.integers(1, 13),
       width=st.integers(1, 13), kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       stride=st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4))),
       dilation=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_max_pool2d_equals_torch(batch, channels, height, width, kernel, stride, dilation, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, height, width, generator=generator)
    x[x > 1.5] = float("nan")  # a maximum propagates NaN in both
    span_h, span_w = dilation * (kernel[0] - 1) + 1, dilation * (kernel[1] - 1) + 1
    if span_h > height or span_w > width:  # torch refuses an empty output
        return
    expected = F.max_pool2d(x, kernel, stride, 0, dilation)
    result = max_pool2d(x, kernel, stride, 0, dilation)
    assert result.shape == expected.shape
    assert torch.equal(result.isnan(), expected.isnan())
    assert torch.equal(result.nan_to_num(), expected.nan_to_num())


def test_max_pool2d_falls_back_where_views_do_not_apply():
    x = torch.randn(2, 3, 7, 7)
    for options in (dict(padding=1), dict(ceil_mode=True)):
        assert torch.equal(max_pool2d(x, 2, 2, **options), F.max_pool2d(x, 2, 2, **options))
    values, indices = max_pool2d(x, 2, 2, return_indices=True)
    assert torch.equal(indices, F.max_pool2d(x, 2, 2, return_indices=True)[1])


class _Pools(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        return F.max_pool2d(self.pool(self.conv(x)), kernel_size=3, stride=1)


def test_traced_pooling_modules_and_functions_give_the_modules_values():
    torch.manual_seed(0)
    module = _Pools().eval()
    program, weights = trace_program(module)
    x = torch.randn(4, 1, 20, 20)
    with torch.no_grad():
        expected = module(x)
    assert torch.equal(program.run(x, weights)[0], expected)
