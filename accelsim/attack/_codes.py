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
that fits the remaining budget is kept. The multi-flip templates are made
in codewords that hold no error yet; a codeword that holds errors (a chip's
fault, an earlier move) is offered 1-flip moves, ranked by the decoder's
outcome on its whole error pattern (a corrected single fault plus one flip
is a detected double, a detected double plus one a mis-corrected triple).
Flips are counted in stored bits (a 3-flip miscorrection costs 3), and the
budget is never exceeded.

Nothing is kept per stored bit of the whole model: candidates are ranked one
tensor at a time.
"""

import itertools
import math

import numpy as np
import torch

from accelsim.attack._flip_state import FlipState
from accelsim.engine.protected import protected_weights
from accelsim.sram.protection import encode_codewords, hamming_layout

__all__ = ["CodeState", "adversarial_moves", "protected_bit_search"]

_TOP_DATA = 3  # data positions per codeword considered as slots of a 3-flip move
_TOP_ROWS = 512  # codewords per tensor whose 3-flip moves are enumerated (by their best data bit)


class CodeState(FlipState):
    """The attacker's flips in a code-protected memory (``parity:N`` or ``secded:N``).

    Parameters as :class:`accelsim.attack._flip_state.FlipState`.
    """

    def __init__(self, target, protection, on_detect, memory, vdd_v, chip, allowed, direction):
        super().__init__(target, protection, on_detect, memory, vdd_v, chip, allowed, direction)
        self.n, self.data_of_pos = hamming_layout(protection)
        self.N = protection.data_bits
        self.pos_of_data = np.flatnonzero(self.data_of_pos >= 0)[np.argsort(self.data_of_pos[self.data_of_pos >= 0])]
        self.check_positions = np.flatnonzero(self.data_of_pos < 0)
        self.secded = protection.kind == "secded"
        self.n_data_bits = len(self.qm.words) * self.qm.bits
        self._update()

    @property
    def min_cost(self):
        """Fewest flips of a move that can change what the network reads.

        SECDED corrects one flip in a clean codeword (2 needed), but one flip
        more in a codeword holding an error changes the decoder's outcome.
        """
        return 2 if self.secded and self.errors.size == 0 else 1

    def _update(self):
        errors, flips = super()._update()
        self.dirty = np.union1d(errors // self.n, flips // self.n)

    def _touched_words(self, move):
        c, b = int(move[0]) // self.n, self.qm.bits
        return c * self.N // b, min(((c + 1) * self.N - 1) // b, len(self.qm.words) - 1)

    # -- candidates ----------------------------------------------------------------------------
    def tensor_moves(self, name, grad, remaining, count=1):
        """``{cost: [(estimated gain, stored bits), ...]}``: the ``count`` best moves of each cost in ``name``.

        At most one move per codeword, in decreasing estimated gain (ties by
        codeword); only costs up to ``remaining`` and moves with a finite gain.
        """
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
        reachable = attackable.copy()  # also in codewords holding errors: for 1-flip moves there
        self._restrict(attackable, c0, c1)
        self._restrict(reachable, c0, c1, clean_only=False)
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
            rows_ = np.argsort(-gain, kind="stable")[:count]
            rows_ = rows_[gain[rows_] > -np.inf]
            if rows_.size:
                moves[cost] = [(float(gain[row]), tuple(int((c0 + row) * n + p) for p in sorted(bits_of_row(row))))
                               for row in rows_.tolist()]

        n_attackable = attackable.sum(axis=1)
        one_gain, one_pos = np.full(rows, -np.inf), np.zeros(rows, np.int64)  # 1-flip moves
        if self.on_detect == "zero":  # detection zeroes the codeword's words: any 1 (parity) or 2 (SECDED) flips
            cost = 2 if self.secded else 1
            enough = n_attackable >= cost
            first_two = np.argsort(~attackable, axis=1, kind="stable")[:, :cost]
            if self.secded:
                keep_best(2, np.where(enough, Z, -np.inf), lambda r: first_two[r])
            else:
                one_gain, one_pos = np.where(enough, Z, -np.inf), first_two[:, 0]
        else:  # keep: the flipped data bits are delivered raw
            if self.secded:  # best data bit plus the better of: a check bit, the second data bit
                pair = np.isfinite(g2) & ((g2 > 0) | ~any_check)
                gain = np.where(np.isfinite(g1) & (pair | any_check), g1 + np.where(pair, g2, 0.0), -np.inf)
                keep_best(2, gain, lambda r: (top1[r], top2[r] if pair[r] else first_check[r]))
            else:
                one_gain, one_pos = np.where(np.isfinite(g1), g1, -np.inf), top1
        self._error_moves(c0, c1, G, Z, reachable, one_gain, one_pos)
        keep_best(1, one_gain, lambda r: (one_pos[r],))
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
        if not gain.size:
            return
        best = np.argmax(gain, axis=1)  # each codeword's best triple (first on ties)
        full = np.full(rows, -np.inf)
        full[chosen] = gain[np.arange(len(chosen)), best]
        where = np.full(rows, -1)
        where[chosen] = np.arange(len(chosen))

        def positions(row):
            i = where[row]
            return a[i, best[i]], b[i, best[i]], c[i, best[i]]

        keep_best(3, full, positions)

    def _error_moves(self, c0, c1, G, Z, reachable, one_gain, one_pos):
        """1-flip moves in codewords that hold errors already (a chip's fault, earlier moves).

        One more flip changes what the decoder does there (a corrected single
        error becomes a detected double, a detected double a mis-corrected
        triple). The outcome is the decoder's on the codeword's whole error
        pattern: with syndrome ``s`` and parity ``p`` of the errors, a flip at
        ``q`` gives ``s ^ q`` and ``1 - p``; the delivered data change is the
        symmetric difference of the old fix, ``q`` and the new fix (or the
        zeroed words when the new pattern is detected under ``zero``). Fills
        ``one_gain`` / ``one_pos`` (in place) for those codewords.
        """
        n = self.n
        rows = G.shape[0]
        dirty = self.dirty[(self.dirty >= c0) & (self.dirty < c1)] - c0
        if dirty.size == 0:
            return
        a, z = np.searchsorted(self.errors, [c0 * n, c1 * n])
        err = self.errors[a:z]
        syndrome, parity = np.zeros(rows, np.int64), np.zeros(rows, np.int64)
        np.bitwise_xor.at(syndrome, err // n - c0, err % n)
        np.add.at(parity, err // n - c0, 1)
        syndrome, parity = syndrome[dirty], parity[dirty] % 2
        q = np.arange(n)[None, :]
        fix_old, flag_old = self._decide(syndrome, parity)
        fix_new, flag_new = self._decide(syndrome[:, None] ^ q, (1 - parity)[:, None])
        g = G[dirty]
        old_ok = (~flag_old & (fix_old >= 0))[:, None]
        new_ok = ~flag_new & (fix_new >= 0)
        fix_old = np.broadcast_to(fix_old[:, None], fix_new.shape)
        g_old = np.where(old_ok, np.take_along_axis(g, np.maximum(fix_old, 0), axis=1), 0.0)
        g_new = np.where(new_ok, np.take_along_axis(g, np.maximum(fix_new, 0), axis=1), 0.0)
        same_oq = old_ok & (fix_old == q)
        same_on = old_ok & new_ok & (fix_old == fix_new)
        same_nq = new_ok & (fix_new == q)
        with np.errstate(invalid="ignore"):  # -inf gains (non-finite changes) give NaN: not a move
            gain = (g_old + g + g_new - 2 * g_old * same_oq - 2 * g_old * same_on - 2 * g * same_nq
                    + 4 * g_old * (same_oq & same_nq))
        if self.on_detect == "zero":
            gain = np.where(flag_new, Z[dirty][:, None], gain)
            gain = np.where(flag_old[:, None], -np.inf, gain)  # already read as zero
        gain = np.where(reachable[dirty] & ~np.isnan(gain), gain, -np.inf)
        best = np.argmax(gain, axis=1)
        one_gain[dirty] = gain[np.arange(len(dirty)), best]
        one_pos[dirty] = best

    def _decide(self, syndrome, parity):
        """The decoder's action on an error pattern: ``(position fixed or -1, flagged)``."""
        n = self.n
        if not self.secded:
            return np.full(np.shape(syndrome), -1), parity == 1
        fix = np.where((parity == 1) & (syndrome < n), syndrome, -1)
        flag = ((parity == 1) & (syndrome >= n)) | ((parity == 0) & (syndrome != 0))
        return fix, flag

    def _restrict(self, attackable, c0, c1, clean_only=True):
        """Clear the positions the attacker may not flip in codewords ``c0 .. c1 - 1``.

        ``clean_only``: also every position of a codeword holding an error
        (the multi-flip templates assume none).
        """
        n = self.n
        lo_bit, hi_bit = c0 * n, c1 * n
        if clean_only:
            dirty = self.dirty[(self.dirty >= c0) & (self.dirty < c1)] - c0
            attackable[dirty] = False
        a, z = np.searchsorted(self.flipped_sorted, [lo_bit, hi_bit])
        attackable.reshape(-1)[self.flipped_sorted[a:z] - lo_bit] = False
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
                self._restrict(attackable, c0, c1, clean_only=False)
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


def adversarial_moves(state, flips, steps, step_size, restarts, rng, no_gradient):
    """Stutz et al.'s adversarial bit errors over codeword moves; the moves to make, in decreasing amount.

    The relaxation of :mod:`accelsim.attack.advbit`, with codeword moves in
    place of single bits: an amount ``delta_m`` in ``[0, 1]`` per move moves
    the weights by ``delta_m`` times the move's decoded change (exact,
    through the decoder, for the moves held), so ``dL/d delta_m`` is the
    move's first-order gain. Each step adds ``step_size`` times the gain per
    flipped bit (normalised by its largest magnitude), clips to ``[0, 1]``
    and projects: moves in decreasing amount while their flips fit the budget,
    one move per codeword. Candidates outside the held moves are each
    tensor's best moves by their template gain. Restarts start from random
    moves of the cheapest cost at random amounts; the restart whose moves
    give the largest exact loss is kept.
    """
    target = state.target
    best = None  # (loss, moves)
    for restart in range(restarts):
        held = _random_moves(state, flips, rng) if restart else []
        amounts = rng.uniform(0.0, 1.0, size=len(held)) if restart else np.zeros(0)
        effects = {move: _effect(state, move) for move in held}
        for step in range(steps):
            _, grads, _ = target.loss_and_gradients(_relaxed(state, held, amounts, effects))
            if restart == 0 and step == 0 and not any(bool(g.abs().max() > 0) for g in grads.values()):
                no_gradient()
            held, amounts, _ = _move_ascent(state, grads, held, amounts, effects, flips, step_size)
            for move in held:
                if move not in effects:
                    effects[move] = _effect(state, move)
        chosen = [move for move, amount in zip(held, amounts, strict=True) if amount > 0]
        bits = np.asarray([b for move in chosen for b in move], np.int64)
        read = state.read(np.concatenate([np.asarray(state.flipped, np.int64), bits]))
        loss = target.loss_from(0, protected_weights(state.qm, read, state.on_detect)[0], None)
        loss = math.inf if math.isnan(loss) else loss
        if best is None or loss > best[0]:
            best = (loss, chosen)
    return best[1]


def _effect(state, move):
    """``{name: (flat index, change)}``: the exact change of the network's weights when ``move`` is made."""
    weights, changed = state.trial_weights(move)
    out = {}
    for name in changed:
        diff = (weights[name] - state.target.weights[name]).reshape(-1)
        index = torch.nonzero(diff != 0).reshape(-1)
        out[name] = (index, diff[index])
    return out


def _relaxed(state, moves, amounts, effects):
    weights = dict(state.target.weights)
    for move, amount in zip(moves, amounts, strict=True):
        for name, (index, change) in effects[move].items():
            flat = weights[name].reshape(-1).clone() if weights[name] is state.target.weights[name] \
                else weights[name].reshape(-1)
            flat.index_add_(0, index, (float(amount) * change.double()).to(change.dtype))
            weights[name] = flat.reshape(state.target.weights[name].shape)
    return weights


def _move_ascent(state, grads, held, amounts, effects, flips, step_size):
    """One projected step over moves; ``(moves, amounts, scale)`` in decreasing amount."""
    target = state.target
    held_gain = []
    for move in held:
        gain = 0.0
        for name, (index, change) in effects[move].items():
            if name in grads:
                gain += float((grads[name].reshape(-1)[index].double() * change.double()).sum())
        held_gain.append(gain)
    used = {move[0] // state.n for move in held}
    pool, pool_gain = [], []
    for _, names in target.groups:
        for name in names:
            for moves in state.tensor_moves(name, grads[name], flips, count=flips).values():
                for gain, move in moves:
                    if move[0] // state.n not in used and gain > 0:
                        pool.append(move)
                        pool_gain.append(gain)
    moves = list(held) + pool
    if not moves:
        return [], np.zeros(0), 0.0
    gains = np.array(held_gain + pool_gain)
    gains = np.where(np.isnan(gains), 0.0, gains)
    per_flip = gains / np.array([len(m) for m in moves])
    finite = np.abs(per_flip[np.isfinite(per_flip)])
    scale = float(finite.max(initial=0.0))
    if np.isinf(per_flip).any():
        step = np.sign(per_flip) * np.isinf(per_flip)
    else:
        step = per_flip / (scale if scale > 0 else 1.0)
    values = np.clip(np.concatenate([amounts, np.zeros(len(pool))]) + step_size * step, 0.0, 1.0)
    order = np.lexsort(([m[0] for m in moves], -values))
    kept, kept_values, spent, codewords = [], [], 0, set()
    for i in order.tolist():
        move = moves[i]
        if values[i] <= 0 or spent + len(move) > flips or move[0] // state.n in codewords:
            continue
        kept.append(move)
        kept_values.append(values[i])
        spent += len(move)
        codewords.add(move[0] // state.n)
    return kept, np.array(kept_values), (math.inf if np.isinf(per_flip).any() else scale)


def _random_moves(state, flips, rng):
    """Random moves of the cheapest cost (1 parity flip, 2 SECDED flips) in attackable codewords."""
    if hasattr(state, "random_moves"):
        return state.random_moves(flips, rng)
    cost = state.min_cost
    target = state.target
    names = [n for _, group in target.groups for n in group]
    pools = []
    for name in names:
        lo, hi = target.ranges[name]
        c0, c1 = lo * state.qm.bits // state.N, (hi * state.qm.bits - 1) // state.N + 1
        attackable = np.ones((c1 - c0, state.n), bool)
        state._restrict(attackable, c0, c1)
        rows = np.flatnonzero(attackable.sum(axis=1) >= cost)
        pools.append((c0, rows, attackable))
    total = sum(len(rows) for _, rows, _ in pools)
    picks = np.sort(rng.choice(total, size=min(flips // cost, total), replace=False)) if total else []
    moves, start = [], 0
    for c0, rows, attackable in pools:
        for k in [p - start for p in picks if start <= p < start + len(rows)]:
            row = int(rows[k])
            positions = np.sort(rng.choice(np.flatnonzero(attackable[row]), size=cost, replace=False))
            moves.append(tuple(int((c0 + row) * state.n + p) for p in positions))
        start += len(rows)
    return list(dict.fromkeys(moves))
