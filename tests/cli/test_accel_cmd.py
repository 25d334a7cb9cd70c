"""``accelsim accel info``: the per-component energy table of a preset or file."""

import pytest

from accelsim.cli import main


@pytest.mark.parametrize("preset", ["edge", "edge-45nm", "eyeriss"])
def test_info_prints_the_split_of_lenet_at_nominal(preset, capsys):
    assert main(["accel", "info", preset, "--model", "mnist-lenet-normal-8b"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"accelerator {preset}: ")
    rows = {line[:24].strip(): line.split() for line in out.splitlines()
            if line[:24].strip() in ("weight SRAM (dynamic)", "weight SRAM (leakage)", "activation SRAM",
                                     "MACs", "total")}
    assert len(rows) == 5
    shares = [float(rows[name][-1].rstrip("%")) for name in rows if name != "total"]
    assert sum(shares) == pytest.approx(100.0, abs=0.3)
    assert rows["total"][-1] == "100.0%"


def test_info_reads_an_accelerator_file(tmp_path, capsys):
    from accelsim.accel import accelerator_preset

    path = tmp_path / "chip.toml"
    path.write_text(accelerator_preset("eyeriss").to_toml().replace('name = "eyeriss"', 'name = "mine"'))
    assert main(["accel", "info", str(path)]) == 0
    assert capsys.readouterr().out.startswith("accelerator mine: 65 nm")


def test_unknown_preset_is_one_line_exit_2(capsys):
    assert main(["accel", "info", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "edge, edge-45nm, eyeriss" in err
