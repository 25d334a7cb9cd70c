"""The model zoo: shipped records, loading, re-quantization, errors, robustness and reproducibility."""

import numpy as np
import pytest
import torch

import accelsim
from accelsim import load_dataset
from accelsim.models import ZooError, load_model, model_path, zoo
from accelsim.models.zoo import ZOO_DIR
from accelsim.quant import QuantError
from accelsim.sram import uniform_profile
from accelsim.train import TrainConfig, load_checkpoint, train

SWEEP_DEFAULTS = ("digits-cnn-normal-8b", "digits-cnn-clipping-8b", "digits-cnn-randbet-8b")
METHODS = ("normal", "clipping", "randbet", "saq")


@pytest.fixture(scope="module")
def digits_test():
    return load_dataset("digits", "test")


def _accuracy(qm, x, y):
    return float((qm.forward(x).argmax(1) == y).float().mean())


def test_zoo_ships_the_digits_models_the_default_sweep_uses():
    names = {record.name for record in zoo()}
    assert set(SWEEP_DEFAULTS) <= names
    assert {f"digits-cnn-{m}-{b}b" for m in METHODS for b in (8, 4)} <= names
    assert accelsim.zoo() == zoo()


@pytest.mark.parametrize("record", zoo(), ids=lambda r: r.name)
def test_records_describe_their_checkpoint(record):
    _, meta = load_checkpoint(record.path)
    assert record.path.stat().st_size < 1_000_000
    assert record.name == record.path.stem == meta["name"]
    assert record.name.startswith(f"{record.dataset}-") and record.name.endswith(f"-{record.bits}b")
    assert record.method in (*METHODS, "advbet") and f"-{record.method}" in record.name
    assert (record.method == "clipping") == (meta["config"]["method"] == "normal" and record.clip is not None)
    if record.method == "advbet":  # AdvBET mixes in random errors only when given a rate
        assert meta["adv_flips"] >= 1
    else:
        assert (record.p_train is not None) == (record.method == "randbet" and meta["fault_model"] != "profile")
    assert record.quant_scheme == "rquant" and 0.5 < record.clean_accuracy <= 1.0
    assert set(record.to_dict()) == {"name", "dataset", "arch", "method", "clip", "p_train", "bits",
                                     "quant_scheme", "clean_accuracy", "path"}


@pytest.mark.parametrize("name", [r.name for r in zoo() if r.dataset == "digits"])
def test_loaded_model_has_the_recorded_accuracy(name, digits_test):
    qm = load_model(name)
    record = next(r for r in zoo() if r.name == name)
    assert qm.bits == record.bits and qm.meta["method"] == record.method
    assert qm.meta["quant_scheme"] == "rquant" and qm.meta["name"] == name
    assert _accuracy(qm, *digits_test) == pytest.approx(record.clean_accuracy)


def test_requantization_at_other_bits_and_schemes():
    qm = load_model("digits-cnn-normal-8b", bits=4)
    assert qm.bits == 4 and qm.meta["bits"] == 4 and qm.meta["trained_bits"] == 8
    assert int(qm.words.max()) < 16
    normal = load_model("digits-cnn-normal-8b", scheme="normal")
    assert normal.scheme.name == "normal" and normal.meta["quant_scheme"] == "normal"
    assert normal.meta["trained_quant_scheme"] == "rquant"


def test_path_and_name_load_the_same_model(tmp_path):
    path = model_path("digits-cnn-randbet-8b")
    assert path == ZOO_DIR / "digits-cnn-randbet-8b.pt"
    np.testing.assert_array_equal(load_model(path).words, load_model("digits-cnn-randbet-8b").words)
    assert model_path(str(path)) == path


def test_unknown_name_lists_the_zoo():
    with pytest.raises(ZooError, match="digits-cnn-normal-8b") as info:
        load_model("digits-cnn-randbett-8b")
    assert "did you mean 'digits-cnn-randbet-8b'" in str(info.value)


def test_bits_that_cannot_be_stored_are_refused():
    with pytest.raises(QuantError, match="bits"):
        load_model("digits-cnn-normal-8b", bits=9)


def _robust_error(qm, x, y, rate, chips=3):
    profile = uniform_profile(0.2)
    clean = qm.forward(x).argmax(1)
    vdd_v = profile.voltage_for_ber(rate)
    errors = [float(((qm.run(x, profile, vdd_v, chip=c).logits.argmax(1) != y) | (clean != y)).float().mean())
              for c in range(chips)]
    return float(np.mean(errors))


@pytest.mark.parametrize("bits", [8, 4])
def test_clipping_and_randbet_are_robust_where_normal_training_collapses(bits, digits_test):
    x, y = digits_test
    models = {m: load_model(f"digits-cnn-{m}-{bits}b") for m in ("normal", "clipping", "randbet")}
    at_5 = {m: _robust_error(qm, x, y, rate=0.05) for m, qm in models.items()}
    at_10 = {m: _robust_error(qm, x, y, rate=0.1) for m, qm in models.items()}
    # Stutz et al.: clipping holds where normal training collapses; RandBET holds further still.
    assert at_5["normal"] > 0.4 and at_5["clipping"] < 0.2 and at_5["randbet"] < 0.2
    assert at_10["normal"] > 0.6 and at_10["randbet"] < 0.2


@pytest.fixture
def one_thread():
    """The zoo is trained on one torch thread; so is its reproduction (and it stays fast on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_retraining_reproduces_the_shipped_model(one_thread):
    record = next(r for r in zoo() if r.name == "digits-cnn-clipping-8b")
    _, meta = load_checkpoint(record.path)
    result = train(TrainConfig.from_dict(meta["config"]))
    assert result.meta["clean_accuracy"] == pytest.approx(record.clean_accuracy, abs=0.02)
    assert result.meta["sparsity"] == pytest.approx(meta["sparsity"], abs=0.05)
