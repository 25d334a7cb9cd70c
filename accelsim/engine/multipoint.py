"""Several faulty points (chips or voltages of one model on one input) in one pass.

Points whose first faulty layer is the same convolution (``groups == 1``),
starting from the same cached clean activation, share
everything up to and including that layer: the clean prefix runs once, and
the layer runs once with the points' weights stacked along its output
channels, so its input is read once for all of them. Output channels of a
convolution are computed independently of each other, so
every point's slice is bit-identical to running that point alone (tested);
from the next layer on, each point continues on its own.

Only the output channels whose weights changed are stacked: at a bit error
rate of 1e-3 most of LeNet's first-layer channels hold no faulty bit. The
changed channels go on through the channel-local ops after the layer (ReLU,
max pooling: :meth:`Program.channel_chain_end`), and each point's value at
the chain's end is the clean value, computed once per batch and pass, with
its changed channels copied in.

Measured on the development machine (torch at one thread, 256 MNIST images,
5 points): LeNet's first convolution for five weight sets stacked took 0.39x
the time of five separate calls, bit-identical; a grouped convolution over
points whose *inputs* differ was slower (2.4x) and not bit-identical, so the
layers after the shared one run per point. Changed channels only: the
MNIST LeNet sweep of ``benchmarks/bench_sweep.py`` (50 points, BER 1e-3 to
5e-2) 11.9 -> 8.2 s, idle machine, rows byte-identical.
"""

import torch

from accelsim.engine import sparse
from accelsim.engine._batching import map_batches, thread_count
from accelsim.engine.evaluate import RunResult

__all__ = ["run_points", "iter_points", "read_points", "iter_read_points"]

# Linear layers are not shared: a stacked matrix product takes other blocking
# in the BLAS and changed the last bits of logits in the tests.
_SHAREABLE = ("conv",)
# Points stacked in one layer call hold this much of its output at most, over
# the batches that the batch threads run at once, so that sharing does not
# raise a sweep's peak memory much.
STACK_BYTES = 16 * 2**20
# Points in one pass finish together: a killed sweep loses at most these.
POINTS_PER_PASS = 8
_SAME_SIZE_INT = {2: torch.int16, 4: torch.int32, 8: torch.int64}


class _Point:
    """One (evaluator, voltage): its read and first faulty step; weights decoded when it runs.

    Only the words that read wrong are kept until then (not a weight copy per
    point), so the points of a whole pass do not hold their weights at once.
    """

    def __init__(self, evaluator, vdd_v):
        qm, clean = evaluator._qm, evaluator._clean
        if sparse.is_large(qm):  # the changed words alone: no scratch copy of the model's words
            read = evaluator._memory.read_changed(vdd_v, evaluator.chip)
            index, words = read.word_index, read.words
            self.changed = qm.tensors_at_bits(index * qm.bits)
        else:
            read = evaluator._memory.read_sparse(vdd_v, evaluator.chip)
            differs = read.words != qm.words[read.word_index]
            index, words = read.word_index[differs], read.words[differs]
            self.changed = qm.tensors_at_bits(read.fault_bits[differs])
        self._qm = qm
        self._patch = (index, words) if self.changed else None
        program = clean.program
        self.first = program.first_step_reading(self.changed) if self.changed else len(program.steps)
        self._clean = clean
        stored = qm.stored_bits
        self.counts = dict(faulty_cells=int(read.faulty_cells), flipped_bits=int(read.flipped_bits),
                           model_ber=read.flipped_bits / stored, stored_bits=stored,
                           changed_tensors=self.changed, tiled=bool(read.tiled))

    @property
    def start(self):
        """The cached cut this point's run starts from."""
        return self._clean.start_for(self.first)

    def weights(self):
        """The weights this point reads (decoded anew on every call)."""
        if self._patch is None:
            return self._qm.clean_weights
        return self._qm.patched_weights(*self._patch, self.changed)

    def result(self, logits):
        return RunResult(logits=logits, first_step=self.first, **self.counts)


def _shareable(program, step_index):
    step = program.steps[step_index]
    if step.kind not in _SHAREABLE:
        return False
    module = getattr(step.call, "module", None)
    return int(getattr(module, "groups", 1)) == 1


