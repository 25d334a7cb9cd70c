"""Small networks and profiles for engine tests."""

import numpy as np
import pytest
import torch
from torch import nn

from accelsim.sram import CellTable, Profile, uniform_profile
from accelsim.sram.energy import EnergyModel


class Block(nn.Module):
    """Conv-norm-relu with a residual add: every supported layer kind in a few lines."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.bn(self.conv(x)))
        out += x
        return out


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.gn = nn.GroupNorm(2, 4)
        self.block = Block(4)
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AdaptiveAvgPool2d(2)
        self.drop = nn.Dropout(0.5)
        self.fc1 = nn.Linear(16, 12)
        self.fc2 = nn.Linear(12, 10)

    def forward(self, x):
        x = torch.relu(self.gn(self.stem(x)))
        x = self.avg(self.pool(self.block(x)))
        x = torch.flatten(x, 1)
        x = self.drop(torch.nn.functional.relu6(self.fc1(x)))
        return self.fc2(x.view(x.size(0), -1))


def _randomize_bn(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)


@pytest.fixture
def small_net():
    torch.manual_seed(0)
    net = SmallNet()
    _randomize_bn(net)
    return net.eval()


@pytest.fixture
def images():
    return torch.randn(64, 1, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def uniform():
    return uniform_profile(0.2)


def cells_profile(cell_index, v_fail_v, fault_kind, arrays=4, rows=64, cols=64, p_error=None):
    """A measured-kind profile with the given faulty cells (nominal 1.0 V, floor 0.5 V)."""
    n = len(cell_index)
    order = np.argsort(cell_index)
    cells = CellTable(
        np.asarray(cell_index, np.int64)[order], np.asarray(v_fail_v, np.float64)[order],
        np.asarray(fault_kind, np.uint8)[order],
        (np.ones(n) if p_error is None else np.asarray(p_error, np.float64))[order])
    meta = dict(schema_version=1, name="test-cells", description="hand-made cells for tests",
                technology="test", temperature_k=300.0, arrays=arrays, rows=rows, cols=cols,
                vdd_nominal_v=1.0, vdd_min_v=0.9, vdd_floor_v=0.5,
                energy=EnergyModel().to_dict(), source={"measured": "synthetic test"}, kind="cells")
    return Profile(meta, cells)
