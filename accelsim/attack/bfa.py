"""Rakin et al.'s progressive bit search (ICCV 2019): one chosen flip per iteration.

Each iteration computes the loss gradient with respect to the decoded weights
on the attacker's batch, then, per layer (the tensors one program step
reads), ranks that layer's attackable bits by the first-order loss gain of
flipping them (``dL/dw * dw``, ``dw`` the exact change of the decoded value)
and evaluates the loss with the layer's best bit flipped (running only the
layers from that one on, from cached activations). The flip of the layer whose
trial loss is largest is kept. A bit flipped once is not flipped back, so K
iterations flip K distinct stored bits.
"""

import math

import numpy as np

from accelsim.attack._target import exact_weights

__all__ = ["progressive_bit_search"]


def progressive_bit_search(target, flips, on_flip, no_gradient):
    """Flip up to ``flips`` bits of ``target``; call ``on_flip(count, bit)`` after each.

    ``on_flip`` returns True to stop early. ``no_gradient()`` is called (and
    must raise) when the first gradient is zero everywhere. Stops early when
    no attackable bit is left.
    """
    for count in range(1, flips + 1):
        _, grads, kept = target.loss_and_gradients()
        if count == 1 and not any(bool(g.abs().max() > 0) for g in grads.values()):
            no_gradient()
        best = None  # (trial loss, bit)
        for start, names in target.groups:
            bit = _best_bit(target, names, grads)
            if bit is None:
                continue
            trial = target.loss_from(start, exact_weights(target, [bit]), kept)
            trial = math.inf if math.isnan(trial) else trial
            if best is None or trial > best[0]:
                best = (trial, bit)
        if best is None:
            return
        target.flip(best[1])
        if on_flip(count, best[1]):
            return


def _best_bit(target, names, grads):
    """The attackable bit of these tensors with the largest first-order loss gain (first on ties)."""
    best = None  # (gain, bit)
    for name in names:
        mask = target.mask(name)
        if not mask.any():
            continue
        gains = (grads[name].reshape(-1, 1).double() * target.deltas(name).double()).numpy()
        gains = np.where(mask & ~np.isnan(gains), gains, -np.inf)
        i = int(np.argmax(gains))
        if not mask.flat[i]:
            continue
        lo = target.ranges[name][0]
        if best is None or gains.flat[i] > best[0]:
            best = (gains.flat[i], lo * target.bits + i)
    return None if best is None else best[1]
