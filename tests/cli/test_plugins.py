"""An installed plug-in registers an architecture: `accelsim train --arch my-net`, then sweep its checkpoint."""

import textwrap

import pytest

from accelsim.cli import main

PLUGIN = textwrap.dedent('''
    import torch

    class MyNet(torch.nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.fc1 = torch.nn.Linear(64, 24)
            self.fc2 = torch.nn.Linear(24, num_classes)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))

    def register():
        import accelsim.models
        accelsim.models.register("my-net-iss12", MyNet, "digits", replace=True)
''')


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "my_plugin_iss12.py").write_text(PLUGIN)
    info = site / "my_plugin_iss12-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin-iss12\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[accelsim.plugins]\nmy_plugin_iss12 = my_plugin_iss12:register\n")
    monkeypatch.syspath_prepend(str(site))
    yield site
    # Leave the process's registries as they were, so other tests see only the built-in architectures.
    from accelsim import _plugins
    from accelsim.models.registry import ARCHITECTURES

    ARCHITECTURES.pop("my-net-iss12", None)
    _plugins._loaded.discard(("my_plugin_iss12", "my_plugin_iss12:register"))


def test_train_then_sweep_a_plugin_architecture(plugin, tmp_path, capsys):
    ckpt = tmp_path / "mine.pt"
    assert main(["train", "--dataset", "digits", "--arch", "my-net-iss12", "--epochs", "2", "--out", str(ckpt),
                 "--quiet", "--train-limit", "600"]) == 0
    assert "my-net-iss12" in capsys.readouterr().out or ckpt.exists()
    out = tmp_path / "sweep"
    code = main(["sweep", "--quiet", "--model", str(ckpt), "--model", f"my_plugin_iss12:MyNet@{ckpt}",
                 "--voltages", "0.8,0.56", "--chips", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "operating point: mine:" in printed and "operating point: mine-2:" in printed


def test_unknown_architecture_is_one_line(capsys, tmp_path):
    code = main(["train", "--dataset", "digits", "--arch", "no-such-net", "--out", str(tmp_path / "x.pt")])
    assert code == 2 and "unknown architecture 'no-such-net'" in capsys.readouterr().err


def test_model_dataset_mismatch_exits_2(capsys, tmp_path):
    code = main(["sweep", "--quiet", "--model", "digits-cnn-normal-8b", "--dataset", "cifar10:/nonexistent",
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cifar10" in err
