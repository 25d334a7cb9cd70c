"""Own models and data through a sweep: nn.Module, (x, y), Dataset, DataLoader, module:attr@ckpt."""

import json
import sys
import textwrap

import pytest
import torch

import accelsim
from accelsim.data import load_dataset
from accelsim.sweep import SweepError, SweepSpec, run_sweep
from accelsim.sweep.inputs import TensorData

VOLTS = (0.8, 0.56, 0.54)


class TinyNet(torch.nn.Module):
    """A researcher's own digits network, written in plain torch."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


def _trained_net():
    torch.manual_seed(0)
    net = TinyNet()
    x, y = load_dataset("digits", "train")
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net


@pytest.fixture(scope="module")
def net():
    return _trained_net()


@pytest.fixture(scope="module")
def data():
    return load_dataset("digits", limit=120)


def _spec(models, dataset, **changes):
    return SweepSpec(models=models, dataset=dataset, profile="14nm", voltages_v=VOLTS, chips=2, **changes)


def test_module_and_tensors_go_through_a_sweep(net, data, tmp_path):
    result = accelsim.sweep(_spec((net, "digits-cnn-normal-8b"), data), tmp_path)
    labels = [r["model"] for r in result.summary]
    assert "TinyNet" in labels and "digits-cnn-normal-8b" in labels
    nominal = next(r for r in result.summary if r["model"] == "TinyNet" and r["vdd_v"] == 0.8)
    assert nominal["accuracy"] > 0.8 and nominal["bits"] == 8 and nominal["quant_scheme"] == "rquant"
    record = json.loads((tmp_path / "sweep.json").read_text())
    model = record["spec"]["models"][0]
    assert model["in_memory"] == "nn.Module TinyNet" and len(model["sha256"]) == 64
    assert record["spec"]["dataset"]["examples"] == 120 and "dataset" in record["fingerprints"]


def test_resume_accepts_the_same_objects_and_refuses_others(net, data, tmp_path):
    first = run_sweep(_spec((net,), data), tmp_path)
    again = run_sweep(_spec((net,), data), tmp_path, resume=True)
    assert again.rows == first.rows
    other = TinyNet()
    with pytest.raises(SweepError, match="differs in models"):
        run_sweep(_spec((other,), data), tmp_path, resume=True)
    with pytest.raises(SweepError, match="differs in dataset"):
        run_sweep(_spec((net,), (data[0][:60], data[1][:60])), tmp_path, resume=True)


def test_in_memory_spec_cannot_be_rebuilt_from_its_file(net, data):
    with pytest.raises(SweepError, match="in-memory model .*nn.Module TinyNet.*resume=True"):
        SweepSpec.from_dict(_spec((net,), data).to_dict())


def test_dataset_and_dataloader_become_tensors(data):
    dataset = torch.utils.data.TensorDataset(*data)
    from_dataset = SweepSpec(dataset=dataset).dataset
    from_loader = SweepSpec(dataset=torch.utils.data.DataLoader(dataset, batch_size=7)).dataset
    assert isinstance(from_dataset, TensorData) and from_dataset == from_loader
    assert torch.equal(from_dataset.x, data[0]) and from_dataset.name == "TensorDataset"


def test_quantized_model_and_unique_labels(net, data, tmp_path):
    qm = accelsim.QuantizedModel.from_torch(net, "rquant", data[0][:8])
    spec = _spec((net, qm, TinyNet()), data)
    assert spec.labels == ("TinyNet", "QuantizedModel", "TinyNet-2")
    with pytest.raises(SweepError, match="re-quantize"):
        run_sweep(_spec((qm,), data, bits=4), tmp_path)


def test_module_attr_at_checkpoint(net, tmp_path, monkeypatch):
    package = tmp_path / "my_pkg_iss12"
    package.mkdir()
    source = textwrap.dedent('''
        import torch
        class MyNet(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
                self.fc = torch.nn.Linear(4 * 8 * 8, 10)
            def forward(self, x):
                return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))
    ''')
    (package / "__init__.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    ckpt = tmp_path / "mynet.pt"
    torch.save(net.state_dict(), ckpt)
    result = run_sweep(_spec((f"my_pkg_iss12:MyNet@{ckpt}",), "digits", limit=120), tmp_path / "out")
    assert {r["model"] for r in result.rows} == {"mynet"}
    assert max(r["accuracy"] for r in result.rows) > 0.8
    with pytest.raises(SweepError, match="does not fit MyNet"):
        torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "bad.pt")
        run_sweep(_spec((f"my_pkg_iss12:MyNet@{tmp_path / 'bad.pt'}",), "digits"), tmp_path / "bad")
    sys.modules.pop("my_pkg_iss12", None)


def test_checkpoint_default_dataset_and_mismatch(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.setenv("ACCELSIM_DATA", str(mnist_dir.parent))
    spec = SweepSpec(models=("mnist-lenet-normal-8b",), voltages_v=(0.8,), chips=1, limit=50)
    result = run_sweep(spec, tmp_path / "own")
    assert result.spec.dataset == "mnist"
    with pytest.raises(SweepError, match=r"expects inputs of shape 1x28x28 .* dataset digits holds 1x8x8; "
                                         r"pass --dataset mnist"):
        run_sweep(SweepSpec(models=("mnist-lenet-normal-8b",), dataset="digits", voltages_v=(0.8,)),
                  tmp_path / "mismatch")


def test_mismatch_without_data_folder_is_one_line(tmp_path, net):
    with pytest.raises(SweepError, match="does not say which dataset"):
        run_sweep(SweepSpec(models=(net,), voltages_v=(0.8,)), tmp_path)
    x = torch.zeros(4, 1, 8, 8)
    with pytest.raises(SweepError, match="labels up to 11"):
        run_sweep(SweepSpec(models=(net,), dataset=(x, torch.tensor([0, 1, 2, 11])), voltages_v=(0.8,)),
                  tmp_path / "classes")


@pytest.mark.slow
def test_dask_runs_in_memory_objects_like_local(net, data, tmp_path):
    local = run_sweep(_spec((net,), data), tmp_path / "local")
    remote = run_sweep(_spec((net,), data), tmp_path / "dask", executor="dask")
    assert (remote.directory / "sweep.csv").read_bytes() == (local.directory / "sweep.csv").read_bytes()


def test_one_sequential_is_one_model():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    spec = SweepSpec(models=net, dataset="digits")
    assert spec.models == (net,) and spec.labels == ("Sequential",)
