"""The progressive bit search against words protected by a code (``parity:N``, ``secded:N``).

Under a code the attacker's flips land in codewords, and the decoder decides
what the network reads. A flip is a waste unless the decoder lets it
through, so the search moves in *codeword moves*: a few stored flips in one
codeword whose decoded outcome is worth their cost.

- SECDED, 1 flip: corrected (no move). 2 flips: a double error, detected:
  under ``on_detect="zero"`` the codeword's words read as zero, under
  ``keep`` the two flipped bits are delivered raw (a data bit plus a check
  bit delivers exactly that data bit). 3 flips at positions ``a, b, c``: the
  syndrome ``a ^ b ^ c`` names a fourth position, which the decoder "corrects"
  silently, so the data bits among ``{a, b, c, a ^ b ^ c}`` are delivered
  flipped (three check bits whose positions XOR to a data position flip
  exactly that data bit, unseen).
- Parity, 1 flip: detected (the policy decides); 2 flips: undetected, both
  delivered.

Each iteration computes the loss gradient with respect to the decoded
weights, and per layer (the tensors one program step reads) ranks that
layer's codewords for every cost by the first-order gain ``dL/dw * dw`` of
their decoded outcome (``dw`` the exact change of each flipped data bit,
from the model's own decoder; a zeroed word changes by minus its value). The
outcome of each template is the decoder's on that error pattern in a codeword
holding no other error. The best move of each cost and layer is then
evaluated exactly: all flips so far plus the move go through the same read
and decoder as :meth:`QuantizedModel.run`, and the loss is measured on the
attacker's batch. The move with the largest loss increase per flipped bit
that fits the remaining budget is kept. Moves are made only in codewords
that hold no error yet (neither a chip's fault nor an earlier move), so
every move's template outcome is the decoder's; flips are counted in stored
bits (a 3-flip miscorrection costs 3), and the budget is never exceeded.

Nothing is kept per stored bit of the whole model: candidates are ranked one
tensor at a time.
"""

import itertools
import math

import numpy as np

from accelsim.engine.protected import protected_weights
from accelsim.sram.protection import decode_flipped, encode_codewords, hamming_layout

__all__ = ["CodeState", "protected_bit_search"]

_TOP_DATA = 3  # data positions per codeword considered as slots of a 3-flip move
_TOP_ROWS = 512  # codewords per tensor whose 3-flip moves are enumerated (by their best data bit)


