"""Quantization-aware forward passes with straight-through gradients.

The float parameters of a module are the trained variables. Each forward pass
quantizes them as the engine will store them (calibrated on their current
values), runs the module functionally on the dequantized values
(:func:`torch.func.functional_call`, so no module is ever copied) and passes
gradients straight through to the float parameters. The same codes can be
written to a faulty memory and read back (:meth:`QatModel.faulty_weights`).

The scheme is a fixed-point preset (:class:`accelsim.quant.QuantScheme`) or a
number format (:class:`accelsim.quant.NumberFormat`: ``int8``, ``int4-g128``,
``fp16``, ``bfp-16``, ...). A format's forward pass uses ``decode(encode(w))``
and its stored words are the format's own, codes *and* aux words (scales, zero
points, shared exponents), exactly the words
:class:`accelsim.engine.QuantizedModel` stores for the same weights, so that
faults hit everything the memory holds.

Weight clipping (``clip`` W) bounds every stored tensor, **except the scales
of norm layers**, to ``[-W, W]``: weights, biases (norm biases included),
embedding tables and parameters read directly (position embeddings, class
tokens). The scale of every norm layer is trained as ``1 + alpha`` and
clipping bounds ``alpha`` (Stutz et al.), so a deployed scale lies in
``[1 - W, 1 + W]``; the checkpoint stores the scale ``1 + alpha``. Norm
layers are torch's BatchNorm1d/2d, GroupNorm, LayerNorm and RMSNorm, and any
module whose class name ends in ``RMSNorm`` with a ``weight`` parameter
(LLaMA-style RMSNorm modules); see :func:`is_norm_layer`.
"""

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from accelsim import quant
from accelsim.quant.formats import FormatStore, NumberFormat

__all__ = ["QatModel", "QuantizedWeights", "NORM_TYPES", "is_norm_layer"]

NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.RMSNorm)


def is_norm_layer(module):
    """Whether ``module``'s ``weight`` is a norm scale (trained as ``1 + alpha`` under clipping).

    True for :data:`NORM_TYPES` and for any module whose class name ends in
    ``RMSNorm`` (an RMSNorm-style module: its weight times a computed scale),
    in both cases only with a ``weight`` parameter.
    """
    if not isinstance(getattr(module, "weight", None), nn.Parameter):
        return False
    return isinstance(module, NORM_TYPES) or type(module).__name__.endswith("RMSNorm")


class QuantizedWeights:
    """One quantization of the parameters: values for the forward pass and stored words.

    Attributes
    ----------
    values : dict of str to Tensor
        Dequantized parameters (gradients pass straight through to the float ones).
    params : list of accelsim.quant.QuantParams or None
        In memory order (fixed-point presets; None for a number format).
    codes : list of Tensor or None
        The int64 bit patterns, in memory order (fixed-point presets; None for
        a number format, whose words are not one code per weight).
    offsets : ndarray of int64
        ``offsets[i]:offsets[i+1]`` are tensor ``i``'s words in :meth:`words`.
    """

    def __init__(self, values, params, codes, bits, store=None):
        self.values = values
        self.params = params
        self.codes = codes
        self._bits = bits
        self._store = store
        if store is not None:
            self.offsets = store.offsets
        else:
            sizes = np.array([c.numel() for c in codes], dtype=np.int64)
            self.offsets = np.concatenate([[0], np.cumsum(sizes)])

    def words(self):
        """All words as one new 1-D array, in memory order (what the weight SRAM stores).

        For a number format these are the codes and aux words (scales, zero
        points, shared exponents) of :class:`accelsim.quant.formats.FormatStore`.
        """
        if self._store is not None:
            return self._store.words.copy()
        return np.concatenate([quant.codes_to_words(c.reshape(-1), self._bits) for c in self.codes])

    def decode(self, index, chunk):
        """float32 values of tensor ``index`` from its (possibly faulty) words ``chunk``."""
        if self._store is not None:
            return self._store.decode(index, chunk)
        return quant.dequantize(quant.words_to_codes(chunk).reshape(self.codes[index].shape), self.params[index])

    def decode_all(self, words):
        """Values of every tensor (memory order) from the words of the whole memory."""
        return [self.decode(i, words[self.offsets[i]:self.offsets[i + 1]]) for i in range(len(self.offsets) - 1)]


