import torch
from torch import nn

from accelsim.engine.graph import trace_program


class TwoPaths(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.c = nn.Linear(4, 2)

    def forward(self, x):
        h = self.a(x)
        return self.c(self.b(h) + h)


def test_liveness_keeps_residual_branch():
    program, _ = trace_program(TwoPaths())
    start = program.first_step_reading(["b.weight"])
    assert set(program.live_before(start)) == {"a"}
    start_c = program.first_step_reading(["c.bias"])
    assert set(program.live_before(start_c)) == {"add"}


def test_partial_run_from_live_values_equals_full_run():
    torch.manual_seed(0)
    net = TwoPaths()
    program, params = trace_program(net)
    x = torch.randn(5, 4)
    full, kept = program.run(x, params, keep={"a"})
    start = program.first_step_reading(["b.weight"])
    partial, _ = program.run(None, params, start=start, env={"a": kept["a"]})
    assert torch.equal(full, partial)


def test_parameters_are_listed_in_first_read_order():
    _, params = trace_program(TwoPaths())
    assert list(params) == ["a.weight", "a.bias", "b.weight", "b.bias", "c.weight", "c.bias"]


def test_inplace_relu_does_not_modify_cached_values():
    net = nn.Sequential(nn.Linear(3, 3), nn.ReLU(inplace=True), nn.Linear(3, 1))
    program, params = trace_program(net)
    x = torch.randn(4, 3)
    _, kept = program.run(x, params, keep={"_0"})
    before = kept["_0"].clone()
    program.run(x, params, start=2, env={"_0": kept["_0"]})
    assert torch.equal(kept["_0"], before)
