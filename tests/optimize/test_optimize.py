"""accelsim.optimize: held-out chips, results folder, resume, bad input."""

import json
import re

import pytest

from accelsim.cli import main
from accelsim.optimize import OptimizeError, format_optimum, optimize

LINE = re.compile(r"^optimum: (\S+): banks \[(\d\.\d+(, )?)+\] V, protection \[[^\]]+\], energy "
                  r"[-+]\d+\.\d% vs nominal \(([-+]\d+\.\d% vs best uniform voltage|no uniform voltage "
                  r"qualifies)\), accuracy \d+\.\d% \([-+]\d+\.\d\) on held-out chips, yield \d+%$")
SMALL = dict(profile="14nm", dataset="digits", banks=2, chips=2, holdout_chips=2, limit=80,
             voltages_v=(0.8, 0.65, 0.6, 0.55))


def test_optimize_writes_its_folder_and_resumes(tmp_path):
    out = tmp_path / "o"
    result = optimize("digits-cnn-normal-8b", **SMALL, protections=("none", "msb:1"), out=out)
    assert LINE.match(format_optimum(result)), format_optimum(result)
    assert set(result.holdout_chips).isdisjoint(result.calibration_chips)
    assert len(result.bank_vdd_v) == 2 and result.energy_j <= result.nominal_energy_j
    for name in ("candidates.csv", "pareto.csv", "uniform.csv", "sensitivity.csv", "optimum.json",
                 "journal.jsonl"):
        assert (out / name).stat().st_size > 0
    record = json.loads((out / "optimum.json").read_text())
    assert record["line"] == format_optimum(result)
    lines = (out / "journal.jsonl").read_text().count("\n")
    with pytest.raises(OptimizeError, match="--resume"):
        optimize("digits-cnn-normal-8b", **SMALL, protections=("none", "msb:1"), out=out)
    again = optimize("digits-cnn-normal-8b", **SMALL, protections=("none", "msb:1"), out=out, resume=True)
    assert again == result
    assert (out / "journal.jsonl").read_text().count("\n") == lines  # nothing recomputed


@pytest.mark.parametrize("extra, fragment", [
    (["--yield", "0"], "--yield"),
    (["--yield", "1.01"], "--yield"),
    (["--tolerance", "-0.5"], "--tolerance"),
    (["--holdout-chips", "0"], "--holdout-chips"),
    (["--chips", "0"], "--chips"),
    (["--banks", "99"], "--banks"),
    (["--protection", "secded:7"], "secded:7"),
    (["--protection", "msb:12"], "K <= 8"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, extra, fragment):
    argv = ["optimize", "--model", "digits-cnn-normal-8b", "--dataset", "digits", "--limit", "20",
            "--out", str(tmp_path / "o"), "--quiet", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("accelsim: error:") and fragment in err[0]


def test_a_partial_journal_line_is_dropped_on_resume(tmp_path):
    from accelsim.optimize import _Journal

    path = tmp_path / "journal.jsonl"
    path.write_text('{"key": "a", "accuracies": [0.5]}\n{"key": "b", "accur')
    journal = _Journal(path, resume=True)
    journal.put("c", [0.25])
    journal.close()
    again = _Journal(path, resume=True)
    again.close()
    assert again.rows == {"a": [0.5], "c": [0.25]}


def test_cli_prints_the_optimum_and_draws_the_front(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["optimize", "--model", "digits-cnn-normal-8b", "--dataset", "digits", "--limit", "60",
            "--banks", "2", "--chips", "2", "--holdout-chips", "1", "--yield", "0.5", "--out", str(out),
            "--voltages", "0.8,0.62,0.58,0.55",
            "--quiet"]
    assert main(argv) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("optimum:")]
    assert len(lines) == 1 and LINE.match(lines[0])
    assert (out / "front.png").stat().st_size > 0