def run_points(evaluators, voltages, batches=None):
    """Run ``evaluators[i]`` at ``voltages[i]`` for every ``i``, sharing what points share.

    The evaluators must share one clean pass (one model on one input, as
    :meth:`QuantizedModel.evaluator` gives for any chips of that input).

    Returns
    -------
    list of RunResult
        Equal to ``[e.run(v, batches=batches) for e, v in zip(evaluators, voltages)]``,
        logits bit for bit (``batches``: a range of batch indices of the
        clean run; default all).
    """
    results = [None] * len(evaluators)
    for i, result in iter_points(evaluators, voltages, batches):
        results[i] = result
    return results


def iter_points(evaluators, voltages, batches=None):
    """:func:`run_points` yielding ``(i, RunResult)`` as each point finishes, in no fixed order.

    The reads happen in this call; the returned iterator runs the points,
    yielding each as soon as its logits are complete, so a caller can record
    it (and drop it) before the next one runs. Points stacked in one layer
    call (at most :data:`STACK_BYTES` of that layer's output over the
    batches run at once) finish together. When the clean pass has not run yet, it then caches
    only the activations these points start from (:meth:`CleanRun.plan_starts`).
    """
    points = read_points(evaluators, voltages)
    return iter_read_points(points, batches)


def read_points(evaluators, voltages):
    """The reads of :func:`iter_points`, to run on several ranges of batches (:func:`iter_read_points`)."""
    if not evaluators:
        return []
    clean = evaluators[0]._clean
    if any(e._clean is not clean for e in evaluators):
        raise ValueError("run_points needs evaluators that share one clean pass")
    points = [_Point(e, float(v)) for e, v in zip(evaluators, voltages, strict=True)]
    clean.plan_starts([p.first for p in points if p.changed])
    return points


def iter_read_points(points, batches=None):
    """:func:`iter_points` of points from :func:`read_points` (``(i, RunResult)``, ``i`` into ``points``)."""
    if not points:
        return iter(())
    clean = points[0]._clean
    return _iterate(clean, points, range(len(clean.batches)) if batches is None else batches)


def _iterate(clean, points, batches):
    program = clean.program
    groups = {}
    for i, point in enumerate(points):
        if not point.changed:
            yield i, point.result(clean.logits[clean.rows(batches)])
        elif _shareable(program, point.first):
            groups.setdefault((point.start, point.first), []).append(i)
        else:
            yield i, point.result(clean.run_from(point.first, point.weights(), batches=batches))
    for (start, first), members in groups.items():
        for chunk in _chunks(clean, first, members, points, len(batches)):
            if len(chunk) == 1 and chunk[0][1] is None:
                i = chunk[0][0]
                yield i, points[i].result(clean.run_from(first, points[i].weights(), batches=batches))
                continue
            outputs = _run_group(clean, start, first, [points[i].weights() for i, _ in chunk],
                                 [channels for _, channels in chunk], batches)
            for (i, _), value in zip(chunk, outputs, strict=True):
                yield i, points[i].result(value)