class CodeState:
    """The attacker's flips in a code-protected memory and what the network reads.

    Parameters
    ----------
    target : accelsim.attack._target.Target
        Built on the delivered words; its ``weights`` are replaced here by
        the decoded ones (detected words zeroed under ``zero``).
    protection : accelsim.sram.protection.Protection
        ``parity:N`` or ``secded:N``.
    on_detect : {"zero", "keep"}
    memory : ProtectedMemory or None
        The chip's memory (None: fault-free).
    vdd_v, chip
        The read of ``memory``.
    allowed : ndarray of int64 or None
        Sorted stored bits the attacker may flip (None: all).
    direction : {None, "1->0", "0->1"}
    """

    def __init__(self, target, protection, on_detect, memory, vdd_v, chip, allowed, direction):
        self.target = target
        self.qm = target.qm
        self.protection = protection
        self.on_detect = on_detect
        self.memory, self.vdd_v, self.chip = memory, vdd_v, chip
        self.allowed = allowed
        self.direction = direction
        self.n, self.data_of_pos = hamming_layout(protection)
        self.N = protection.data_bits
        self.pos_of_data = np.flatnonzero(self.data_of_pos >= 0)[np.argsort(self.data_of_pos[self.data_of_pos >= 0])]
        self.check_positions = np.flatnonzero(self.data_of_pos < 0)
        self.secded = protection.kind == "secded"
        self.n_data_bits = len(self.qm.words) * self.qm.bits
        self.masked = (np.zeros(0, np.int64) if memory is None else memory.masked_bits(vdd_v, chip))
        self.flipped = []
        self._update()

    @property
    def min_cost(self):
        """Fewest flips of a move that can change what the network reads."""
        return 2 if self.secded else 1

    # -- reads ---------------------------------------------------------------------------------
    def read(self, flips):
        """The decoded read with the stored bits ``flips`` flipped (as :meth:`QuantizedModel.run`)."""
        flips = np.asarray(flips, np.int64)
        if self.memory is None:
            return decode_flipped(self.qm.words, self.qm.bits, self.protection, flips, self.on_detect)
        return self.memory.read_with_flips(self.vdd_v, self.chip, flips, self.on_detect)

    def _update(self):
        read = self.read(self.flipped)
        words = np.array(self.qm.words, copy=True)
        words[read.word_index] = read.words
        self.target.effective = words
        self.target.weights = dict(protected_weights(self.qm, read, self.on_detect)[0])
        flips = np.asarray(self.flipped, np.int64)
        errors = flips if self.memory is None else self.memory.error_bits(self.vdd_v, self.chip, flips)[0]
        self.dirty = np.union1d(errors // self.n, flips // self.n)

    def apply(self, move):
        """Make ``move`` (a tuple of stored bits)."""
        self.flipped.extend(int(b) for b in move)
        self._update()

    def trial_weights(self, move):
        """``(weights, changed)``: the network's weights with ``move`` made, and the tensors it touches."""
        read = self.read(np.concatenate([np.asarray(self.flipped, np.int64), np.asarray(move, np.int64)]))
        weights, _ = protected_weights(self.qm, read, self.on_detect)
        c = int(move[0]) // self.n
        b = self.qm.bits
        first, last = c * self.N // b, min(((c + 1) * self.N - 1) // b, len(self.qm.words) - 1)
        changed = self.qm.tensors_at_bits(np.array([first, last], np.int64) * b)
        return {**self.target.weights, **{name: weights[name] for name in changed}}, changed

    # -- candidates ----------------------------------------------------------------------------
    def candidates(self, names, grads, remaining):
        """``{cost: (estimated gain, stored bits)}``: the best move of each cost among ``names``' codewords."""
        best = {}
        for name in names:
            for cost, (gain, bits) in self._tensor_moves(name, grads[name], remaining).items():
                if cost not in best or gain > best[cost][0]:
                    best[cost] = (gain, bits)
        return best

    def _tensor_moves(self, name, grad, remaining):
        qm, target, n, N = self.qm, self.target, self.n, self.N
        b = qm.bits
        lo, hi = target.ranges[name]
        t0, t1 = lo * b, hi * b
        c0, c1 = t0 // N, (t1 - 1) // N + 1
        rows = c1 - c0
        g = grad.reshape(-1).double()
        gain_bits = (g.reshape(-1, 1) * target.deltas(name).double()).numpy().reshape(-1)
        t = np.arange(t0, t1)
        c_of = t // N - c0
        p_of = self.pos_of_data[t % N]
        G = np.zeros((rows, n))
        G[c_of, p_of] = np.where(np.isnan(gain_bits), -np.inf, gain_bits)
        attackable = np.zeros((rows, n), bool)
        attackable[c_of, p_of] = True
        attackable[:, self.check_positions] = True
        self._restrict(attackable, c0, c1)
        # A zeroed word changes by minus its value: the gain of a detected codeword under "zero".
        weights = target.weights[name].reshape(-1).double()
        z = (g * (0.0 - weights)).numpy()
        z = np.where(np.isnan(z), -np.inf, z)
        first = np.arange(lo, hi) * b // N - c0
        last = ((np.arange(lo, hi) + 1) * b - 1) // N - c0
        Z = np.zeros(rows)
        np.add.at(Z, first, z)
        split = last != first
        np.add.at(Z, last[split], z[split])

        is_data = np.zeros((rows, n), bool)
        is_data[c_of, p_of] = True
        data_gain = np.where(attackable & is_data, G, -np.inf)
        order = np.argsort(-data_gain, axis=1, kind="stable")
        top1, top2 = order[:, 0], order[:, 1]
        g1 = data_gain[np.arange(rows), top1]
        g2 = data_gain[np.arange(rows), top2]
        check_ok = attackable[:, self.check_positions]
        any_check = check_ok.any(axis=1)
        first_check = self.check_positions[np.argmax(check_ok, axis=1)]
        moves = {}

        def keep_best(cost, gain, bits_of_row):
            gain = np.where(np.isnan(gain), -np.inf, gain)
            if cost > remaining or gain.size == 0:
                return
            row = int(np.argmax(gain))
            if gain[row] == -np.inf:
                return
            positions = bits_of_row(row)
            moves[cost] = (float(gain[row]), tuple(int((c0 + row) * n + p) for p in sorted(positions)))

        n_attackable = attackable.sum(axis=1)
        if self.on_detect == "zero":  # detection zeroes the codeword's words: any 1 (parity) or 2 (SECDED) flips
            cost = 2 if self.secded else 1
            enough = n_attackable >= cost
            first_two = np.argsort(~attackable, axis=1, kind="stable")[:, :cost]
            keep_best(cost, np.where(enough, Z, -np.inf), lambda r: first_two[r])
        else:  # keep: the flipped data bits are delivered raw
            if self.secded:  # best data bit plus the better of: a check bit, the second data bit
                pair = np.isfinite(g2) & ((g2 > 0) | ~any_check)
                gain = np.where(np.isfinite(g1) & (pair | any_check), g1 + np.where(pair, g2, 0.0), -np.inf)
                keep_best(2, gain, lambda r: (top1[r], top2[r] if pair[r] else first_check[r]))
            else:
                keep_best(1, np.where(np.isfinite(g1), g1, -np.inf), lambda r: (top1[r],))
        if not self.secded:  # parity, 2 flips: undetected; data + data, or data + the parity bit
            parity_ok = attackable[:, 0]
            pair = np.isfinite(g2) & ((g2 > 0) | ~parity_ok)
            gain = np.where(np.isfinite(g1) & (pair | parity_ok), g1 + np.where(pair, g2, 0.0), -np.inf)
            keep_best(2, gain, lambda r: (top1[r], top2[r] if pair[r] else 0))
        else:
            self._three_flip_moves(G, attackable, data_gain, order, remaining, keep_best)
        return moves

    def _three_flip_moves(self, G, attackable, data_gain, order, remaining, keep_best):
        """SECDED, 3 flips: the decoder flips the fourth position ``a ^ b ^ c`` without a flag."""
        if remaining < 3:
            return
        n = self.n
        rows = G.shape[0]
        best_bit = data_gain[np.arange(rows), order[:, 0]]
        chosen = np.argsort(-np.where(np.isfinite(best_bit), best_bit, -np.inf), kind="stable")[:_TOP_ROWS]
        chosen = np.sort(chosen)
        slots = np.concatenate([order[chosen, :_TOP_DATA],
                                np.broadcast_to(self.check_positions, (len(chosen), len(self.check_positions)))],
                               axis=1)
        valid = np.take_along_axis(attackable[chosen], slots, axis=1)
        triples = np.array(list(itertools.combinations(range(slots.shape[1]), 3)), np.int64)
        a, b, c = (slots[:, triples[:, i]] for i in range(3))
        fourth = a ^ b ^ c
        ok = valid[:, triples[:, 0]] & valid[:, triples[:, 1]] & valid[:, triples[:, 2]] & (fourth < n)
        fourth = np.where(ok, fourth, 0)
        row_g = G[chosen]
        gain = sum(np.take_along_axis(row_g, p, axis=1) for p in (a, b, c, fourth))
        gain = np.where(ok, gain, -np.inf)
        gain = np.where(np.isnan(gain), -np.inf, gain)
        flat = int(np.argmax(gain)) if gain.size else 0
        if not gain.size or gain.flat[flat] == -np.inf:
            return
        i, j = divmod(flat, gain.shape[1])
        full = np.full(rows, -np.inf)
        full[chosen[i]] = gain[i, j]
        keep_best(3, full, lambda r: (a[i, j], b[i, j], c[i, j]))

    def _restrict(self, attackable, c0, c1):
        """Clear the positions the attacker may not flip in codewords ``c0 .. c1 - 1``."""
        n = self.n
        lo_bit, hi_bit = c0 * n, c1 * n
        dirty = self.dirty[(self.dirty >= c0) & (self.dirty < c1)] - c0
        attackable[dirty] = False
        a, z = np.searchsorted(self.masked, [lo_bit, hi_bit])
        masked = self.masked[a:z] - lo_bit
        attackable.reshape(-1)[masked] = False
        if self.allowed is not None:
            a, z = np.searchsorted(self.allowed, [lo_bit, hi_bit])
            keep = np.zeros(attackable.size, bool)
            keep[self.allowed[a:z] - lo_bit] = True
            attackable &= keep.reshape(attackable.shape)
        if self.direction is not None:
            attackable &= self._stored_bits(c0, c1) == (1 if self.direction == "1->0" else 0)

    def _stored_bits(self, c0, c1):
        """``(c1 - c0, n)`` 0/1: the cells of codewords ``c0 .. c1 - 1`` as written."""
        b, N = self.qm.bits, self.N
        w0, w1 = c0 * N // b, min(-(-c1 * N // b), len(self.qm.words))
        words = self.qm.words[w0:w1].astype(np.uint64)
        bits = ((words[:, None] >> np.arange(b, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8).reshape(-1)
        start = c0 * N - w0 * b
        data = np.zeros((c1 - c0) * N, np.uint8)
        chunk = bits[start:start + data.size]
        data[:chunk.size] = chunk
        return encode_codewords(data.reshape(c1 - c0, N), self.protection)

    def any_attackable(self):
        """Whether some codeword of the attacked tensors has a position the attacker may flip."""
        for _, names in self.target.groups:
            for name in names:
                lo, hi = self.target.ranges[name]
                c0, c1 = lo * self.qm.bits // self.N, ((hi * self.qm.bits) - 1) // self.N + 1
                attackable = np.ones((c1 - c0, self.n), bool)
                self._restrict(attackable, c0, c1)
                if attackable.any():
                    return True
        return False


def protected_bit_search(state, flips, on_flip, no_gradient):
    """Make codeword moves of ``state`` while they fit ``flips`` stored flips; ``on_flip(count, move)`` after each.

    ``on_flip`` returns True to stop early; ``no_gradient()`` is called (and
    must raise) when the first gradient is zero everywhere.
    """
    target = state.target
    spent = 0
    cuts = sorted({0, *(start for start, _ in target.groups if start < len(target.program.steps))})
    while flips - spent >= state.min_cost:
        loss, grads, kept = target.loss_and_gradients()
        if spent == 0 and not any(bool(g.abs().max() > 0) for g in grads.values()):
            no_gradient()
        best = None  # (loss increase per flip, move)
        for _, names in target.groups:
            for cost, (_, move) in sorted(state.candidates(names, grads, flips - spent).items()):
                weights, changed = state.trial_weights(move)
                first = target.program.first_step_reading(changed)
                start = max(c for c in cuts if c <= first)
                trial = target.loss_from(start, weights, kept)
                rate = math.inf if math.isnan(trial) else (trial - loss) / cost
                if best is None or rate > best[0]:
                    best = (rate, move)
        if best is None:
            return
        state.apply(best[1])
        spent += len(best[1])
        if on_flip(spent, best[1]):
            return
