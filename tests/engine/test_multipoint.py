import numpy as np
import pytest
import torch

from accelsim.engine import QuantizedModel, _batching
from accelsim.engine.multipoint import run_points
from tests.engine.conftest import cells_profile


def _assert_same(results, expected):
    assert len(results) == len(expected)
    for got, want in zip(results, expected):
        assert torch.equal(got.logits, want.logits)
        assert (got.faulty_cells, got.flipped_bits, got.changed_tensors, got.first_step, got.tiled) == (
            want.faulty_cells, want.flipped_bits, want.changed_tensors, want.first_step, want.tiled)


@pytest.mark.parametrize("threads", [1, 2])
def test_many_chips_and_voltages_give_the_rows_of_one_at_a_time(small_net, images, uniform, threads):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    voltages = [uniform.vdd_nominal_v] + [float(uniform.voltage_for_ber(b)) for b in (1e-3, 1e-2, 0.05, 0.2)]
    evaluators = [qm.evaluator(images, uniform, chip=c, batch_size=16) for c in range(4)]
    pairs = [(e, v) for e in evaluators for v in voltages]
    expected = [e.run(v) for e, v in pairs]
    with _batching.batch_threads(threads):
        results = run_points([e for e, _ in pairs], [v for _, v in pairs])
    _assert_same(results, expected)
    assert sum(r.first_step == 1 for r in results) > 1  # some points did share the stem convolution


def test_points_faulty_in_a_late_linear_layer_start_from_the_cache(small_net, images):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    # Faults only in the last tensor (fc2's bias): every point starts at a cached cut.
    start = qm.stored_bits - qm.clean_weights[qm.tensor_names[-1]].numel() * qm.bits
    cells = np.linspace(start, qm.stored_bits - 1, 8).astype(np.int64)
    profile = cells_profile(cells, np.linspace(0.9, 0.6, 8), np.full(8, 2, np.uint8),
                            arrays=qm.stored_bits // 4096 + 1)
    evaluator = qm.evaluator(images, profile, batch_size=20)
    voltages = [0.85, 0.75, 0.65, 0.55]
    results = run_points([evaluator] * len(voltages), voltages)
    _assert_same(results, [evaluator.run(v) for v in voltages])
    assert all(r.first_step > 0 for r in results)


# lenet-gn: a group norm right after the first faulty convolution, so no channel-local chain:
# the convolution's own output is assembled from the changed channels.
@pytest.mark.parametrize("arch, bers, seed", [("lenet", (1e-3, 5e-3, 2e-2), 0), ("lenet-gn", (3e-4, 2e-3, 2e-2), 2)])
def test_lenet_points_match_one_at_a_time(arch, bers, seed):
    from accelsim.models import build
    from accelsim.sram import uniform_profile

    torch.manual_seed(seed)
    x = torch.randn(48, 1, 28, 28)
    qm = QuantizedModel.from_torch(build(arch).eval(), "rquant", x[:4])
    profile = uniform_profile(0.05)
    voltages = [float(profile.voltage_for_ber(b)) for b in bers]
    evaluators = [qm.evaluator(x, profile, chip=c, batch_size=16) for c in range(3)]
    pairs = [(e, v) for e in evaluators for v in voltages]
    _assert_same(run_points([e for e, _ in pairs], [v for _, v in pairs]), [e.run(v) for e, v in pairs])


def test_evaluators_of_other_inputs_are_refused(small_net, images, uniform):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    a = qm.evaluator(images, uniform, batch_size=16)
    b = qm.evaluator(images[:10], uniform, batch_size=16)
    with pytest.raises(ValueError, match="share one clean pass"):
        run_points([a, b], [0.9, 0.9])


def test_points_with_some_channels_changed_take_the_others_from_the_clean_output():
    from accelsim.engine.multipoint import _changed_channels
    from accelsim.models import build

    torch.manual_seed(1)
    x = torch.randn(40, 1, 28, 28)
    qm = QuantizedModel.from_torch(build("lenet").eval(), "rquant", x[:4])
    # Faulty cells only in conv1's weights of channels 1 and 4, and all over conv2 later.
    conv1 = qm.clean_weights["conv1.weight"]
    per_channel = conv1[0].numel() * qm.bits
    cells = np.concatenate([np.arange(per_channel, per_channel + 40, 7),
                            np.arange(4 * per_channel + 3, 4 * per_channel + 60, 11),
                            np.arange(qm.stored_bits // 2, qm.stored_bits // 2 + 400, 13)]).astype(np.int64)
    fail_v = np.linspace(0.9, 0.5, len(cells))
    profile = cells_profile(cells, fail_v, np.full(len(cells), 2, np.uint8), arrays=qm.stored_bits // 4096 + 1)
    evaluator = qm.evaluator(x, profile, batch_size=16)
    voltages = [0.88, 0.8, 0.7, 0.6, 0.52]
    expected = [evaluator.run(v) for v in voltages]
    clean = evaluator._clean
    step = clean.program.steps[expected[-1].first_step]
    widths = set()
    for v in voltages:
        read = evaluator._memory.read_sparse(v, 0)
        weights = qm.patched_weights(read.word_index, read.words, qm.tensor_names)
        widths.add(len(_changed_channels(step, weights, clean._weights)))
    assert widths & {1, 2} and max(widths) < 6  # the test reaches partial channel sets
    with _batching.batch_threads(2):
        _assert_same(run_points([evaluator] * len(voltages), voltages), expected)
