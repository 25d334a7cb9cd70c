"""Tests of accelsim.models.registry: every architecture builds, runs, traces and imports."""

import operator

import pytest
import torch
import torch.fx
from torch import nn

from accelsim._errors import UserInputError
from accelsim.data import DATASET_NAMES, dataset_info
from accelsim.models import (
    ArchitectureError,
    ArchSpec,
    ModelNameError,
    arch_spec,
    build,
    names,
)

# What the quantized engine executes (issue 3, part 2).
SUPPORTED_MODULES = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.GroupNorm, nn.ReLU, nn.ReLU6, nn.MaxPool2d,
                     nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten, nn.Dropout)
SUPPORTED_FUNCTIONS = (operator.add, torch.flatten)

# The second wave's transformers and modern CNNs have their own tests (test_modern.py).
SECOND_WAVE = ("mnist-vit", "cifar-vit", "cifar-mobilenetv2", "resnet18", "char-lm")
ALL_NAMES = [n for n in names() if n not in SECOND_WAVE]


def _example(spec, batch=2):
    return torch.randn(batch, *spec.input_shape, generator=torch.Generator().manual_seed(0))


def test_the_reference_architectures_are_registered():
    assert set(ALL_NAMES) == {"digits-mlp", "digits-cnn", "lenet", "lenet-gn", "mnist-simplenet",
                              "mnist-simplenet-s", "resnet20", "cifar-simplenet"}
    assert sorted(sum((names(d) for d in DATASET_NAMES), [])) == sorted(names())
    assert names("mnist") == ["lenet", "lenet-gn", "mnist-simplenet", "mnist-simplenet-s", "mnist-vit"]


@pytest.mark.parametrize("name", ALL_NAMES)
def test_spec_matches_its_dataset(name):
    spec = arch_spec(name)
    info = dataset_info(spec.dataset)
    assert spec.name == name
    assert spec.input_shape == info.input_shape and spec.num_classes == info.num_classes


@pytest.mark.parametrize("name", ALL_NAMES)
def test_forward_pass_on_the_dataset_shape(name):
    spec = arch_spec(name)
    model = build(name).eval()
    with torch.no_grad():
        logits = model(_example(spec))
    assert logits.shape == (2, spec.num_classes) and torch.isfinite(logits).all()
    assert build(name, num_classes=3).eval()(_example(spec)).shape == (2, 3)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_symbolic_trace_uses_only_supported_operations(name):
    spec = arch_spec(name)
    model = build(name).eval()
    traced = torch.fx.symbolic_trace(model)
    for node in traced.graph.nodes:
        if node.op == "call_module":
            assert isinstance(traced.get_submodule(node.target), SUPPORTED_MODULES), node.format_node()
        elif node.op in ("call_function", "call_method"):
            assert node.target in SUPPORTED_FUNCTIONS, node.format_node()
    x = _example(spec)
    with torch.no_grad():
        assert torch.equal(traced(x), model(x))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_imports_into_the_quantized_engine(name):
    from accelsim.engine import QuantizedModel

    spec = arch_spec(name)
    model = build(name).eval()
    x = _example(spec, batch=3)
    quantized = QuantizedModel.from_torch(model, "rquant", x[:1])
    with torch.no_grad():
        assert quantized.reference_module()(x).shape == (3, spec.num_classes)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_build_follows_the_caller_seed_and_never_reseeds(name):
    torch.manual_seed(123)
    first, second = build(name), build(name)
    torch.manual_seed(123)
    again = build(name)
    first_state, second_state, again_state = (m.state_dict() for m in (first, second, again))
    assert all(torch.equal(first_state[k], again_state[k]) for k in first_state)
    assert not all(torch.equal(first_state[k], second_state[k]) for k in first_state)


def test_unknown_name_lists_the_valid_names_and_suggests_one():
    with pytest.raises(ModelNameError, match=r"unknown architecture 'resnet-20' \(did you mean 'resnet20'\?\); "
                                             r"expected one of: digits-mlp, digits-cnn, lenet"):
        build("resnet-20")
    with pytest.raises(ModelNameError, match=r"unknown architecture 42; expected one of"):
        arch_spec(42)
    assert issubclass(ModelNameError, UserInputError) and issubclass(ArchitectureError, UserInputError)


@pytest.mark.parametrize("num_classes", [1, 0, 2.5, True, "10"])
def test_bad_num_classes(num_classes):
    with pytest.raises(ArchitectureError, match=rf"architecture lenet: num_classes is {num_classes!r}; "
                                                r"expected an int >= 2"):
        build("lenet", num_classes)


def test_names_rejects_an_unknown_dataset():
    expected = r"dataset is 'svhn'; expected None or one of digits, mnist, fashion-mnist, cifar10"
    with pytest.raises(ArchitectureError, match=expected):
        names("svhn")


@pytest.mark.parametrize("changes, message", [
    (dict(name=""), r"ArchSpec.name is ''"),
    (dict(dataset="svhn"), r"ArchSpec x: dataset is 'svhn'; expected one of digits, mnist, fashion-mnist, cifar10"),
    (dict(input_shape=(1, 8)), r"input_shape is \(1, 8\); expected \(channels, height, width\)"),
    (dict(num_classes=1), r"ArchSpec x: num_classes is 1"),
    (dict(factory="lenet"), r"factory is 'lenet'; expected a callable"),
])
def test_arch_spec_validates_itself(changes, message):
    fields = dict(name="x", dataset="digits", input_shape=(1, 8, 8), num_classes=10, factory=nn.Flatten)
    fields.update(changes)
    with pytest.raises(ArchitectureError, match=message):
        ArchSpec(**fields)
