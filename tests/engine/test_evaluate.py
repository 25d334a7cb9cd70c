import numpy as np
import torch

from accelsim.engine import QuantizedModel
from accelsim.engine.evaluate import CleanRun
from tests.engine.conftest import cells_profile


def _last_layer_faults(qm, n_faults=40):
    """A profile whose only faulty cells (flip) hold the last tensor's bits."""
    start = qm.stored_bits - qm.clean_weights[qm.tensor_names[-1]].numel() * qm.bits
    cells = np.linspace(start, qm.stored_bits - 1, n_faults).astype(np.int64)
    return cells_profile(cells, np.full(n_faults, 0.7), np.full(n_faults, 2, np.uint8),
                         arrays=qm.stored_bits // 4096 + 1)


def test_suffix_run_is_bit_identical_to_full_run(small_net, images):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    profile = _last_layer_faults(qm)
    cached = qm.evaluator(images, profile, batch_size=16)
    full = qm.evaluator(images, profile, batch_size=16, cache_bytes=0)
    fast, slow = cached.run(0.6), full.run(0.6)
    assert fast.changed_tensors == (qm.tensor_names[-1],)
    assert fast.first_changed_step == slow.first_changed_step > 0
    # The cache must have kicked in: the cached run executed fewer steps than the full one.
    assert slow.first_executed_step == 0
    assert 0 < fast.first_executed_step <= fast.first_changed_step
    assert torch.equal(fast.logits, slow.logits)
    assert not torch.equal(fast.logits, cached.clean_logits)


def test_clean_logits_follow_inputs_changed_in_place(small_net, images, uniform):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    x = images.clone()
    before = qm.evaluator(x, uniform).clean_logits.clone()
    x.mul_(-1)  # same tensor object, new content
    after = qm.evaluator(x, uniform).clean_logits
    assert not torch.equal(before, after)
    assert torch.equal(after, qm.forward(x))


def test_voltage_above_every_fault_reuses_clean_logits(small_net, images):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    evaluator = qm.evaluator(images, _last_layer_faults(qm))
    result = evaluator.run(0.75)
    assert result.faulty_cells == 0 and result.changed_tensors == ()
    assert result.logits is evaluator.clean_logits
    assert result.first_executed_step == result.first_changed_step > 0  # nothing executed


def test_evaluations_are_repeatable(small_net, images, uniform):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    vdd = uniform.voltage_for_ber(0.05)
    a = qm.evaluator(images, uniform, chip=3).run(vdd)
    b = qm.evaluator(images, uniform, chip=3).run(vdd)
    assert torch.equal(a.logits, b.logits) and a.flipped_bits == b.flipped_bits


def test_batches_do_not_change_results(small_net, images, uniform):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    vdd = uniform.voltage_for_ber(0.05)
    one = qm.evaluator(images, uniform, batch_size=64).run(vdd).logits
    many = qm.evaluator(images, uniform, batch_size=7).run(vdd).logits
    torch.testing.assert_close(one, many, rtol=1e-5, atol=1e-5)


def test_a_range_of_batches_gives_those_rows_of_the_full_run(small_net, images, uniform):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    evaluator = qm.evaluator(images, uniform, chip=2, batch_size=10)
    for vdd in (uniform.vdd_nominal_v, uniform.voltage_for_ber(0.05)):
        full = evaluator.run(vdd).logits
        part = evaluator.run(vdd, batches=range(2, 5))
        assert torch.equal(part.logits, full[20:50])
        assert torch.equal(evaluator.run(vdd, batches=range(6, 7)).logits, full[60:64])


def test_planned_starts_keep_only_the_cuts_runs_start_from(small_net, images, uniform):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    full = qm.evaluator(images, uniform, batch_size=16)._clean
    assert len(full.cuts) > 1
    late = full.cuts[-1]
    clean = CleanRun(qm.program, qm.clean_weights, images, batch_size=16)
    clean.plan_starts([late, late + 1, 0])  # 0: the start, never cached
    assert clean.cuts == (late,)
    weights = {**qm.clean_weights}
    name = qm.program.steps[late].weight_names[0]
    weights[name] = weights[name] * 0.5
    torch.testing.assert_close(clean.run_from(late, weights), full.run_from(late, weights), rtol=0, atol=0)
    assert clean.start_for(late) == late
    clean.plan_starts([])  # once the clean pass ran, the plan no longer changes
    assert clean.cuts == (late,)
