"""Import a torch model: trace it with torch.fx and check what the engine supports."""

import copy

from torch import fx

from accelsim._errors import UserInputError
from accelsim.engine.ops import (
    CHANNEL_LOCAL_FUNCTIONS,
    CHANNEL_LOCAL_METHODS,
    CHANNEL_LOCAL_MODULES,
    FASTER,
    FORCED_KWARGS,
    FUNCTIONS,
    METHODS,
    STATELESS_MODULES,
    layer_op_for,
)
from accelsim.engine.program import Program, Step, node_inputs, template

__all__ = ["EngineError", "ModelImportError", "trace_program"]


class EngineError(UserInputError):
    """The engine cannot run as asked; the message says why and how to fix it."""


class ModelImportError(EngineError):
    """The engine cannot import a model; the message lists every offending node."""


def _trace(module):
    try:
        return fx.symbolic_trace(module)
    except Exception as exc:  # torch.fx raises many types; the user needs one message
        raise ModelImportError(
            f"cannot trace {type(module).__name__} with torch.fx ({type(exc).__name__}: {exc}); "
            "accelsim runs models that torch.fx.symbolic_trace can trace: remove data-dependent "
            "control flow from forward()") from None


def _function_name(target):
    return getattr(target, "__qualname__", None) or getattr(target, "__name__", repr(target))


def _problems(graph_module):
    """Describe every node the engine cannot run, as ``node 'x' (where): why``."""
    problems = []
    placeholders = [n for n in graph_module.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        problems.append(f"forward() takes {len(placeholders)} inputs; the engine runs models with exactly one")
    for node in graph_module.graph.nodes:
        where = f"node '{node.name}'"
        if node.op == "call_module":
            module = graph_module.get_submodule(node.target)
            layer = layer_op_for(module)
            if layer is not None:
                why = layer.unsupported(module)
                if why:
                    problems.append(f"{where} (module '{node.target}', {type(module).__name__}): {why}")
            elif type(module) not in STATELESS_MODULES:
                problems.append(f"{where} (module '{node.target}'): unsupported module type "
                                f"{type(module).__name__}")
        elif node.op == "call_function" and node.target not in FUNCTIONS:
            problems.append(f"{where}: unsupported function {_function_name(node.target)}")
        elif node.op == "call_method" and node.target not in METHODS:
            problems.append(f"{where}: unsupported tensor method .{node.target}()")
    return problems


def _module_step(node, module, canonical):
    layer = layer_op_for(module)
    if layer is None:
        run = STATELESS_MODULES[type(module)]
        return dict(call=lambda args, kwargs, weights: run(module, *args), weight_names=(),
                    layer="", kind="op",
                    channel_local=type(module) in CHANNEL_LOCAL_MODULES and not getattr(module, "return_indices", False))
    # A tied parameter (an LM head sharing the embedding table) is stored once,
    # under the name torch lists first; the layer reads it by its own name.
    local = {canonical[id(p)]: name for name, p in module.named_parameters(recurse=layer.recurse,
                                                                            remove_duplicate=False)}
    names = tuple(local)
    forward = layer.forward

    def call(args, kwargs, weights):
        return forward(module, {local[name]: w for name, w in weights.items()}, *args, **kwargs)

    call.module = module
    call.local_names = dict(local)  # canonical parameter name -> the module's own name
    return dict(call=call, weight_names=names, layer=node.target, kind=layer.kind)


def _function_step(node):
    target, forced = node.target, FORCED_KWARGS.get(node.target, {})
    run = FASTER.get(target, target)
    if node.op == "call_method":
        def call(args, kwargs, weights):
            return getattr(args[0], target)(*args[1:], **kwargs)
        local = target in CHANNEL_LOCAL_METHODS
    else:
        def call(args, kwargs, weights):
            return run(*args, **{**kwargs, **forced})
        # max_pool2d(..., return_indices=True) returns a pair: not a channel tensor
        local = target in CHANNEL_LOCAL_FUNCTIONS and len(node.args) < 7 and not node.kwargs.get("return_indices")
    return dict(call=call, weight_names=(), layer="", kind="op", channel_local=local)


def _attr_step(node, graph_module, parameter_names, canonical):
    value = _get_attr(graph_module, node.target)
    if node.target in parameter_names or id(value) in canonical:
        target = canonical.get(id(value), node.target)
        return dict(call=lambda args, kwargs, weights: weights[target], weight_names=(target,),
                    layer=node.target.rpartition(".")[0], kind="param")
    return dict(call=lambda args, kwargs, weights: value, weight_names=(), layer="", kind="op")


def _get_attr(module, target):
    for part in target.split("."):
        module = getattr(module, part)
    return module


def _step(node, graph_module, parameter_names, canonical):
    if node.op == "placeholder":
        spec = dict(call=None, weight_names=(), layer="", kind="input")
    elif node.op == "output":
        spec = dict(call=lambda args, kwargs, weights: args[0], weight_names=(), layer="", kind="output")
    elif node.op == "call_module":
        spec = _module_step(node, graph_module.get_submodule(node.target), canonical)
    elif node.op == "get_attr":
        spec = _attr_step(node, graph_module, parameter_names, canonical)
    else:
        spec = _function_step(node)
    return Step(name=node.name, args=template(node.args), kwargs=template(node.kwargs),
                inputs=node_inputs(node), **spec)


def trace_program(module, copy_module=True):
    """Trace ``module`` into a :class:`Program` over a private copy of it.

    Parameters
    ----------
    module : torch.nn.Module
        The user's model; it is copied once and never modified.
    copy_module : bool
        False when ``module`` is already a private copy (traced as it is).

    Returns
    -------
    program : Program
    parameters : dict of str to Tensor
        Every parameter the program reads, by fully qualified name, in the
        order the program first reads them (the order they go to memory).

    Raises
    ------
    ModelImportError
        If tracing fails or any node is unsupported (all are listed).
    """
    private = (copy.deepcopy(module) if copy_module else module).eval()
    graph_module = _trace(private)
    problems = _problems(graph_module)
    if problems:
        raise ModelImportError(
            f"{type(module).__name__} has {len(problems)} part(s) the engine cannot run:\n  "
            + "\n  ".join(problems)
            + "\nsupported: Conv1d/Conv2d (grouped, depthwise), Linear, BatchNorm1d/2d, GroupNorm, LayerNorm, "
            "RMSNorm (or a module computing it from its own weight), Embedding, MultiheadAttention, "
            "scaled_dot_product_attention, ReLU/ReLU6/GELU/SiLU/Hardswish/Sigmoid/Tanh/Softmax, pooling, "
            "matmul/bmm/@, cat/split/chunk, view/reshape/permute/transpose/flatten, mean, residual add/mul, "
            "Dropout")
    all_parameters = dict(graph_module.named_parameters())
    canonical = {id(p): name for name, p in all_parameters.items()}
    steps = [_step(node, graph_module, all_parameters, canonical) for node in graph_module.graph.nodes]
    ordered = {}
    for step in steps:
        for name in step.weight_names:
            ordered.setdefault(name, all_parameters[name].detach())
    return Program(steps), ordered
