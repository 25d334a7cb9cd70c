"""Count what each layer reads, writes and computes, for the accelerator's cost model."""

import math

from accelsim.accel import LayerWorkload

__all__ = ["measure_workloads", "DEFAULT_ACT_BITS"]

# Activations move at 8 bits unless the model quantizes them otherwise.
DEFAULT_ACT_BITS = 8
_MAX_SAMPLES = 256


def _macs_per_output(kind, weight):
    if kind in ("conv", "linear"):
        return math.prod(weight.shape[1:])
    if kind == "attention":  # q, k, v and output projections of each output element
        return 4 * weight.shape[1]
    if kind in ("embedding", "param"):  # a table look-up or a plain read, no arithmetic
        return 0
    return 1  # a norm scales and shifts each element once


def _groups(program, step):
    module = getattr(step.call, "module", None)
    return int(getattr(module, "groups", 1)) if step.kind == "conv" else 1


def _first_tensor(value):
    # Attention returns (output, weights); the output is what moves on.
    return value[0] if isinstance(value, (tuple, list)) else value


class _ZeroFractions:
    """Records the share of zeros of named values as a run makes them."""

    def __init__(self, names):
        self._names = set(names)
        self._fractions = {}

    def __call__(self, name, value):
        if name in self._names:
            value = _first_tensor(value)
            self._fractions[name] = float((value == 0).float().mean()) if value.numel() else 0.0

    def of(self, name):
        return self._fractions.get(name, 0.0)


def measure_workloads(program, weights, x, weight_bits, act_bits=DEFAULT_ACT_BITS):
    """Per-layer workloads of one inference, measured by running ``x``.

    Parameters
    ----------
    program : Program
    weights : mapping of str to Tensor
    x : Tensor
        A batch of inputs; at most 256 samples are run. Zero fractions of
        layer inputs (for zero gating) are averaged over them.
    weight_bits, act_bits : int

    Returns
    -------
    list of LayerWorkload
        One per step that reads weights, in execution order, counts per sample.
    """
    x = x[:_MAX_SAMPLES]
    layer_steps = [program.steps[i] for i in program.layer_steps]
    keep = {s.name for s in layer_steps} | {s.inputs[0] for s in layer_steps if s.inputs}
    # Sizes per sample from one sample; zero fractions over all samples,
    # measured as each value is made rather than by keeping every layer's
    # activations of the batch alive at once (hundreds of MB for ResNet-20).
    _, shapes = program.run(x[:1], weights, keep=keep)
    zero_fraction = _ZeroFractions({s.inputs[0] if s.inputs else s.name for s in layer_steps})
    program.run(x, weights, keep=(), observe=zero_fraction)
    values = shapes
    n = 1
    workloads = []
    for step in layer_steps:
        out = _first_tensor(values[step.name])
        inp = _first_tensor(values[step.inputs[0]]) if step.inputs else out
        main = weights[step.weight_names[0]]
        # A parameter read directly (a position embedding, an RMSNorm-style
        # weight) has no batch dimension: it is read once, computes nothing.
        per_sample = step.kind != "param"
        per_out = out.numel() // n if per_sample else out.numel()
        workloads.append(LayerWorkload(
            name=step.layer or step.name,
            kind=step.kind,
            n_weights=sum(weights[w].numel() for w in step.weight_names),
            weight_bits=weight_bits,
            macs=per_out * _macs_per_output(step.kind, main),
            act_in=inp.numel() // n if per_sample else per_out,
            act_out=per_out,
            act_bits=act_bits,
            output_shape=tuple(out.shape[1:] if per_sample else out.shape) or (1,),
            zero_fraction=zero_fraction.of(step.inputs[0] if step.inputs else step.name) if per_sample else 0.0,
            groups=_groups(program, step),
        ))
    return workloads
