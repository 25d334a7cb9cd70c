"""The second-wave architectures: ViT, MobileNetV2-style, ResNet-18 (CIFAR stem), char LM, VGG-11."""

import pytest
import torch
from torch import nn

from accelsim.engine import QuantizedModel
from accelsim.models import arch_spec, build


def _example(name, batch=2):
    spec = arch_spec(name)
    g = torch.Generator().manual_seed(0)
    if spec.dataset == "text":
        return torch.randint(0, spec.num_classes, (batch, *spec.input_shape), generator=g)
    return torch.randn(batch, *spec.input_shape, generator=g)


@pytest.mark.parametrize("name, shape", [("mnist-vit", (2, 10)), ("cifar-vit", (2, 10)),
                                         ("cifar-mobilenetv2", (2, 10)), ("char-lm", (2, 64, 256))])
def test_engine_runs_each_model_exactly_like_torch(name, shape):
    torch.manual_seed(0)
    net = build(name).eval()
    x = _example(name)
    qm = QuantizedModel.from_torch(net, "int8", x)
    with torch.inference_mode():
        expected = qm.reference_module()(x)
    assert expected.shape == shape and torch.equal(qm.forward(x), expected)
    assert set(qm.tensor_names) == {n for n, _ in net.named_parameters()}


def test_mobilenet_has_depthwise_convolutions_and_hardswish():
    net = build("cifar-mobilenetv2")
    depthwise = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1]
    assert depthwise and any(isinstance(m, nn.Hardswish) for m in net.modules())


def test_resnet18_has_the_cifar_stem_and_11m_parameters():
    net = build("resnet18")
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(11.17e6, rel=0.01)


def test_language_model_is_causal():
    torch.manual_seed(0)
    net = build("char-lm").eval()
    x = _example("char-lm")
    changed = x.clone()
    changed[:, 40:] = (changed[:, 40:] + 1) % 256
    with torch.no_grad():
        assert torch.equal(net(x)[:, :40], net(changed)[:, :40])


# torchvision's vgg11 state dict (weights; every bias is the weight's first dimension).
_VGG11_SHAPES = {
    "features.0": (64, 3, 3, 3), "features.3": (128, 64, 3, 3), "features.6": (256, 128, 3, 3),
    "features.8": (256, 256, 3, 3), "features.11": (512, 256, 3, 3), "features.13": (512, 512, 3, 3),
    "features.16": (512, 512, 3, 3), "features.18": (512, 512, 3, 3),
    "classifier.0": (4096, 25088), "classifier.3": (4096, 4096), "classifier.6": (1000, 4096)}


def test_vgg11_has_torchvisions_exact_layers():
    from accelsim.models.modern import VGG11

    with torch.device("meta"):  # shapes only: no 0.5 GB of weights
        net = VGG11()
        logits = net(torch.empty(2, 3, 224, 224))
    expected = {f"{layer}.{kind}": shape if kind == "weight" else shape[:1]
                for layer, shape in _VGG11_SHAPES.items() for kind in ("weight", "bias")}
    assert {name: tuple(p.shape) for name, p in net.named_parameters()} == expected
    assert sum(p.numel() for p in net.parameters()) == 132_863_336 and logits.shape == (2, 1000)
    assert [type(m).__name__ for m in net.features].count("MaxPool2d") == 5


def test_a_narrow_vgg11_runs_in_the_engine_exactly_like_torch():
    from accelsim.models.modern import VGG11

    torch.manual_seed(0)
    net = VGG11(num_classes=10, width_divisor=32).eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    qm = QuantizedModel.from_torch(net, "int8", x)
    with torch.inference_mode():
        expected = qm.reference_module()(x)
    assert expected.shape == (2, 10) and torch.equal(qm.forward(x), expected)
    assert len(qm.tensor_names) == 22
