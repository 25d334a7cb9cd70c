"""The progressive bit search against ``msb:K:tmr``: triplicated top bits read by majority vote.

Each stored word holds the data word (its top ``K`` bits are the first copy)
and two more copies of the top bits. A flip of a low bit is delivered as is
(1 flip). A flip of one copy of a top bit is outvoted: the attacker needs two
copies of the same bit wrong (2 flips), or one when a chip's fault already
got a copy wrong. So a move changes one delivered data bit at a cost of 1 or
2 stored flips; the moves are ranked per tensor by the first-order gain of
that bit (``dL/dw * dw``, the exact change from the model's own decoder) and
evaluated exactly through the same read and vote as
:meth:`QuantizedModel.run` by :func:`accelsim.attack._codes.protected_bit_search`.
A "codeword" here is one stored word.
"""

import numpy as np

from accelsim.attack._flip_state import FlipState

__all__ = ["TmrState"]


class TmrState(FlipState):
    """The attacker's flips in an ``msb:K:tmr`` memory and what the network reads.

    Parameters as :class:`accelsim.attack._flip_state.FlipState`.
    """

    min_cost = 1

    def __init__(self, target, protection, on_detect, memory, vdd_v, chip, allowed, direction):
        super().__init__(target, protection, on_detect, memory, vdd_v, chip, allowed, direction)
        self.k = protection.msb_bits
        self.n = self.qm.bits + 2 * self.k  # stored bits per word
        self._update()

    def _touched_words(self, move):
        word = int(move[0]) // self.n
        return word, word

    def _open(self, lo, hi):
        """``(hi - lo, n)`` bool: stored bits of words ``lo .. hi - 1`` the attacker may flip, and wrong ones."""
        n = self.n
        lo_bit, hi_bit = lo * n, hi * n
        shape = (hi - lo, n)
        open_ = np.ones(hi_bit - lo_bit, bool)
        for blocked in (self.masked, self.flipped_sorted):
            a, z = np.searchsorted(blocked, [lo_bit, hi_bit])
            open_[blocked[a:z] - lo_bit] = False
        if self.allowed is not None:
            keep = np.zeros(open_.size, bool)
            a, z = np.searchsorted(self.allowed, [lo_bit, hi_bit])
            keep[self.allowed[a:z] - lo_bit] = True
            open_ &= keep
        wrong = np.zeros(open_.size, bool)
        a, z = np.searchsorted(self.errors, [lo_bit, hi_bit])
        wrong[self.errors[a:z] - lo_bit] = True
        open_ &= ~wrong  # flipping a wrong copy back helps no attacker
        if self.direction is not None:
            from accelsim.sram.protection import _msb_stored

            stored, _ = _msb_stored(self.qm.words[lo:hi], self.qm.bits, self.protection)
            values = (stored[:, None].astype(np.uint64) >> np.arange(n, dtype=np.uint64)) & np.uint64(1)
            open_ &= values.reshape(-1) == (1 if self.direction == "1->0" else 0)
        return open_.reshape(shape), wrong.reshape(shape)

    def tensor_moves(self, name, grad, remaining, count=1):
        """``{cost: [(estimated gain, stored bits), ...]}``: the ``count`` best moves of each cost in ``name``."""
        b, k, n = self.qm.bits, self.k, self.n
        lo, hi = self.target.ranges[name]
        gains = (grad.reshape(-1, 1).double() * self.target.deltas(name).double()).numpy()
        gains = np.where(np.isnan(gains), -np.inf, gains)
        open_, wrong = self._open(lo, hi)
        moves = {}
        low = b - k
        # Low bits: one flip each.
        one = np.where(open_[:, :low], gains[:, :low], -np.inf)
        # Top bit t: copies at positions low + t, b + t, b + k + t.
        copies = np.stack([np.arange(low, b), np.arange(b, b + k), np.arange(b + k, b + 2 * k)], axis=1)  # (k, 3)
        wrong_top = wrong[:, copies]  # (words, k, 3)
        open_top = open_[:, copies]
        n_wrong = wrong_top.sum(axis=2)
        need = 2 - n_wrong  # flips to win the vote (a bit already lost the vote needs none: no move)
        n_open = open_top.sum(axis=2)
        top_gain = gains[:, low:b]
        # Candidates as (cost, word, data bit, flat gain) per cost.
        for cost in (1, 2):
            if cost > remaining:
                continue
            gain = np.where((need == cost) & (n_open >= cost), top_gain, -np.inf)
            full = np.concatenate([one if cost == 1 else np.full_like(one, -np.inf), gain], axis=1)
            flat = full.reshape(-1)
            order = np.argsort(-flat, kind="stable")
            order = order[flat[order] > -np.inf][:count]
            picked = []
            for i in order.tolist():
                w, j = divmod(i, b)
                if j < low:
                    positions = (j,)
                else:
                    t = j - low
                    positions = tuple(copies[t][open_top[w, t]][:cost].tolist())
                picked.append((float(flat[i]), tuple(int((lo + w) * n + p) for p in sorted(positions))))
            if picked:
                moves[cost] = picked
        return moves

    def any_attackable(self):
        """Whether some stored bit of the attacked tensors is open to the attacker."""
        for _, names in self.target.groups:
            for name in names:
                lo, hi = self.target.ranges[name]
                if self._open(lo, hi)[0].any():
                    return True
        return False

    def random_moves(self, flips, rng):
        """Up to ``flips`` random 1-flip moves on open low bits of the attacked tensors (advbit's restarts)."""
        pools = []
        for _, names in self.target.groups:
            for name in names:
                lo, hi = self.target.ranges[name]
                open_, _ = self._open(lo, hi)
                w, j = np.nonzero(open_[:, :self.qm.bits - self.k])
                pools.append((lo + w) * self.n + j)
        pool = np.concatenate(pools) if pools else np.zeros(0, np.int64)
        picks = np.sort(rng.choice(pool.size, size=min(flips, pool.size), replace=False)) if pool.size else []
        return [(int(pool[i]),) for i in picks]
