"""Quantized activations, and faults of the activation SRAM that holds them.

With an :class:`~accelsim.quant.ActivationQuantizer`, the input of every
convolution and linear layer (what the accelerator reads from its activation
SRAM) is quantized on a per-layer range calibrated on the example input. With
:class:`ActivationFaults` as well, those codes pass through the activation
SRAM's faults at its own voltage: the buffer of each layer starts at cell 0
of the activation SRAM for every input, so the same cells corrupt the same
activation bits of every example, with the semantics of the weight memory
(stuck-at, flip, intermittent).
"""

from dataclasses import dataclass

import numpy as np
import torch

from accelsim import quant
from accelsim.sram import SimulatedMemory

__all__ = ["ActivationFaults", "ActivationPath", "ACTIVATION_LAYER_KINDS", "ACT_CALIBRATION_IMAGES", "with_act_quant"]

ACTIVATION_LAYER_KINDS = ("conv", "linear")

#: Images (the first of the evaluated set) that calibrate activation ranges in :func:`with_act_quant`.
ACT_CALIBRATION_IMAGES = 256


def with_act_quant(qm, x, bits):
    """``qm`` with its activations quantized to ``bits`` bits, weights unchanged.

    Re-quantizes ``qm.reference_module()`` with ``qm``'s scheme (the weight
    codes come out identical) and an :class:`~accelsim.quant.ActivationQuantizer`
    whose per-layer ranges are calibrated on the first
    :data:`ACT_CALIBRATION_IMAGES` images of ``x``.
    """
    from accelsim.engine import QuantizedModel
    from accelsim.quant import ActivationQuantizer

    return QuantizedModel.from_torch(qm.reference_module(), qm.scheme, x[:ACT_CALIBRATION_IMAGES],
                                     meta=dict(qm.meta), act_quant=ActivationQuantizer(bits))


@dataclass(frozen=True, eq=False)
class ActivationFaults:
    """The activation SRAM's faults at one voltage.

    Attributes
    ----------
    profile : accelsim.sram.Profile
    vdd_v : float
        Supply of the activation SRAM, volts.
    chip : int
    seed : int
    """

    profile: object
    vdd_v: float
    chip: int = 0
    seed: int = 0


@dataclass(frozen=True, eq=False)
class _BitMasks:
    """Per-element masks applying one set of faults: ``((c & keep) | set) ^ flip``."""

    keep: torch.Tensor
    set: torch.Tensor
    flip: torch.Tensor


def _masks(placement, n_faulty, n_elements, bits):
    """Masks for the faulty, erring cells of ``placement`` within ``n_elements`` codes."""
    head = slice(0, n_faulty)
    inside = (placement.fault_bits[head] < n_elements * bits) & placement.errs[head]
    element = placement.word_index[head][inside]
    bit = np.left_shift(np.int64(1), placement.bit_in_word[head][inside].astype(np.int64))
    kind = placement.fault_kind[head][inside]
    keep = np.full(n_elements, -1, dtype=np.int64)
    set_ = np.zeros(n_elements, dtype=np.int64)
    flip = np.zeros(n_elements, dtype=np.int64)
    np.bitwise_and.at(keep, element[kind == 0], ~bit[kind == 0])
    np.bitwise_or.at(set_, element[kind == 1], bit[kind == 1])
    np.bitwise_or.at(flip, element[kind == 2], bit[kind == 2])
    return _BitMasks(*(torch.from_numpy(m) for m in (keep, set_, flip)))


class ActivationPath:
    """Quantizes (and optionally corrupts) the inputs of conv and linear layers.

    Parameters
    ----------
    quantizer : accelsim.quant.ActivationQuantizer
    ranges : dict of str to (float, float)
        Calibrated range of each layer step's input, by step name.
    sizes : dict of str to int
        Elements per example of each layer step's input.
    """

    def __init__(self, quantizer, ranges, sizes):
        self.quantizer = quantizer
        self.ranges = dict(ranges)
        self.sizes = dict(sizes)
        self._params = {
            name: quant.ActivationQuantizer(quantizer.bits, lo >= 0).params((lo, hi))
            for name, (lo, hi) in self.ranges.items()}

    @classmethod
    def calibrate(cls, program, weights, x, quantizer):
        """Measure each layer input's range on ``x`` with the clean weights."""
        steps = [program.steps[i] for i in program.layer_steps
                 if program.steps[i].kind in ACTIVATION_LAYER_KINDS]
        inputs = {s.name: s.inputs[0] for s in steps}
        _, kept = program.run(x, weights, keep=set(inputs.values()))
        ranges = {name: quant.calibrate_activation_range([kept[src]]) for name, src in inputs.items()}
        sizes = {name: kept[src][0].numel() for name, src in inputs.items()}
        return cls(quantizer, ranges, sizes)

    def params_of(self, name):
        """The :class:`~accelsim.quant.QuantParams` of layer step ``name``'s input (None: not quantized)."""
        return self._params.get(name)

    def fault_masks(self, faults=None):
        """Per layer step, the masks applying ``faults`` to its input codes (empty without faults)."""
        return self._fault_masks(faults) if faults is not None else {}

    def transform(self, faults=None, masks=None):
        """A ``transform(step_name, x)`` for :meth:`Program.run`, with ``faults`` applied.

        ``masks`` (from :meth:`fault_masks`) may stand for ``faults``.
        """
        if masks is None:
            masks = self.fault_masks(faults)
        bits = self.quantizer.bits

        def apply(name, x):
            params = self._params.get(name)
            if params is None:
                return x
            scheme = quant.ActivationQuantizer(bits, params.unsigned).scheme
            if name not in masks:
                return quant.fake_quantize(x, params, scheme)
            codes = quant.quantize(x, params, scheme).reshape(len(x), -1)
            m = masks[name]
            codes = ((codes & m.keep) | m.set) ^ m.flip
            return quant.dequantize(codes.reshape(x.shape), params)

        return apply

    def _fault_masks(self, faults):
        largest = max(self.sizes.values())
        words = np.zeros(largest, dtype=quant.word_dtype(self.quantizer.bits))
        memory = SimulatedMemory(faults.profile, words, self.quantizer.bits, seed=faults.seed)
        placement = memory.placement(faults.chip)
        n_faulty = memory.faulty_cells(faults.vdd_v, faults.chip)
        return {name: _masks(placement, n_faulty, size, self.quantizer.bits)
                for name, size in self.sizes.items()}
