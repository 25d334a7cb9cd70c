"""The training loop: schedules, checkpoints and meta, resume equivalence, every method and combination."""

import math

import pytest
import torch

from accelsim import load_dataset
from accelsim.models import load_model
from accelsim.models.checkpoint import REQUIRED_META, load_checkpoint
from accelsim.train import TrainError, default_name, resume_path, train
from accelsim.train.loop import lr_at

from .conftest import tiny_config


class Interrupt(Exception):
    pass


def test_cosine_schedule_runs_from_lr_to_zero():
    config = tiny_config(epochs=4, lr=0.1)
    assert lr_at(config, 0, 10) == pytest.approx(0.1)
    assert lr_at(config, 20, 10) == pytest.approx(0.05)
    assert lr_at(config, 40, 10) == pytest.approx(0.0, abs=1e-12)
    values = [lr_at(config, step, 10) for step in range(40)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_step_schedule_drops_tenfold_at_half_and_three_quarters():
    config = tiny_config(epochs=4, lr=0.1, lr_schedule="step")
    assert [lr_at(config, step, 10) for step in (0, 19, 20, 29, 30)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])


def test_checkpoint_meta_and_accuracy_of_the_quantized_model(tmp_path):
    out = tmp_path / "digits-mlp-test-8b.pt"
    progress = []
    result = train(tiny_config(), out, progress=progress.append)
    assert result.path == out and not resume_path(out).exists()
    _, meta = load_checkpoint(out)
    assert set(REQUIRED_META) <= set(meta)
    assert meta["name"] == "digits-mlp-test-8b" and meta["method"] == "normal" and meta["quant_scheme"] == "rquant"
    assert 0.0 <= meta["sparsity"] <= 1.0 and set(meta["sharpness"]) >= {"max_loss_increase", "hessian_trace"}
    # The recorded accuracy is the engine's, on the whole test split, and equals the last epoch's.
    x, y = load_dataset("digits", "test")
    qm = load_model(out)
    assert meta["clean_accuracy"] == pytest.approx(float((qm.forward(x).argmax(1) == y).float().mean()))
    assert meta["clean_accuracy"] == pytest.approx(result.history[-1]["test_accuracy"])
    batches = math.ceil(256 / 64)
    assert len(progress) == 2 * batches and progress[-1].test_accuracy == meta["clean_accuracy"]


def test_training_learns(tmp_path):
    result = train(tiny_config(epochs=6, train_limit=None))
    assert result.meta["clean_accuracy"] > 0.8
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


@pytest.mark.parametrize("method", [dict(), dict(method="randbet", clip=0.1, p_train=0.05),
                                    dict(method="advbet", clip=0.1, adv_flips=5, p_train=0.05),
                                    dict(method="advbet", clip=0.1, adv_flips=5, adv_steps=2)])
def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, method):
    config = tiny_config(epochs=3, **method)
    whole = train(config)
    out = tmp_path / "m.pt"

    def stop_in_the_second_epoch(event):
        if event.epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(config, out, progress=stop_in_the_second_epoch)
    assert resume_path(out).exists() and not out.exists()
    resumed = train(config, out)
    assert len(resumed.history) == 3
    for key, value in whole.state_dict.items():
        torch.testing.assert_close(resumed.state_dict[key], value, rtol=0, atol=0)


def test_a_resume_file_without_a_newer_config_key_resumes_at_its_default(tmp_path):
    import json

    config = tiny_config(epochs=2)

    def stop_in_the_second_epoch(event):
        if event.epoch == 1:
            raise Interrupt

    def interrupted_with(out, edit):
        with pytest.raises(Interrupt):
            train(config, out, progress=stop_in_the_second_epoch)
        state = torch.load(resume_path(out), weights_only=True)
        torch.save({**state, "config": json.dumps(edit(json.loads(state["config"])))}, resume_path(out))

    def without_new_keys(saved):  # as written before these keys existed
        return {k: v for k, v in saved.items() if k not in ("sharpness", "checkpoint_dtype")}

    out = tmp_path / "m.pt"
    interrupted_with(out, without_new_keys)
    resumed = train(config, out)
    assert [h["epoch"] for h in resumed.history] == [0, 1]
    torch.testing.assert_close(resumed.state_dict["fc1.weight"], train(config).state_dict["fc1.weight"],
                               rtol=0, atol=0)
    other = tmp_path / "n.pt"
    interrupted_with(other, lambda saved: {**saved, "sharpness": False})
    with pytest.raises(TrainError, match="sharpness differ"):
        train(config, other)


