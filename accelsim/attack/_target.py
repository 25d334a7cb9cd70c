"""The attacked model: stored and effective words, per-bit gains one tensor at a time.

Both attacks see the network through :class:`Target`. It keeps a private copy
of the stored words (what the cells hold after the attacker's flips) and of
the *effective* words (what the network reads: on a faulty chip, the chip's
faults applied to the stored ones). It never holds anything per stored bit
for the whole model: the change of a weight when one of its bits flips, and
the first-order loss gain ``dL/dw * dw`` of that flip, are computed for one
tensor at a time, from the gradient of the loss with respect to the decoded
weights. Decoding goes through the model's own decoder
(:meth:`QuantizedModel.weights_from_words`), so the gain needs no
differentiable decoding: any stored format whose words decode to weights can
be attacked.
"""

import numpy as np
import torch
import torch.nn.functional as F

from accelsim.sram.cells import FLIP

__all__ = ["Target", "bit_deltas"]


def bit_deltas(decode, words, bits):
    """Change of every value when each of its ``bits`` stored bits flips.

    Parameters
    ----------
    decode : callable
        ``decode(words) -> Tensor`` of the values of a word array.
    words : ndarray of unsigned integers, 1-D
        One tensor's words; restored on return (flipped in place meanwhile).
    bits : int

    Returns
    -------
    Tensor, shape ``(len(words), bits)``
        Column ``j``: ``decode(words ^ (1 << j)) - decode(words)``, flattened.
    """
    base = decode(words).reshape(-1)
    out = torch.empty((len(words), bits), dtype=base.dtype)
    for j in range(bits):
        mask = words.dtype.type(1 << j)
        words ^= mask
        try:
            out[:, j] = decode(words).reshape(-1) - base
        finally:
            words ^= mask
    return out


class Target:
    """The state of an attack on one :class:`~accelsim.engine.QuantizedModel`.

    Parameters
    ----------
    qm : QuantizedModel
    x, y : Tensor
        The attacker's batch (inputs, int64 labels).
    effective : ndarray
        Words the network reads before the attack (the clean words, or a
        chip's faulty read of them).
    excluded : ndarray of int64
        Stored bits whose flip changes nothing the network reads (stuck
        cells that err at this voltage).
    allowed : ndarray of int64 or None
        Sorted stored bits the attacker may flip (None: every bit).
    direction : {None, "1->0", "0->1"}
    tensors : collection of str or None
        The tensors the attacker may touch (None: all).
    """

    def __init__(self, qm, x, y, effective, excluded, allowed, direction, tensors):
        self.qm = qm
        self.bits = qm.bits
        self.x, self.y = x, y
        self.program = qm.program  # the engine's own program: the attack runs what the engine runs
        self.stored = np.array(qm.words, copy=True)
        self.effective = np.array(effective, copy=True)
        self.excluded = np.unique(np.asarray(excluded, dtype=np.int64))
        self.allowed = allowed
        self.direction = direction
        self.flipped = []
        offsets = np.cumsum([0] + [qm.clean_weights[n].numel() for n in qm.tensor_names])
        self.ranges = {n: (int(offsets[i]), int(offsets[i + 1])) for i, n in enumerate(qm.tensor_names)}
        wanted = set(qm.tensor_names if tensors is None else tensors)
        groups = []
        for i in self.program.layer_steps:
            names = tuple(n for n in self.program.steps[i].weight_names if n in wanted)
            if names:
                groups.append((i, names))
        covered = {n for _, names in groups for n in names}
        for name in sorted(wanted - covered, key=qm.tensor_names.index):  # read outside a layer step
            groups.append((self.program.first_step_reading((name,)), (name,)))
        self.groups = sorted(groups)
        self.weights = qm.weights_from_words(self.effective)
        cuts = {start for start, _ in self.groups if start < len(self.program.steps)}
        self._keep = {n for s in cuts for n in self.program.live_before(s)}

    # -- decoding ----------------------------------------------------------------------------
    def decode(self, name):
        """Values of tensor ``name`` from the effective words."""
        return self.qm.weights_from_words(self.effective, names=(name,))[name]

    def deltas(self, name):
        """``(n_words, bits)`` change of each value of ``name`` per flipped bit."""
        lo, hi = self.ranges[name]
        full = self.effective

        def decode(chunk):  # chunk is a view of `full`, flipped in place by bit_deltas
            return self.qm.weights_from_words(full, names=(name,))[name]

        return bit_deltas(decode, full[lo:hi], self.bits)

    def mask(self, name):
        """``(n_words, bits)`` bool: the bits of ``name`` the attacker may flip now."""
        lo, hi = self.ranges[name]
        b = self.bits
        n = hi - lo
        if self.allowed is None:
            mask = np.ones(n * b, dtype=bool)
        else:
            mask = np.zeros(n * b, dtype=bool)
            a, z = np.searchsorted(self.allowed, [lo * b, hi * b])
            mask[self.allowed[a:z] - lo * b] = True
        for blocked in (self.excluded, np.sort(np.asarray(self.flipped, dtype=np.int64))):
            a, z = np.searchsorted(blocked, [lo * b, hi * b])
            mask[blocked[a:z] - lo * b] = False
        mask = mask.reshape(n, b)
        if self.direction is not None:
            values = (self.stored[lo:hi, None].astype(np.int64) >> np.arange(b)) & 1
            mask &= values == (1 if self.direction == "1->0" else 0)
        return mask

    # -- flipping ------------------------------------------------------------------------------
    def flip(self, bit):
        """Flip stored bit ``bit`` (and the bit the network reads), updating its tensor."""
        word, j = divmod(int(bit), self.bits)
        mask = self.stored.dtype.type(1 << j)
        self.stored[word] ^= mask
        self.effective[word] ^= mask
        self.flipped.append(int(bit))
        name = self.tensor_of(word)
        self.weights[name] = self.decode(name)
        return name

    def tensor_of(self, word):
        """Name of the tensor holding stored word ``word``."""
        for name, (lo, hi) in self.ranges.items():
            if lo <= word < hi:
                return name
        raise IndexError(word)

    # -- losses --------------------------------------------------------------------------------
    def loss_and_gradients(self, weights=None):
        """Loss on the batch, gradients of the attacked tensors, and the live values at each cut."""
        weights = self.weights if weights is None else weights
        leaves = {n: w.detach().requires_grad_(True) for n, w in weights.items()}
        attacked = [n for _, names in self.groups for n in names]
        with torch.enable_grad():
            logits, kept = self.qm.execute(self.x, leaves, keep=self._keep, grad=True)
            loss = F.cross_entropy(logits, self.y)
            grads = torch.autograd.grad(loss, [leaves[n] for n in attacked], allow_unused=True)
        grads = {n: (torch.zeros_like(leaves[n]) if g is None else g.detach()) for n, g in zip(attacked, grads, strict=True)}
        return float(loss.detach()), grads, {n: v.detach() for n, v in kept.items()}

    def loss_from(self, start, weights, kept):
        """Loss on the batch with ``weights``, executing from step ``start`` on the values ``kept``."""
        env = {n: kept[n] for n in self.program.live_before(start)} if start else None
        logits, _ = self.qm.execute(self.x, weights, start=start, env=env)
        return float(F.cross_entropy(logits, self.y))


