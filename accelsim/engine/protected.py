"""Weights read through a protected memory (``accelsim.sram.protection``).

The memory decodes and returns the data words that differ from the written
ones plus the words of detected-uncorrectable codewords; this module turns
them into patched weights, reading detected words as the weight value zero
under ``on_detect="zero"`` (zero is the value, not the code: with an
asymmetric or unsigned scheme the code of zero is not 0).
"""

import numpy as np

__all__ = ["protected_weights"]


def protected_weights(qm, read, on_detect):
    """``(weights, changed)``: clean weights with ``read``'s words patched in.

    Parameters
    ----------
    qm : QuantizedModel
    read : accelsim.sram.protection.ProtectedRead
    on_detect : {"zero", "keep"}

    Returns
    -------
    weights : dict of str to Tensor
    changed : tuple of str
        Tensors whose weights differ from the clean ones (in memory order).
    """
    zero = read.detected_index if on_detect == "zero" else read.detected_index[:0]
    touched = np.union1d(read.word_index, zero)
    changed = qm.tensors_at_bits(touched * qm.bits)
    weights = qm.patched_weights(read.word_index, read.words, changed)
    if zero.size:
        weights = dict(weights)
        owners = qm.tensors_at_bits(zero * qm.bits)
        for name in owners:
            lo, hi = qm._word_range(name)
            inside = zero[(zero >= lo) & (zero < hi)] - lo
            # patched_weights decoded this tensor afresh: writing into it is safe.
            flat = weights[name].view(-1)
            flat[inside] = 0.0
    return weights, changed
