import torch

from accelsim.engine import QuantizedModel, _batching


def test_batch_size_is_a_clamped_power_of_two(small_net, images):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    program, weights = qm._program, qm.clean_weights
    sizes = [_batching.auto_batch_size(program, weights, images, cache_bytes=c)
             for c in (1, 2**20, 2**24, 2**26, 2**40)]
    assert sizes == sorted(sizes)
    assert sizes[0] == _batching.MIN_BATCH and sizes[-1] == _batching.MAX_BATCH
    assert all(s & (s - 1) == 0 for s in sizes)
    assert _batching.MIN_BATCH <= qm.batch_size_for(images) <= _batching.MAX_BATCH


def test_smaller_caches_or_larger_activations_give_smaller_batches(small_net, images):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    # SmallNet's largest activation is 4 x 8 x 8 float32 = 1 KiB per example (stem output).
    big = _batching.auto_batch_size(qm._program, qm.clean_weights, images, cache_bytes=4 * 1024 * 1024)
    assert big == 1024
    small = _batching.auto_batch_size(qm._program, qm.clean_weights, images, cache_bytes=4 * 256 * 1024)
    assert small == 256


def test_threads_give_bit_identical_logits(small_net, images, uniform):
    qm = QuantizedModel.from_torch(small_net, "rquant", images)
    vdd = uniform.voltage_for_ber(0.02)
    serial = qm.evaluator(images, uniform, chip=1, batch_size=5).run(vdd).logits
    serial_clean = qm.evaluator(images, uniform, chip=1, batch_size=5).clean_logits
    qm = QuantizedModel.from_torch(small_net, "rquant", images)  # no shared clean pass
    with _batching.batch_threads(3):
        evaluator = qm.evaluator(images, uniform, chip=1, batch_size=5)
        assert torch.equal(evaluator.clean_logits, serial_clean)
        assert torch.equal(evaluator.run(vdd).logits, serial)


def test_map_batches_keeps_order_and_restores_the_thread_count():
    with _batching.batch_threads(2):
        assert _batching.map_batches(lambda b: b * 10, list(range(7))) == [b * 10 for b in range(7)]
    assert _batching.map_batches(lambda b: b, [3, 1]) == [3, 1]
    assert _batching._threads == 1 and _batching._pool is None