def stuck_erring_bits(memory, vdd_v, chip):
    """Stored bits on stuck cells that err at ``vdd_v``: an attacker's flip there reads as nothing."""
    placement = memory.placement(chip)
    n = placement.n_faulty(float(vdd_v))
    stuck = (placement.fault_kind[:n] != FLIP) & placement.errs[:n]
    return np.asarray(placement.fault_bits[:n][stuck], dtype=np.int64)


def _decoded_with(target, bit):
    """``(name, values)``: tensor of ``bit`` decoded with that effective bit flipped (nothing kept)."""
    word, j = divmod(int(bit), target.bits)
    name = target.tensor_of(word)
    mask = target.effective.dtype.type(1 << j)
    target.effective[word] ^= mask
    try:
        return name, target.decode(name)
    finally:
        target.effective[word] ^= mask


def sparse_deltas(target, bits):
    """Value change of flipping each of ``bits`` alone: ``{name: (positions in bits, flat index, change)}``."""
    bits = np.asarray(bits, dtype=np.int64)
    out = {}
    if bits.size == 0:
        return out
    words, js = np.divmod(bits, target.bits)
    for name, (lo, hi) in target.ranges.items():
        inside = (words >= lo) & (words < hi)
        if not inside.any():
            continue
        base = target.weights[name].reshape(-1)
        positions, index, delta = [], [], []
        for j in np.unique(js[inside]):
            which = np.flatnonzero(inside & (js == j))
            sel = words[which]
            mask = target.effective.dtype.type(1 << int(j))
            target.effective[sel] ^= mask
            try:
                values = target.decode(name).reshape(-1)
            finally:
                target.effective[sel] ^= mask
            flat = torch.from_numpy(sel - lo)
            positions.append(which)
            index.append(flat)
            delta.append(values[flat] - base[flat])
        out[name] = (np.concatenate(positions), torch.cat(index), torch.cat(delta))
    return out


def relaxed_weights(target, bits, amounts):
    """Effective weights moved by ``amounts[i]`` of the change bit ``bits[i]`` makes when flipped alone."""
    weights = dict(target.weights)
    amounts = torch.as_tensor(np.asarray(amounts, dtype=np.float64))
    for name, (positions, index, delta) in sparse_deltas(target, bits).items():
        step = (amounts[torch.from_numpy(positions)] * delta.double()).to(delta.dtype)
        moved = target.weights[name].reshape(-1).clone().index_add_(0, index, step)
        weights[name] = moved.reshape(target.weights[name].shape)
    return weights


def exact_weights(target, bits):
    """Effective weights with all of ``bits`` flipped (exact decode; the target is left unchanged)."""
    bits = np.asarray(bits, dtype=np.int64)
    weights = dict(target.weights)
    if bits.size == 0:
        return weights
    words, js = np.divmod(bits, target.bits)
    masks = np.left_shift(1, js).astype(target.effective.dtype)
    np.bitwise_xor.at(target.effective, words, masks)
    try:
        for name in {target.tensor_of(int(w)) for w in np.unique(words)}:
            weights[name] = target.decode(name)
    finally:
        np.bitwise_xor.at(target.effective, words, masks)
    return weights