def _chunks(clean, first, members, points, n_batches):
    """``members`` in passes of ``[(i, changed output channels of step first)]``.

    A pass holds at most :data:`POINTS_PER_PASS` points (they finish
    together) and stacks at most :data:`STACK_BYTES` of output over the
    batches run at once. Points whose every channel changed go first, in
    passes of their own, which then need no clean output of the layer.
    """
    if len(members) == 1:  # nothing to share: the point runs alone
        yield [(members[0], None)]
        return
    step = clean.program.steps[first]
    clean_weights = clean._weights
    full = int(clean_weights[step.weight_names[0]].shape[0])
    if step.name in getattr(clean.transform, "layer_calls", {}):  # integer kernels take whole weight sets
        changed = {i: torch.arange(full) for i in members}
    else:
        changed = {i: _changed_channels(step, points[i].weights(), clean_weights) for i in members}
    per_channel = _output_bytes(clean, first) * min(thread_count(), n_batches) / full
    budget = max(full, int(STACK_BYTES // per_channel))
    chunk, width = [], 0
    for i in sorted(members, key=lambda i: len(changed[i]) < full):
        size = len(changed[i])
        if chunk and (width + size > budget or len(chunk) == POINTS_PER_PASS
                      or (size < full) != (len(changed[chunk[0][0]]) < full)):
            yield chunk
            chunk, width = [], 0
        chunk.append((i, changed[i]))
        width += size
    yield chunk


def _changed_channels(step, weights, clean_weights):
    """Indices of ``step``'s output channels whose weights differ in any bit from the clean ones."""
    changed = None
    for name in step.weight_names:
        value, reference = weights[name], clean_weights[name]
        differs = (_bits(value) != _bits(reference)).reshape(len(value), -1).any(dim=1)
        changed = differs if changed is None else changed | differs
    return changed.nonzero().flatten()


def _bits(tensor):
    return tensor.view(_SAME_SIZE_INT[tensor.element_size()]) if tensor.is_floating_point() else tensor


def _output_bytes(clean, step_index):
    """Bytes of step ``step_index``'s output for the largest batch."""
    program = clean.program
    _, kept = program.run(clean.x[:1], clean._weights, keep={program.steps[step_index].name},
                          stop=step_index + 1, transform=clean.transform)
    value = kept[program.steps[step_index].name]
    return value.numel() * value.element_size() * len(clean.batches[0])


def _through_chain(program, first, end, value):
    """``value`` (the output of step ``first``) through the channel-local steps up to ``end``."""
    for i in range(first + 1, end):
        value = program.call_step(program.steps[i], {program.steps[i - 1].name: value}, None)
    return value


def _run_group(clean, start, first, weight_sets, channel_sets, batches):
    """Logits of each weight set, sharing the clean prefix and the stacked layer ``first``.

    Only the output channels in ``channel_sets[k]`` of weight set ``k``
    are computed; they go through the channel-local ops after the layer
    (:meth:`Program.channel_chain_end`), and the unchanged channels are
    taken from the clean output at the chain's end, computed once per batch.
    """
    program, transform = clean.program, clean.transform
    step = program.steps[first]
    end = program.channel_chain_end(first)
    last = program.steps[end - 1].name
    full = int(clean._weights[step.weight_names[0]].shape[0])
    partial = any(len(channels) < full for channels in channel_sets)
    pairs = list(zip(weight_sets, channel_sets, strict=True))
    stacked = {name: torch.cat([w[name][channels] for w, channels in pairs]) for name in step.weight_names}
    widths = [len(channels) for channels in channel_sets]
    live_at_first = program.live_before(first)
    live_at_end = program.live_before(end)
    if start:
        _ = clean.logits  # fills the cache

    def run(b):
        batch = clean.batches[b]
        env = {n: clean._cache[b][n] for n in program.live_before(start)} if start else None
        _, shared = program.run(batch, clean._weights, start=start, env=env, keep=set(live_at_first),
                                stop=first, transform=transform)
        if start:
            shared = {**env, **shared}
        with torch.inference_mode():
            out = _through_chain(program, first, end,
                                 program.call_step(step, shared, None, transform, step_weights=stacked)
                                 ) if sum(widths) else None
            clean_end = _through_chain(program, first, end, program.call_step(step, shared, clean._weights,
                                                                               transform)) if partial else None
        # Contiguous copies (views of the stacked output gave other last bits in
        # a following group norm), each made just before its point runs, so
        # that one copy at a time is alive beside the stacked output.
        pieces = list(torch.split(out, widths, dim=1)) if out is not None else [None] * len(widths)
        del out
        results = []
        for k, weights in enumerate(weight_sets):
            env_k = {n: shared[n] for n in live_at_end if n != last}
            env_k[last] = _assemble(pieces[k], channel_sets[k], clean_end, full)
            pieces[k] = None  # the stacked output goes with the last view
            results.append(program.run(batch, weights, start=end, env=env_k, transform=transform)[0])
            del env_k
        return results

    per_batch = map_batches(run, batches)
    return [torch.cat([batch_logits[k] for batch_logits in per_batch]) for k in range(len(weight_sets))]


def _assemble(piece, channels, clean_value, full):
    """A point's value: its changed ``channels`` (``piece``) in the clean value's other channels."""
    if len(channels) == full:
        return piece.contiguous()
    if not len(channels):
        return clean_value
    with torch.inference_mode():
        return clean_value.clone().index_copy_(1, channels, piece)
