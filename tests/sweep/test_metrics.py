"""Metrics of one pass (accuracy, top5, loss, perplexity) and sweeps of a language model."""

import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from accelsim.models import build
from accelsim.models.checkpoint import save_checkpoint
from accelsim.sweep import SweepError, SweepSpec, run_sweep
from accelsim.sweep.metrics import MetricError, check_metric, metric_value, robust_error
from accelsim.sweep.results import POINT_COLUMNS, read_csv


def test_classifier_metrics_against_hand_computed_values():
    logits = torch.tensor([[3.0, 1, 0, 0, 0, 0], [0, 2.0, 3, 0, 0, 0], [1, 0, 0, 0, 0, 2.0]])
    y = torch.tensor([0, 1, 0])
    assert metric_value("accuracy", logits, None, y) == pytest.approx(1 / 3)
    assert metric_value("top5", logits, None, y) == pytest.approx(1.0)
    loss = float(F.cross_entropy(logits.double(), y))
    assert metric_value("loss", logits, None, y) == pytest.approx(loss)
    assert metric_value("perplexity", logits, None, y) == pytest.approx(math.exp(loss))


def test_language_model_metrics_predict_the_next_token():
    x = torch.tensor([[1, 2, 3, 1]])
    logits = torch.full((1, 4, 5), -10.0)
    logits[0, torch.arange(4), torch.tensor([2, 3, 0, 4])] = 10.0  # right, right, wrong, (last unused)
    loss = metric_value("loss", logits, x, None)
    expected = float(F.cross_entropy(logits[0, :3].double(), x[0, 1:]))
    assert loss == pytest.approx(expected)
    assert metric_value("perplexity", logits, x, None) == pytest.approx(math.exp(expected))
    with pytest.raises(MetricError, match="needs labels"):
        metric_value("accuracy", logits, x, None)


def test_nonfinite_logits_propagate_into_the_loss():
    logits = torch.tensor([[float("nan"), 0.0], [1.0, 0.0]])
    assert math.isnan(metric_value("loss", logits, None, torch.tensor([0, 0])))


def test_robust_error_counts_clean_mistakes_too():
    y = torch.tensor([0, 1])
    clean = torch.tensor([[1.0, 0], [1.0, 0]])  # second wrong
    faulty = torch.tensor([[0.0, 1], [0.0, 1]])  # first wrong
    assert robust_error("accuracy", faulty, clean, None, y) == 1.0
    with pytest.raises(MetricError):
        robust_error("loss", faulty, clean, None, y)


def test_unknown_metric():
    with pytest.raises(MetricError, match="expected one of"):
        check_metric("f1")


@pytest.fixture(scope="module")
def lm_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    net = build("char-lm")
    meta = {"schema_version": 1, "name": "tiny-lm", "arch": "char-lm", "dataset": "text", "bits": 8,
            "quant_scheme": "int8", "scheme": {"schema_version": 1, "format": "int8"}, "method": "normal",
            "clip": None, "p_train": None, "clean_accuracy": None}
    return str(save_checkpoint(tmp_path_factory.mktemp("lm") / "tiny-lm.pt", net.state_dict(), meta))


def _spec(model, **changes):
    base = dict(models=(model,), profile="14nm", voltages_v=(0.8, 0.62), chips=1, limit=8,
                dataset="text", metric="perplexity")
    return SweepSpec(**{**base, **changes})


def test_language_model_sweep_writes_metric_columns(lm_checkpoint, tmp_path):
    result = run_sweep(_spec(lm_checkpoint, scheme="int4-g32"), tmp_path)
    rows = read_csv(result.directory / "sweep.csv")
    assert list(rows[0]) == list(POINT_COLUMNS) and POINT_COLUMNS.index("metric_value") == POINT_COLUMNS.index("metric") + 1
    assert all(r["metric"] == "perplexity" and r["quant_scheme"] == "int4-g32" for r in rows)
    assert all(r["model"].endswith("@int4-g32") for r in rows)  # the label says it was re-quantized
    values = [float(r["metric_value"]) for r in rows]
    assert values[0] == pytest.approx(256, rel=0.3)  # an untrained model guesses among 256 bytes
    assert rows[0]["accuracy"] == ""  # no labels: no accuracy


def test_language_model_accuracy_without_labels_is_refused(lm_checkpoint, tmp_path):
    with pytest.raises(MetricError, match="needs labels"):
        run_sweep(_spec(lm_checkpoint, metric="accuracy"), tmp_path)
    done = subprocess.run([sys.executable, "-m", "accelsim", "sweep", "--model", lm_checkpoint, "--dataset",
                           "text", "--voltages", "0.8,0.6", "--chips", "1", "--limit", "4", "--quiet",
                           "--out", str(tmp_path / "cli")], capture_output=True, text=True)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "needs labels" in done.stderr


def test_bad_metric_in_spec():
    with pytest.raises(SweepError, match="--metric"):
        SweepSpec(metric="f1")


def test_classifier_sweep_top5(tmp_path):
    result = run_sweep(SweepSpec(models=("digits-cnn-normal-8b",), voltages_v=(0.8,), chips=1, limit=50,
                                 metric="top5"), tmp_path)
    row = result.rows[0]
    assert row["metric"] == "top5" and row["metric_value"] >= row["accuracy"]
