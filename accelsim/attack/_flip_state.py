"""What a protected-memory attack has flipped so far, and what the network reads because of it.

The part :class:`accelsim.attack._codes.CodeState` (parity, SECDED) and
:class:`accelsim.attack._tmr.TmrState` (``msb:K:tmr``) share: the stored bits
flipped so far, the read through the memory's own decoder (exactly as
:meth:`QuantizedModel.run` reads), and the weights the network sees.
"""

import numpy as np

from accelsim.engine.protected import protected_weights
from accelsim.sram.protection import decode_flipped

__all__ = ["FlipState"]


class FlipState:
    """The attacker's flips in a protected memory; subclasses say which words a move touches.

    Parameters
    ----------
    target : accelsim.attack._target.Target
        Built on the delivered words; its ``weights`` are replaced here by
        the decoded ones (detected words zeroed under ``zero``).
    protection : accelsim.sram.protection.Protection
    on_detect : {"zero", "keep"}
    memory : ProtectedMemory or None
        The chip's memory (None: fault-free).
    vdd_v, chip
        The read of ``memory``.
    allowed : ndarray of int64 or None
        Sorted stored bits the attacker may flip (None: all).
    direction : {None, "1->0", "0->1"}
    """

    #: Stored bits per codeword (parity, SECDED) or per stored word (TMR).
    n: int

    def __init__(self, target, protection, on_detect, memory, vdd_v, chip, allowed, direction):
        self.target = target
        self.qm = target.qm
        self.protection = protection
        self.on_detect = on_detect
        self.memory, self.vdd_v, self.chip = memory, vdd_v, chip
        self.allowed = allowed
        self.direction = direction
        self.masked = (np.zeros(0, np.int64) if memory is None else memory.masked_bits(vdd_v, chip))
        self.flipped = []

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
        self.errors = np.sort(errors)
        self.flipped_sorted = np.sort(flips)
        return errors, flips

    def apply(self, move):
        """Make ``move`` (a tuple of stored bits)."""
        self.flipped.extend(int(b) for b in move)
        self._update()

    def trial_weights(self, move):
        """``(weights, changed)``: the network's weights with ``move`` made, and the tensors it touches."""
        read = self.read(np.concatenate([np.asarray(self.flipped, np.int64), np.asarray(move, np.int64)]))
        weights, _ = protected_weights(self.qm, read, self.on_detect)
        first, last = self._touched_words(move)
        changed = self.qm.tensors_at_bits(np.array([first, last], np.int64) * self.qm.bits)
        return {**self.target.weights, **{name: weights[name] for name in changed}}, changed

    def candidates(self, names, grads, remaining):
        """``{cost: (estimated gain, stored bits)}``: the best move of each cost among ``names``' codewords."""
        best = {}
        for name in names:
            for cost, moves in self.tensor_moves(name, grads[name], remaining).items():
                gain, bits = moves[0]
                if cost not in best or gain > best[cost][0]:
                    best[cost] = (gain, bits)
        return best

    def tensor_moves(self, name, grad, remaining, count=1):
        """``{cost: [(estimated gain, stored bits), ...]}``: the best moves into tensor ``name``'s codewords."""
        raise NotImplementedError

    def _touched_words(self, move):
        """First and last data word that ``move`` (bits of one codeword) can change."""
        raise NotImplementedError
