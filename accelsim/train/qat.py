"""Quantization-aware forward passes with straight-through gradients.

The float parameters of a module are the trained variables. Each forward pass
quantizes them as the engine will store them (calibrated on their current
values), runs the module functionally on the dequantized values
(:func:`torch.func.functional_call`, so no module is ever copied) and passes
gradients straight through to the float parameters. The same codes can be
written to a faulty memory and read back (:meth:`QatModel.faulty_weights`).

With weight clipping the scale of every norm layer is trained as
``1 + alpha``: clipping bounds ``alpha`` rather than the scale (Stutz et al.),
and the checkpoint stores the scale ``1 + alpha``.
"""

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from accelsim import quant

__all__ = ["QatModel", "QuantizedWeights", "NORM_TYPES"]

NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)


class QuantizedWeights:
    """One quantization of the parameters: values for the forward pass and stored words.

    Attributes
    ----------
    values : dict of str to Tensor
        Dequantized parameters (gradients pass straight through to the float ones).
    params : list of accelsim.quant.QuantParams
        In memory order.
    codes : list of Tensor
        The int64 bit patterns, in memory order.
    """

    def __init__(self, values, params, codes, bits):
        self.values = values
        self.params = params
        self.codes = codes
        self._bits = bits

    def words(self):
        """All codes as one 1-D word array, in memory order (what the weight SRAM stores)."""
        return np.concatenate([quant.codes_to_words(c.reshape(-1), self._bits) for c in self.codes])


class QatModel:
    """A module trained on its quantized weights.

    Parameters
    ----------
    module : torch.nn.Module
        Holds the float parameters (trained in place).
    scheme : accelsim.quant.QuantScheme
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
        """
        deployed = [p.detach() for p in self.deployed().values()]
        params = quant.calibrate(deployed, self.scheme)
        codes = [quant.quantize(p, qp, self.scheme) for p, qp in zip(deployed, params, strict=True)]
        values = self.straight_through([quant.dequantize(c, qp) for c, qp in zip(codes, params, strict=True)])
        return QuantizedWeights(values, params, codes, self.scheme.bits)

    def faulty_weights(self, quantized, words):
        """Values decoded from (faulty) ``words``, gradients straight through to the float parameters."""
        decoded, start = [], 0
        for clean, qp in zip(quantized.codes, quantized.params, strict=True):
            codes = quant.words_to_codes(words[start:start + clean.numel()]).reshape(clean.shape)
            start += clean.numel()
            decoded.append(quant.dequantize(codes, qp))
        return self.straight_through(decoded)

    def straight_through(self, targets):
        """Weights equal to ``targets`` (in memory order) whose gradient flows unchanged to the parameters."""
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
        """Project every trained parameter onto ``[-clip, clip]`` (weight clipping)."""
        with torch.no_grad():
            for p in self.parameters.values():
                p.clamp_(-clip, clip)


def _norm_scale_names(module):
    for prefix, child in module.named_modules():
        if isinstance(child, NORM_TYPES) and getattr(child, "weight", None) is not None:
            yield f"{prefix}.weight" if prefix else "weight"
