"""--adaptive: settled points stop early; without it, the sweep is what it was."""

import math
from pathlib import Path

import pytest

from accelsim.engine.multipoint import read_points
from accelsim.sweep import SweepSpec, adaptive, run_sweep
from accelsim.sweep.results import ADAPTIVE_COLUMNS, POINT_COLUMNS, read_csv

MODELS = ("digits-cnn-normal-8b", "digits-cnn-randbet-8b")
GOLDEN = Path(__file__).parent / "data" / "digits_sweep_before_n_images.csv"


def _spec(**changes):
    base = dict(models=MODELS, profile="14nm", voltages_v=(0.8, 0.62, 0.58, 0.56, 0.54), chips=2,
                limit=120)
    return SweepSpec(**{**base, **changes})


def test_default_sweep_is_byte_identical_to_before_with_n_images_appended(tmp_path):
    # GOLDEN is sweep.csv of this spec written by the code before issue 13 (the integration branch just
    # before it was merged, so it holds the columns and physics of the other second-wave changes).
    result = run_sweep(_spec(), tmp_path)
    lines = (result.directory / "sweep.csv").read_text().splitlines()
    assert lines[0].split(",") == list(POINT_COLUMNS) and POINT_COLUMNS[-1] == "n_images"
    assert "\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n" == GOLDEN.read_text()
    assert all(line.endswith(",120") for line in lines[1:])
    assert "adaptive" not in (result.directory / "sweep.json").read_text()


def test_halfwidth_shrinks_with_images_and_vanishes_on_the_full_set():
    widths = [adaptive.halfwidth(5, n, 10_000) for n in (512, 1024, 4096, 9000)]
    assert widths == sorted(widths, reverse=True) and widths[-1] > 0
    assert adaptive.halfwidth(5, 10_000, 10_000) == 0.0
    # No change seen still gives a width: (0 + 2) / (n + 4) bounds the variance.
    assert adaptive.halfwidth(0, 512, 10_000) > 0.002


@pytest.fixture()
def small_chunks(monkeypatch):
    monkeypatch.setattr(adaptive, "CHUNK_IMAGES", 32)


def test_adaptive_rows_are_within_their_halfwidth_of_the_full_set(tmp_path, small_chunks):
    voltages = (0.8, 0.6, 0.58, 0.56, 0.55, 0.54)
    full = run_sweep(_spec(limit=600, voltages_v=voltages, batch_size=16), tmp_path / "full")
    fast = run_sweep(_spec(limit=600, voltages_v=voltages, batch_size=16, adaptive=True, halfwidth_pp=2.0),
                     tmp_path / "adaptive")
    header = list(read_csv(fast.directory / "sweep.csv")[0])
    assert header == list(POINT_COLUMNS + ADAPTIVE_COLUMNS)
    assert len(full.rows) == len(fast.rows)
    stopped = outside = 0
    for exact, row in zip(full.rows, fast.rows):
        assert (exact["model"], exact["chip"], exact["vdd_v"]) == (row["model"], row["chip"], row["vdd_v"])
        assert exact["faulty_cells"] == row["faulty_cells"] and exact["clean_accuracy"] == row["clean_accuracy"]
        assert 0 < row["n_images"] <= 600
        # A 95% interval: about 1 row in 20 may miss by chance, but never by twice its width.
        miss = abs(row["accuracy"] - exact["accuracy"])
        assert miss <= 2 * row["accuracy_halfwidth"] + 1e-12
        outside += miss > row["accuracy_halfwidth"] + 1e-12
        assert math.isclose(row["error"], 1 - row["accuracy"])
        if row["n_images"] == 600:
            assert row["accuracy_halfwidth"] == 0 and math.isclose(row["accuracy"], exact["accuracy"])
        else:
            stopped += 1
            settled = row["accuracy_halfwidth"] <= 0.02
            below = (row["accuracy"] + row["accuracy_halfwidth"] - full.rows[0]["clean_accuracy"]) < -0.01
            assert settled or below
    assert stopped > 0 and outside <= max(1, round(0.1 * stopped))
    record = (fast.directory / "sweep.json").read_text()
    assert '"adaptive": true' in record and '"halfwidth_pp": 2.0' in record


def test_adaptive_options_are_checked():
    from accelsim.sweep import SweepError

    for changes in (dict(halfwidth_pp=0.0), dict(tolerance_pp=-1.0), dict(adaptive="yes")):
        with pytest.raises(SweepError):
            _spec(adaptive=True, **{k: v for k, v in changes.items() if k != "adaptive"}) \
                if "adaptive" not in changes else _spec(**changes)
    assert SweepSpec.from_dict(_spec(adaptive=True).to_dict()) == _spec(adaptive=True)


def test_chips_settled_together_give_the_columns_of_one_point_at_a_time(small_chunks):
    import torch

    from accelsim.engine import _batching
    from accelsim.sweep.unit import load_unit_inputs

    spec = _spec(limit=300, batch_size=16, dataset="digits")
    profile, qm, (x, y) = load_unit_inputs(spec, MODELS[0])
    x, y = adaptive.shuffled(x, y, 0)
    evaluators = [qm.evaluator(x, profile, chip=chip, batch_size=16) for chip in range(3)]
    clean_pred = evaluators[0].clean_logits.argmax(dim=1)
    reference = float((clean_pred == y).double().mean())
    pairs = [(e, v) for e in evaluators for v in (0.62, 0.58, 0.56, 0.54)]
    alone = [adaptive.adaptive_inference(e, v, clean_pred, y, 16, reference, 1.0, 1.5) for e, v in pairs]
    with _batching.batch_threads(2):
        points = read_points([e for e, _ in pairs], [v for _, v in pairs])
        together = dict(adaptive.adaptive_points(points, clean_pred, y, 16, reference, 1.0, 1.5))
    assert [together[i] for i in range(len(pairs))] == alone
    assert len({columns["n_images"] for columns in alone}) > 1  # points settled after different chunks
    assert torch.equal(clean_pred, evaluators[1].clean_logits.argmax(dim=1))