def test_skipping_sharpness_records_none():
    assert train(tiny_config(epochs=1, sharpness=False)).meta["sharpness"] is None


def test_resume_file_of_another_config_is_refused(tmp_path):
    out = tmp_path / "m.pt"

    def stop(event):
        if event.epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(tiny_config(epochs=2), out, progress=stop)
    with pytest.raises(TrainError, match="epochs"):
        train(tiny_config(epochs=3), out)


@pytest.mark.parametrize("options", [
    dict(clip=0.1),
    dict(method="randbet", p_train=0.1, fault_model="sa0"),
    dict(method="randbet", p_train=0.02, fault_model="sa1", fault_chip=2),
    dict(method="randbet", fault_model="profile:14nm@0.6"),
    dict(method="saq", act_sparsity=0.1),
    dict(method="saq", clip=0.2, bits=4, scheme="normal"),
    dict(method="randbet", p_train=0.05, clip=0.1, act_sparsity=0.05, lr_schedule="step"),
])
def test_every_method_and_combination_trains(options):
    config = tiny_config(epochs=1, **options)
    result = train(config)
    assert all(math.isfinite(h["train_loss"]) for h in result.history)
    assert result.meta["method"] == config.method_label and result.meta["fault_model"] == config.fault_model
    if config.clip is not None:
        assert all(bool((v.abs() <= torch.tensor(config.clip)).all()) for v in result.state_dict.values())


@pytest.mark.parametrize("options", [
    dict(scheme="int4-g32", method="randbet", p_train=0.02),
    dict(scheme="int8", method="advbet", adv_flips=5, clip=0.1),
    dict(scheme="bf16", method="randbet", p_train=0.05, clip=0.1),
    dict(scheme="fp8-e4m3", method="saq"),
    dict(scheme="bfp-16", method="randbet", fault_model="profile:14nm@0.6"),
])
def test_formats_train_and_load_as_trained(tmp_path, options):
    out = tmp_path / "m.pt"
    config = tiny_config(epochs=1, **options)
    result = train(config, out)
    assert all(math.isfinite(h["train_loss"]) for h in result.history)
    _, meta = load_checkpoint(out)
    assert meta["quant_scheme"] == config.scheme and meta["scheme"] == {"schema_version": 1, "format": config.scheme}
    assert meta["bits"] == config.bits == config.quant_scheme.bits
    qm = load_model(out)
    assert qm.scheme == config.quant_scheme and qm.meta["trained_quant_scheme"] == config.scheme
    x, y = load_dataset("digits", "test")
    assert meta["clean_accuracy"] == pytest.approx(float((qm.forward(x).argmax(1) == y).float().mean()))
    assert meta["clean_accuracy"] == pytest.approx(result.history[-1]["test_accuracy"])


def test_a_format_trains_as_the_engine_stores_it():
    result = train(tiny_config(epochs=4, scheme="int4-g32", train_limit=None))
    assert result.meta["clean_accuracy"] > 0.7
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_activation_penalty_makes_activations_sparser():
    plain = train(tiny_config(epochs=3))
    sparse = train(tiny_config(epochs=3, act_sparsity=2.0))
    assert sparse.meta["sparsity"] > plain.meta["sparsity"]


def test_default_name_follows_the_zoo_convention():
    assert default_name(tiny_config(arch="digits-cnn", clip=0.1)) == "digits-cnn-clipping-8b"
    assert default_name(tiny_config(method="randbet", p_train=0.1, bits=4)) == "digits-mlp-randbet-4b"
    assert default_name(tiny_config(scheme="int4-g128")) == "digits-mlp-normal-int4-g128"


def test_not_a_config():
    with pytest.raises(TrainError, match="TrainConfig"):
        train({"dataset": "digits"})


