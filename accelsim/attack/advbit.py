"""Stutz et al.'s adversarial bit errors (TPAMI 2022): projected gradient ascent on relaxed bits.

The attacker's perturbation is a vector ``delta`` in ``[0, 1]`` over the
attackable stored bits with at most ``k`` non-zero entries; the weights are
the effective ones moved by ``delta_i`` times the change flipping bit ``i``
makes (a linear relaxation of the flip), so ``dL/d delta_i = dL/dw * dw_i``.
Each step adds ``step_size`` times that gradient, normalised by its largest
magnitude over all attackable bits, clips to ``[0, 1]`` and projects onto
``||delta||_0 <= k`` (keeps the ``k`` largest entries). The result is rounded:
every bit left with ``delta_i > 0`` is flipped, in decreasing ``delta_i``
(so the attack never flips more than ``k`` bits). Restarts start from ``k``
random attackable bits at random amounts; the restart whose flips give the
largest loss is kept.

Since ``delta`` has at most ``k`` entries, a step needs per tensor only that
tensor's ``k`` best bits outside ``delta`` (entries outside rank by their
gradient alone): nothing is kept per stored bit of the whole model.
"""

import math

import numpy as np

from accelsim.attack._target import exact_weights, relaxed_weights

__all__ = ["adversarial_bit_errors"]


def adversarial_bit_errors(target, flips, steps, step_size, restarts, rng, no_gradient):
    """The bits to flip (at most ``flips``), in decreasing relaxed amount."""
    best = None  # (loss, bits)
    for restart in range(restarts):
        bits, amounts = _start(target, flips, rng) if restart else (np.zeros(0, np.int64), np.zeros(0))
        for step in range(steps):
            _, grads, _ = target.loss_and_gradients(relaxed_weights(target, bits, amounts))
            bits, amounts, scale = _ascent(target, grads, bits, amounts, flips, step_size)
            if restart == 0 and step == 0 and scale == 0:
                no_gradient()
        chosen = bits[amounts > 0]
        loss = target.loss_from(0, exact_weights(target, chosen), None)
        loss = math.inf if math.isnan(loss) else loss
        if best is None or loss > best[0]:
            best = (loss, chosen)
    return best[1]


def _ascent(target, grads, bits, amounts, k, step_size):
    """One projected step; returns the new ``(bits, amounts)`` sorted by decreasing amount, and the scale."""
    selected_gain = np.zeros(len(bits))
    pool_bits, pool_gains = [], []
    scale = 0.0
    selected_sorted = np.sort(bits)
    for _, names in target.groups:
        for name in names:
            lo, hi = target.ranges[name]
            mask = target.mask(name).reshape(-1)
            if not mask.any():
                continue
            gains = (grads[name].reshape(-1, 1).double() * target.deltas(name).double()).numpy().reshape(-1)
            gains = np.where(np.isnan(gains), 0.0, gains)
            allowed = np.abs(gains[mask])
            scale = max(scale, float(allowed[np.isfinite(allowed)].max(initial=0.0)))
            first = lo * target.bits
            inside = (bits >= first) & (bits < hi * target.bits)
            selected_gain[inside] = gains[bits[inside] - first]
            a, z = np.searchsorted(selected_sorted, [first, hi * target.bits])
            mask[selected_sorted[a:z] - first] = False
            candidates = np.flatnonzero(mask & (gains > 0))
            if candidates.size > k:
                order = np.lexsort((candidates, -gains[candidates]))[:k]
                candidates = candidates[order]
            pool_bits.append(candidates + first)
            pool_gains.append(gains[candidates])
    if scale == 0 or not math.isfinite(scale):
        scale_used = 1.0 if scale == 0 else math.inf
    else:
        scale_used = scale
    all_bits = np.concatenate([bits, *pool_bits]).astype(np.int64)
    gains = np.concatenate([selected_gain, *pool_gains])
    step = np.where(np.isinf(gains), np.sign(gains), gains / scale_used) if math.isinf(scale_used) else \
        gains / scale_used
    values = np.clip(np.concatenate([amounts, np.zeros(len(all_bits) - len(bits))]) + step_size * step, 0.0, 1.0)
    order = np.lexsort((all_bits, -values))[:k]
    order = order[values[order] > 0]
    return all_bits[order], values[order], scale


def _start(target, k, rng):
    """``k`` distinct random attackable bits (fewer if fewer exist) at uniform random amounts."""
    names = [n for _, group in target.groups for n in group]
    counts = np.array([int(target.mask(n).sum()) for n in names], dtype=np.int64)
    total = int(counts.sum())
    picks = np.sort(rng.choice(total, size=min(k, total), replace=False))
    ends = np.cumsum(counts)
    bits = []
    for i, name in enumerate(names):
        start = ends[i] - counts[i]
        local = picks[(picks >= start) & (picks < ends[i])] - start
        if local.size:
            allowed = np.flatnonzero(target.mask(name).reshape(-1))
            bits.append(allowed[local] + target.ranges[name][0] * target.bits)
    bits = np.concatenate(bits) if bits else np.zeros(0, np.int64)
    return bits.astype(np.int64), rng.uniform(0.0, 1.0, size=len(bits))