class QatModel:
    """A module trained on its quantized weights.

    Parameters
    ----------
    module : torch.nn.Module
        Holds the float parameters (trained in place).
    scheme : accelsim.quant.QuantScheme or accelsim.quant.NumberFormat
    names : sequence of str
        Parameter names in the order the engine stores them.
    reparameterise_norms : bool
        Train each norm layer's scale as ``1 + alpha``; the module's ``weight``
        of those layers then holds ``alpha``.
    """

    def __init__(self, module, scheme, names, reparameterise_norms=False):
        self.module = module
        self.scheme = scheme
        self.names = tuple(names)
        self.scale_names = frozenset(_norm_scale_names(module)) if reparameterise_norms else frozenset()
        if self.scale_names:
            with torch.no_grad():
                for name in self.scale_names:
                    module.get_parameter(name).sub_(1.0)
        self._buffers = dict(module.named_buffers())
        self._parameters = {name: module.get_parameter(name) for name in self.names}

    @property
    def parameters(self):
        """The trained float tensors by name, in memory order (a new dict; the tensors are the module's)."""
        return dict(self._parameters)

    def deployed(self):
        """Parameters as the network uses them (norm scales ``1 + alpha``), differentiable."""
        return {name: (1.0 + p if name in self.scale_names else p) for name, p in self.parameters.items()}

    def deployed_state_dict(self):
        """The module's state dict with norm scales ``1 + alpha``, detached (what a checkpoint stores)."""
        state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
        for name in self.scale_names:
            state[name] += 1.0
        return state

    def quantize(self):
        """Quantize the deployed parameters; returns :class:`QuantizedWeights`.

        The values equal :func:`accelsim.quant.fake_quantize`'s and so does the
        straight-through gradient (calibrated on the tensors themselves, no
        weight lies outside the range, so it is the identity; fake_quantize
        can lose the extreme weights to a rounding error of its range). The
        codes are computed once and kept for the memory.

        For a number format the values are the format's ``decode(encode(w))``
        (the engine's clean weights) and the gradient passes straight through.
        """
        deployed = [p.detach() for p in self.deployed().values()]
        if isinstance(self.scheme, NumberFormat):
            store = FormatStore(self.scheme, deployed)
            quantized = QuantizedWeights(None, None, None, self.scheme.bits, store)
            quantized.values = self.straight_through(quantized.decode_all(store.words))
            return quantized
        params = quant.calibrate(deployed, self.scheme)
        codes = [quant.quantize(p, qp, self.scheme) for p, qp in zip(deployed, params, strict=True)]
        values = self.straight_through([quant.dequantize(c, qp) for c, qp in zip(codes, params, strict=True)])
        return QuantizedWeights(values, params, codes, self.scheme.bits)

    def faulty_weights(self, quantized, words):
        """Values decoded from (faulty) ``words``, gradients straight through to the float parameters.

        The values are what the engine decodes from the same words; a number
        format's flipped exponent (of a weight, a scale or a shared exponent)
        can make them infinite or NaN, and they stay so.
        """
        return self.straight_through(quantized.decode_all(words))

    def straight_through(self, targets):
        """Weights equal to ``targets`` (in memory order) whose gradient flows unchanged to the parameters.

        A number format's weights are ``target + (p - p)``: bit for bit the
        target, also where it lies far from ``p`` (a faulty word) or is
        infinite or NaN. The fixed-point presets keep ``p + (target - p)``
        (their trained results stay bit-identical), which equals the target
        bit for bit on clean values and to within a rounding of ``p`` on
        faulty ones.
        """
        if isinstance(self.scheme, NumberFormat):
            return {name: target.to(p.dtype) + (p - p.detach())
                    for (name, p), target in zip(self.deployed().items(), targets, strict=True)}
        return {name: p + (target.to(p.dtype) - p).detach()
                for (name, p), target in zip(self.deployed().items(), targets, strict=True)}

    def forward(self, x, weights, update_statistics=True):
        """Logits of ``x`` with parameter ``weights``.

        With ``update_statistics=False`` a training-mode pass updates copies of
        the buffers (BatchNorm running statistics), so that perturbed passes
        leave the model's statistics to the clean one.
        """
        buffers = self._buffers
        if not update_statistics and buffers and self.module.training:
            buffers = {name: b.clone() for name, b in buffers.items()}
        return functional_call(self.module, {**buffers, **weights}, (x,))

    def project(self, clip):
        """Project every trained parameter onto ``[-clip, clip]`` (weight clipping).

        Norm scales, when reparameterised, hold ``alpha`` (the scale is ``1 + alpha``).
        """
        with torch.no_grad():
            for p in self.parameters.values():
                p.clamp_(-clip, clip)


def _norm_scale_names(module):
    for prefix, child in module.named_modules():
        if is_norm_layer(child):
            yield f"{prefix}.weight" if prefix else "weight"