@pytest.mark.parametrize("threshold, injects", [(1e-6, False), (100.0, True)])
def test_randbet_injects_errors_once_the_clean_loss_is_below_its_start(threshold, injects):
    import torch

    from accelsim import QuantizedModel
    from accelsim.models import build
    from accelsim.quant import get_scheme
    from accelsim.train.loop import _step_function
    from accelsim.train.qat import QatModel

    config = tiny_config(method="randbet", p_train=0.05, randbet_start_loss=threshold)
    torch.manual_seed(0)
    module = build(config.arch)
    x = torch.randn(8, 1, 8, 8)
    y = torch.arange(8) % 10
    names = QuantizedModel.from_torch(module, get_scheme("rquant", 8), x[:2]).tensor_names
    model = QatModel(module, get_scheme("rquant", 8), names)
    step = _step_function(config)
    results = [step(model, x, y, k) for k in range(2)]
    # The first step is always clean at a loss of about log(10) = 2.3; the
    # second injects only when that loss fell below the threshold.
    assert results[0].second_loss is None
    assert (results[1].second_loss is not None) == injects


@pytest.fixture
def tiny_lm():
    """A one-block character LM registered for the test (the shipped char-lm is 0.6 M parameters)."""
    from accelsim.models import register
    from accelsim.models.modern import CharTransformerLM

    spec = register("test-tiny-lm", lambda n: CharTransformerLM(vocab=n, dim=16, depth=1, heads=2), "text",
                    replace=True)
    assert spec.input_shape == (64,) and spec.num_classes == 256  # a text dataset's windows and byte values
    return "test-tiny-lm"


def test_a_language_model_trains_on_next_tokens_and_records_its_perplexity(tmp_path, tiny_lm):
    from accelsim.sweep.metrics import metric_value

    out = tmp_path / "lm.pt"
    config = tiny_config(dataset="text", arch=tiny_lm, scheme="int8", optimizer="adamw", lr=1e-2, epochs=2,
                         batch_size=32, train_limit=256)
    progress = []
    result = train(config, out, progress=progress.append)
    _, meta = load_checkpoint(out)
    assert meta["metric"] == "perplexity" and meta["clean_accuracy"] is None
    assert meta["clean_perplexity"] == pytest.approx(math.exp(meta["clean_loss"]))
    assert meta["clean_perplexity"] < 40  # uniform guessing over 256 byte values: 256
    assert [h["test_accuracy"] for h in result.history] == [None, None]
    assert result.history[1]["test_loss"] < result.history[0]["test_loss"]
    assert progress[-1].test_loss == pytest.approx(meta["clean_loss"]) and progress[-1].test_accuracy is None
    # The recorded perplexity is the sweep's metric of the engine on the whole test split, and on the slice.
    x, _ = load_dataset("text", "test")
    qm = load_model(out)
    assert metric_value("perplexity", qm.forward(x), x, None) == pytest.approx(meta["clean_perplexity"], rel=1e-9)
    piece = meta["clean_metric_slice"]
    assert piece["metric"] == "perplexity" and piece["examples"] == 256
    assert metric_value("perplexity", qm.forward(x[:256]), x[:256], None) == pytest.approx(piece["value"],
                                                                                          rel=1e-9)


def test_init_starts_from_a_checkpoint_of_the_same_architecture(tmp_path):
    first = tmp_path / "first.pt"
    start = train(tiny_config(), first)
    # With a vanishing learning rate, training from the checkpoint keeps its weights (and its accuracy).
    again = train(tiny_config(init=str(first), lr=1e-12, epochs=1, seed=4))
    for name, value in start.state_dict.items():
        torch.testing.assert_close(again.state_dict[name], value, atol=1e-9, rtol=0)
    assert again.meta["clean_accuracy"] == start.meta["clean_accuracy"]
    assert again.meta["config"]["init"] == str(first)
    with pytest.raises(TrainError, match="is a 'digits-mlp' model, not 'digits-cnn'"):
        train(tiny_config(arch="digits-cnn", init=str(first)))


def test_float16_checkpoint_records_the_metric_of_the_rounded_weights(tmp_path):
    out = tmp_path / "half.pt"
    result = train(tiny_config(checkpoint_dtype="float16", optimizer="adamw", lr=1e-2), out)
    state_dict, meta = load_checkpoint(out)
    assert {v.dtype for v in state_dict.values() if v.is_floating_point()} == {torch.float16}
    assert result.path.stat().st_size < train(tiny_config(), tmp_path / "full.pt").path.stat().st_size
    x, y = load_dataset("digits", "test")
    qm = load_model(out)
    assert meta["clean_accuracy"] == pytest.approx(float((qm.forward(x).argmax(1) == y).double().mean()))
    piece = meta["clean_metric_slice"]
    assert piece == {"metric": "accuracy", "examples": 256,
                     "value": pytest.approx(float((qm.forward(x[:256]).argmax(1) == y[:256]).double().mean()))}
