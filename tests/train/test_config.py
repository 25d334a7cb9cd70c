"""TrainConfig: defaults, validation of every field and combination, dict round trip."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim._errors import UserInputError
from accelsim.train import TrainConfig, TrainError
from accelsim.train.config import method_label


def test_defaults_are_the_published_settings():
    config = TrainConfig("digits", "digits-cnn")
    assert (config.lr, config.momentum, config.weight_decay, config.batch_size) == (0.05, 0.9, 5e-4, 128)
    assert config.randbet_grad_clip == 0.05
    assert config.method_label == "normal" and config.dataset_name == "digits"


def test_randbet_defaults_to_uniform_flips():
    assert TrainConfig("digits", "digits-cnn", method="randbet", p_train=0.1).fault_model == "flip"


@pytest.mark.parametrize("method, clip, label", [("normal", None, "normal"), ("normal", 0.1, "clipping"),
                                                 ("randbet", 0.1, "randbet"), ("saq", 0.1, "saq")])
def test_method_label(method, clip, label):
    assert method_label(method, clip) == label


@given(bits=st.sampled_from([2, 4, 8]), clip=st.none() | st.floats(1e-3, 1.0),
       p_train=st.floats(1e-4, 0.5), seed=st.integers(0, 2**31), epochs=st.integers(1, 50),
       fault=st.sampled_from(["flip", "sa0", "sa1"]), chip=st.none() | st.integers(0, 100))
@settings(max_examples=25, deadline=None)
def test_dict_round_trip(bits, clip, p_train, seed, epochs, fault, chip):
    config = TrainConfig("digits", "digits-cnn", bits=bits, method="randbet", clip=clip, p_train=p_train,
                         fault_model=fault, fault_chip=chip, seed=seed, epochs=epochs)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize("overrides, field", [
    (dict(method="clipping"), "method"),
    (dict(arch="lenet"), "arch 'lenet'"),
    (dict(arch="no-such-net"), "no-such-net"),
    (dict(bits=9), "bits"),
    (dict(scheme="fancy"), "scheme"),
    (dict(clip=0.0), "clip"),
    (dict(clip=float("nan")), "clip"),
    (dict(epochs=0), "epochs"),
    (dict(batch_size=1.5), "batch_size"),
    (dict(lr=-0.1), "lr"),
    (dict(momentum=1.0), "momentum"),
    (dict(act_sparsity=-1e-3), "act_sparsity"),
    (dict(lr_schedule="linear"), "lr_schedule"),
    (dict(seed=-1), "seed"),
    (dict(train_limit=0), "train_limit"),
    (dict(p_train=0.1), "p_train"),
    (dict(fault_model="sa0"), "fault_model"),
    (dict(method="randbet"), "needs p_train"),
    (dict(method="randbet", p_train=0.6), "p_train"),
    (dict(method="randbet", p_train=0.1, fault_model="stuck"), "fault model"),
    (dict(method="randbet", p_train=0.1, fault_model="profile:14nm@x"), "not a supply voltage"),
    (dict(method="randbet", p_train=0.1, fault_model="profile:14nm@0.6"), "conflicts"),
    (dict(randbet_start_loss=1.75), "randbet_start_loss"),
    (dict(method="randbet", p_train=0.1, randbet_start_loss=0.0), "randbet_start_loss"),
    (dict(optimizer="adam"), "optimizer"),
    (dict(checkpoint_dtype="bfloat16"), "checkpoint_dtype"),
    (dict(init=""), "init"),
    (dict(dataset="text"), "built for digits"),
])
def test_invalid_options_name_the_field(overrides, field):
    with pytest.raises(UserInputError, match=field):
        TrainConfig(**{"dataset": "digits", "arch": "digits-cnn", **overrides})


def test_from_dict_rejects_unknown_keys_and_versions():
    data = TrainConfig("digits", "digits-cnn").to_dict()
    with pytest.raises(TrainError, match="unknown"):
        TrainConfig.from_dict({**data, "warmup_steps": 100})
    with pytest.raises(TrainError, match="schema_version"):
        TrainConfig.from_dict({**data, "schema_version": 99})


# -- number formats ---------------------------------------------------------------------
@pytest.mark.parametrize("scheme, bits", [("int8", 8), ("int4", 4), ("int4-g32", 4), ("int8-g128", 8),
                                          ("fp16", 16), ("bf16", 16), ("fp8-e5m2", 8), ("bfp-32", 8)])
def test_a_format_fixes_its_width(scheme, bits):
    config = TrainConfig("digits", "digits-cnn", scheme=scheme)
    assert config.bits == bits and config.is_format and config.quant_scheme.name == scheme
    assert TrainConfig("digits", "digits-cnn", scheme=scheme, bits=bits) == config  # the same width is fine
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_presets_keep_eight_bits_by_default():
    config = TrainConfig("digits", "digits-cnn")
    assert config.bits == 8 and not config.is_format and config.to_dict()["bits"] == 8


@pytest.mark.parametrize("overrides, message", [
    (dict(scheme="int4-g32", bits=8), "stores 4-bit words; bits = 8 cannot change it"),
    (dict(scheme="fp16", bits=8), "stores 16-bit words"),
    (dict(scheme="int4-g48"), "group size 48 is not supported"),
    (dict(scheme="int4-g128", method="advbet", adv_flips=4), "AdvBET ranks bits one word per weight"),
    (dict(scheme="bf16", method="advbet", adv_flips=4), "AdvBET ranks bits one word per weight"),
    (dict(scheme="bfp-16", method="advbet", adv_flips=4), "AdvBET ranks bits one word per weight"),
])
def test_bad_format_combinations_are_refused(overrides, message):
    with pytest.raises(TrainError, match=message):
        TrainConfig("digits", "digits-cnn", **overrides)


def test_advbet_takes_per_channel_integer_formats():
    assert TrainConfig("digits", "digits-cnn", scheme="int4", method="advbet", adv_flips=4).bits == 4
