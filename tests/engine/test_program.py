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


class _Chains(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.gelu = nn.GELU()
        self.conv3 = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        x = self.pool(self.relu(self.conv(x)))
        y = self.gelu(self.conv2(x))  # rounds differently on other channel counts: not channel-local
        z = self.conv3(y)
        return z.relu() + z  # z is read twice: no chain through it


def test_channel_chains_stop_at_mixing_ops_and_shared_values():
    program, _ = trace_program(_Chains())
    names = [step.name for step in program.steps]
    assert names[program.channel_chain_end(names.index("conv"))] == "conv2"
    assert names[program.channel_chain_end(names.index("conv2"))] == "gelu"
    assert names[program.channel_chain_end(names.index("conv3"))] == "relu_1"


def test_max_pool_returning_indices_is_not_channel_local():
    program, _ = trace_program(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, return_indices=True)))
    assert not program.steps[-2].channel_local
