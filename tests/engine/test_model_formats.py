"""QuantizedModel stored in the second-wave number formats."""

import pytest
import torch

from accelsim.engine import QuantizedModel
from accelsim.quant.formats import FORMAT_NAMES, NumberFormat
from tests.engine.conftest import cells_profile
from tests.engine.test_layers import _case


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_reference_module_equals_engine_in_every_format(name, small_net, images):
    for net, x in ((small_net, images), _case("lm")):
        qm = QuantizedModel.from_torch(net, name, x)
        assert qm.bits == NumberFormat(name).bits
        with torch.inference_mode():
            expected = qm.reference_module()(x)
        assert torch.equal(qm.forward(x), expected)


@pytest.mark.parametrize("name", ["fp16", "bf16", "fp8-e4m3", "fp8-e5m2"])
def test_float_formats_hold_torchs_cast(name, small_net, images):
    qm = QuantizedModel.from_torch(small_net, name, images)
    dtype = NumberFormat(name).torch_dtype
    for tensor_name in qm.tensor_names:
        original = small_net.get_parameter(tensor_name).detach()
        assert torch.equal(qm.clean_weights[tensor_name], original.to(dtype).float())


def test_stored_bits_count_scales_and_zero_points(small_net, images):
    qm = QuantizedModel.from_torch(small_net, "int4-g32", images)
    fmt = NumberFormat("int4-g32")
    expected = sum(sum(fmt.layout(p.shape)) for p in small_net.parameters()) * 4
    assert qm.stored_bits == expected


def test_flipped_exponent_gives_inf_that_propagates_and_is_counted(small_net, images):
    qm = QuantizedModel.from_torch(small_net, "fp16", images)
    # Stuck-at-1 on the five exponent bits (10..14) of word 0: the weight becomes inf or NaN.
    profile = cells_profile(list(range(10, 15)), [0.8] * 5, [1] * 5)
    result = qm.run(images, profile, 0.7)
    assert result.nonfinite_weights == 1
    assert not torch.isfinite(result.logits).all()
    assert qm.run(images, profile, 0.9).nonfinite_weights == 0


def test_erred_scale_words_are_counted(small_net, images):
    qm = QuantizedModel.from_torch(small_net, "int4-g32", images)
    fmt = NumberFormat("int4-g32")
    first = small_net.get_parameter(qm.tensor_names[0])
    n_codes, n_aux = fmt.layout(first.shape)
    # One flip in the first code word, one in tensor 0's last aux word (a scale).
    cells = [3, (n_codes + n_aux - 1) * 4 + 1]
    profile = cells_profile(cells, [0.8, 0.8], [2, 2])
    result = qm.run(images, profile, 0.7)
    assert result.flipped_bits == 2 and result.erred_scale_words == 1
    assert not torch.equal(result.logits, qm.forward(images))
