"""A traced network as a flat list of steps that can start anywhere.

The program is built once from a torch.fx graph. Each step reads named values
of earlier steps and, for layers with parameters, weights passed in by the
caller, so one program serves the clean and every faulty weight set. Starting
at step ``k`` needs only the values that are *live* there (produced before
``k`` and read at or after it); the evaluator caches those from the clean run.
"""

from dataclasses import dataclass
from typing import Callable

import torch
from torch.fx.node import Node, map_arg

__all__ = ["Step", "Program"]


@dataclass(frozen=True, eq=False)
class _Ref:
    """Placeholder in an argument template for the value of step ``name``."""

    name: str


@dataclass(frozen=True, eq=False)
class Step:
    """One node of the network.

    Attributes
    ----------
    name : str
        Unique node name (from torch.fx).
    call : callable
        ``call(args, kwargs, weights)`` returning the step's value.
    args, kwargs
        Argument templates; :class:`_Ref` entries are replaced by values.
    inputs : tuple of str
        Names of the steps whose values this step reads.
    weight_names : tuple of str
        Fully qualified parameter names this step reads (empty: no weights).
    layer : str
        Module path of a layer step (``""`` otherwise).
    kind : str
        ``conv``, ``linear``, ``norm``, ``input``, ``output`` or ``op``.
    channel_local : bool
        An op whose output channel ``c`` (dim 1) depends only on its input
        channel ``c``, computed exactly the same on any subset of channels
        (ReLU, max pooling; not transcendental activations, whose vectorised
        and scalar paths may round differently).
    """

    name: str
    call: Callable
    args: tuple
    kwargs: dict
    inputs: tuple
    weight_names: tuple
    layer: str
    kind: str
    channel_local: bool = False


def template(value):
    """Replace fx nodes inside ``value`` by :class:`_Ref` markers."""
    return map_arg(value, lambda node: _Ref(node.name))


def node_inputs(node: Node):
    """Names of the nodes that ``node`` reads, in first-use order."""
    return tuple(dict.fromkeys(n.name for n in node.all_input_nodes))


def _resolve(value, env):
    if isinstance(value, _Ref):
        return env[value.name]
    if isinstance(value, tuple):
        return tuple(_resolve(v, env) for v in value)
    if isinstance(value, list):
        return [_resolve(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, env) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(_resolve(value.start, env), _resolve(value.stop, env), _resolve(value.step, env))
    return value


class Program:
    """Steps in execution order, with liveness for partial execution.

    Parameters
    ----------
    steps : sequence of Step
        In topological order; the first is the single input, the last the output.
    """

    def __init__(self, steps):
        self.steps = tuple(steps)
        self.index = {step.name: i for i, step in enumerate(self.steps)}
        last_use = {}
        for i, step in enumerate(self.steps):
            for name in step.inputs:
                last_use[name] = i
        self._last_use = last_use
        self.layer_steps = tuple(i for i, s in enumerate(self.steps) if s.weight_names)

    def live_before(self, start):
        """Names of values produced before step ``start`` and read at or after it."""
        return tuple(name for name, last in self._last_use.items()
                     if last >= start and self.index[name] < start)

    def channel_chain_end(self, first):
        """End (exclusive) of the channel-local ops that follow step ``first`` alone.

        Each step of the chain reads only the value of the step before it,
        and nothing else reads that value, so channels of step ``first`` that
        did not change stay unchanged up to the chain's last value.
        """
        end = first + 1
        while end < len(self.steps):
            step, previous = self.steps[end], self.steps[end - 1].name
            if not (step.channel_local and step.inputs == (previous,) and self._last_use[previous] == end):
                break
            end += 1
        return end

    def first_step_reading(self, weight_names):
        """Index of the first step that reads any of ``weight_names`` (len(steps) if none)."""
        wanted = set(weight_names)
        for i in self.layer_steps:
            if wanted.intersection(self.steps[i].weight_names):
                return i
        return len(self.steps)

    def run(self, x, weights, start=0, env=None, keep=(), transform=None, observe=None, stop=None):
        """Execute from step ``start`` and return ``(output, kept)``, without autograd.

        Runs under :func:`torch.inference_mode`; :meth:`run_differentiable`
        is the same execution recording autograd. Parameters as there.
        """
        with torch.inference_mode():
            return self.run_differentiable(x, weights, start, env, keep, transform, observe, stop)

    def run_differentiable(self, x, weights, start=0, env=None, keep=(), transform=None, observe=None,
                           stop=None):
        """Execute from step ``start`` and return ``(output, kept)``, in the caller's autograd mode.

        The same steps as :meth:`run` (so the same values); gradients flow to
        ``weights`` that require them when the caller enables grad (a white-box
        attacker ranking stored bits by ``dL/dw``).

        Parameters
        ----------
        x : Tensor
            Network input (used only when ``start == 0``).
        weights : mapping of str to Tensor
            Every parameter the executed steps read.
        start : int
            First step to execute.
        env : mapping of str to Tensor, optional
            Values live before ``start`` (see :meth:`live_before`).
        keep : collection of str
            Names of values to return in ``kept`` (e.g. to fill a cache).
        transform : callable, optional
            ``transform(step_name, x)`` applied to the input of every step that
            reads weights (activation quantization and faults). A transform
            with a ``layer_calls`` mapping (step name to
            ``call(args, kwargs, weights)``) runs those steps through it
            instead, input quantization included (integer execution,
            :mod:`accelsim.engine.integer`).
        observe : callable, optional
            ``observe(step_name, value)`` called with every value as it is
            made (to measure values without keeping them alive).
        stop : int, optional
            Execute only the steps before ``stop``; the output is then None
            (ask for values in ``keep``).
        """
        env = dict(env or {})
        kept = {}
        keep = set(keep)
        for i in range(start, len(self.steps) if stop is None else stop):
            step = self.steps[i]
            value = x if step.kind == "input" else self.call_step(step, env, weights, transform)
            env[step.name] = value
            if observe is not None:
                observe(step.name, value)
            if step.name in keep:
                kept[step.name] = value
            for name in step.inputs:
                if self._last_use[name] == i and name not in keep:
                    env.pop(name, None)
        return (env[self.steps[-1].name] if stop is None else None), kept

    @staticmethod
    def call_step(step, env, weights, transform=None, step_weights=None):
        """The value of ``step`` (not the input) given the values ``env`` it reads.

        ``step_weights`` (the step's own weights by name) overrides ``weights``.
        """
        args = _resolve(step.args, env)
        kwargs = _resolve(step.kwargs, env)
        if step_weights is None:
            step_weights = {n: weights[n] for n in step.weight_names}
        if transform is not None and step.weight_names and step.kind != "param":
            layer_call = getattr(transform, "layer_calls", {}).get(step.name)
            if layer_call is not None:
                return layer_call(args, kwargs, step_weights)
            args = (transform(step.name, args[0]), *args[1:])
        return step.call(args, kwargs, step_weights)
