"""``accelsim.attack.run``: checks, restrictions, the attack, and the replayed measurements."""

import re
from dataclasses import dataclass

import numpy as np
import torch

from accelsim._checks import Interval, StrOptions, check, fail
from accelsim._errors import UserInputError

__all__ = ["DIRECTIONS", "METHODS", "AttackError", "AttackResult", "parse_attack", "run"]

METHODS = ("bfa", "advbit")
DIRECTIONS = ("1->0", "0->1")
_ATTACK = re.compile(r"(?P<method>[^:]+):(?P<flips>[^:]+)")
_CELLS = re.compile(r"profile:(?P<name>[^@]+)@(?P<vdd>[^@]+)")


class AttackError(UserInputError):
    """An attack cannot run as asked; the message says why and how to fix it."""


@dataclass(frozen=True, eq=False)
class AttackResult:
    """The outcome of one attack.

    Attributes
    ----------
    method : str
        ``bfa`` or ``advbit``.
    budget : int
        The flips asked for.
    bits : ndarray of int64
        Flipped stored-bit indices (bit ``k * bits + j`` is bit ``j`` of
        stored word ``k``), in the order flipped; at most ``budget``.
    accuracy : float
        Accuracy on all of ``x`` after the flips (through ``qm.run``).
    robust_error : float
        Share of ``x`` misclassified after the flips or by the clean model.
    start_accuracy : float
        Accuracy before the attack (the chip's faults only, if any).
    curve : list of (int, float)
        ``(flips, accuracy)`` from 0 flips to ``len(bits)``.
    classes : int
        Number of outputs (chance accuracy is ``1 / classes``).
    protection : str
        The protection scheme of the attacked memory (``bits`` index its
        stored stream, check bits included).
    on_detect : str
        What a detected-uncorrectable word read as.
    """

    method: str
    budget: int
    bits: np.ndarray
    accuracy: float
    robust_error: float
    start_accuracy: float
    curve: list
    classes: int
    protection: str = "none"
    on_detect: str = "zero"

    @property
    def flips(self):
        """Number of bits flipped."""
        return len(self.bits)

    def flips_to_reach(self, accuracy):
        """Fewest flips on the curve with accuracy at or below ``accuracy`` (None if never)."""
        return next((n for n, a in self.curve if a <= accuracy), None)


def parse_attack(text, where="--attack"):
    """``(method, flips)`` of ``bfa:K`` or ``advbit:K``."""
    match = _ATTACK.fullmatch(text) if isinstance(text, str) else None
    if match is None or not match["flips"].strip().lstrip("-").isdigit():
        fail(where, text, "bfa:K or advbit:K (K flipped bits, e.g. bfa:10)", AttackError)
    method = check(f"{where} method", match["method"], StrOptions(METHODS), error=AttackError)
    flips = check(f"{where} flips", int(match["flips"]), Interval(int, 1, None),
                  meaning="the attacker's budget of flipped bits", error=AttackError)
    return method, flips


def run(qm, x, y, method="bfa", flips=10, seed=0, *, layers=None, attack_cells=None, cells_chip=None,
        direction=None, profile=None, vdd_v=None, chip=0, memory_seed=0, attack_examples=128,
        eval_every=1, stop_accuracy=None, steps=10, step_size=0.5, restarts=1, progress=None,
        protection="none", on_detect="zero"):
    """Attack the stored bits of ``qm`` and measure the accuracy against the number of flips.

    Parameters
    ----------
    qm : accelsim.QuantizedModel
    x, y : Tensor
        Inputs and int64 labels. The attacker computes its gradients and
        losses on ``attack_examples`` of them (drawn with ``seed``); the
        accuracies are measured on all of them.
    method : {"bfa", "advbit"}
    flips : int
        Budget: the attack flips at most this many distinct stored bits
        (1 to the stored bits, check bits included:
        :func:`accelsim.sram.protection.stored_stream_bits`).
    seed : int
        Seeds the attacker's batch and advbit's restarts: the result is a
        pure function of the arguments.
    layers : sequence of str, optional
        Only these tensors (``fc1.weight``) or layers (``fc1``: its tensors).
    attack_cells : str or (Profile, float), optional
        ``"profile:NAME@V"``: only bits stored in cells faulty at ``V`` volts
        on chip ``cells_chip`` (default ``chip``) of that profile (an
        attacker who undervolts the memory to flip them).
    direction : {"1->0", "0->1"}, optional
        Only flips of stored ones to zero, or of zeros to one (rowhammer).
    profile, vdd_v, chip, memory_seed : optional
        Attack on top of the faults of this chip read at ``vdd_v`` (as
        ``qm.run(x, profile, vdd_v, chip, memory_seed)``); ``profile=None``:
        a fault-free memory.
    attack_examples : int
        Size of the attacker's batch.
    eval_every : int
        Measure the curve every this many flips (0: only at the start and end).
    stop_accuracy : float, optional
        Stop once a measured accuracy is at or below this.
    steps, step_size, restarts
        advbit's projected gradient: iterations, step (in bits, gradient
        normalised to a largest entry of 1) and random restarts.
    progress : callable, optional
        ``progress(flips_done, budget)`` after each flip (bfa) or at the end.
    protection : str
        The memory's protection (``none``, ``parity:N``, ``secded:N``,
        ``msb:K``). The attacker flips stored bits, check bits included, and
        the decoder sees its flips: under a code, bfa searches codeword moves
        (:mod:`accelsim.attack._codes`: SECDED corrects one flip, so a move
        costs 2 flips, detected, or 3, mis-corrected; parity detects one, and
        two pass); under ``msb:K`` the top bits sit in a nominal-voltage array
        that no fault reaches but the attacker still flips (rowhammer needs no
        low voltage); under ``msb:K:tmr`` a flip of one copy of a top bit is
        outvoted, so a move flips two copies (or one, where a chip's fault got
        a copy wrong; :mod:`accelsim.attack._tmr`); advbit's relaxation then
        runs over those moves.
    on_detect : {"zero", "keep"}
        What a detected-uncorrectable word reads as (as in :meth:`QuantizedModel.run`).

    Returns
    -------
    AttackResult

    Raises
    ------
    AttackError
        Budget <= 0 or above the stored bits (below 2 under SECDED on a
        fault-free memory, where one flip is always corrected), an unknown
        method or direction, a restriction that leaves no attackable bit, or a
        model whose loss has no gradient with respect to its weights (the
        attacks rank bits by that gradient; the decoding itself need not be
        differentiable: the change of each flip is decoded exactly).
    ProtectionError
        An unknown protection or ``on_detect``.
    """
    from accelsim.attack._target import Target, stuck_erring_bits
    from accelsim.engine import QuantizedModel
    from accelsim.sram.protection import check_on_detect, parse_protection, stored_stream_bits

    if not isinstance(qm, QuantizedModel):
        raise AttackError(f"qm = {type(qm).__name__}: expected an accelsim.QuantizedModel")
    method = check("method", method, StrOptions(METHODS), meaning="the attack", error=AttackError)
    scheme = parse_protection(protection)
    scheme.check_word_bits(qm.bits)
    on_detect = check_on_detect(on_detect)
    # Codes and TMR: the search makes moves of 1 to 3 stored flips (accelsim.attack._codes, _tmr).
    coded = scheme.kind in ("parity", "secded") or (scheme.kind == "msb" and scheme.tmr)
    total = stored_stream_bits(len(qm.words), qm.bits, scheme)
    flips = check("flips", flips, Interval(int, 1, total),
                  meaning=("the attacker's budget of flipped stored bits" if scheme.kind == "none" else
                           f"the attacker's budget of flipped stored bits ({total} under {scheme.name}, "
                           "check bits included)"), error=AttackError)
    if scheme.kind == "secded" and flips < 2 and profile is None:
        raise AttackError(f"flips = {flips}: SECDED corrects any single flip in a fault-free codeword; the "
                          "attacker needs at least 2 flips (detected) or 3 (mis-corrected), or a chip's faults "
                          "to add a flip to (profile, vdd_v)")
    seed = check("seed", seed, Interval(int, 0, None), error=AttackError)
    direction = check("direction", direction, StrOptions(DIRECTIONS), optional=True, error=AttackError)
    attack_examples = check("attack_examples", attack_examples, Interval(int, 1, None), error=AttackError)
    eval_every = check("eval_every", eval_every, Interval(int, 0, None), error=AttackError)
    steps = check("steps", steps, Interval(int, 1, None), error=AttackError)
    restarts = check("restarts", restarts, Interval(int, 1, None), error=AttackError)
    step_size = check("step_size", step_size, Interval(float, 0, None, closed="neither"), error=AttackError)
    stop_accuracy = check("stop_accuracy", stop_accuracy, Interval(float, 0, 1), optional=True, error=AttackError)
    x, y = _checked_data(x, y)
    tensors = _resolve_layers(qm, layers)
    profile = _load(profile)
    memory = None
    if profile is not None:
        if vdd_v is None:
            raise AttackError("profile given without vdd_v: attacking a chip's faults needs the voltage it is read at")
        memory = qm.memory(profile, memory_seed, scheme.name)
        if scheme.kind == "none":
            effective = memory.read(vdd_v, chip).words
            excluded = stuck_erring_bits(memory, vdd_v, chip)
        else:
            read = memory.read_with_flips(vdd_v, chip, np.zeros(0, np.int64), on_detect)
            effective = np.array(qm.words, copy=True)
            effective[read.word_index] = read.words
            excluded = memory.masked_bits(vdd_v, chip)
    else:
        effective, excluded = qm.words, np.zeros(0, np.int64)
    allowed = _allowed_cells(qm, attack_cells, chip if cells_chip is None else cells_chip, memory_seed, scheme)

    rng = np.random.default_rng([seed, 0x41747461636B])
    batch = np.sort(rng.choice(len(x), size=min(attack_examples, len(x)), replace=False))
    target = Target(qm, x[batch], y[batch], effective, np.zeros(0, np.int64) if coded else excluded,
                    None if coded else allowed, None if coded else direction, tensors)
    state = None
    if coded:
        from accelsim.attack._codes import CodeState
        from accelsim.attack._tmr import TmrState

        kind = TmrState if scheme.kind == "msb" else CodeState
        state = kind(target, scheme, on_detect, memory, vdd_v, chip, allowed, direction)
        if not state.any_attackable():
            _no_attackable_bit(layers, attack_cells, direction)
    else:
        _check_attackable(target, layers, attack_cells, direction)

    def accuracy_after(bits):
        logits = qm.run(x, profile, vdd_v, chip, memory_seed, protection=scheme.name, on_detect=on_detect,
                        extra_flips=np.asarray(bits, np.int64)).logits
        return logits, float((logits.argmax(1) == y).double().mean())

    def no_gradient():
        raise AttackError(f"{method}: the loss of this model has no gradient with respect to its weights on the "
                          "attack batch (all zero), so no bit can be ranked; check that the model's output "
                          "depends on its weights (e.g. saturated or detached layers)")

    start_logits, start_accuracy = accuracy_after([])
    curve = [(0, start_accuracy)]
    if method == "bfa":
        measured = [0]

        def on_flip(count, bit):
            if progress is not None:
                progress(count, flips)
            due = eval_every and count // eval_every > measured[0] // eval_every
            if due and count < flips:
                measured[0] = count
                curve.append((count, accuracy_after(flipped())[1]))
                return stop_accuracy is not None and curve[-1][1] <= stop_accuracy
            return False

        if coded:
            from accelsim.attack._codes import protected_bit_search

            def flipped():
                return state.flipped

            protected_bit_search(state, flips, on_flip, no_gradient)
            bits = np.asarray(state.flipped, dtype=np.int64)
        else:
            from accelsim.attack.bfa import progressive_bit_search

            def flipped():
                return target.flipped

            progressive_bit_search(target, flips, on_flip, no_gradient)
            bits = np.asarray(target.flipped, dtype=np.int64)
    else:
        if coded:  # moves of 1 to 3 flips in one codeword; the curve is measured between moves
            from accelsim.attack._codes import adversarial_moves

            moves = adversarial_moves(state, flips, steps, step_size, restarts, rng, no_gradient)
            bits = np.asarray([b for move in moves for b in move], dtype=np.int64)
            ends = np.cumsum([len(move) for move in moves], dtype=np.int64)
        else:
            from accelsim.attack.advbit import adversarial_bit_errors

            bits = np.asarray(adversarial_bit_errors(target, flips, steps, step_size, restarts, rng, no_gradient),
                              dtype=np.int64)
            ends = np.arange(1, len(bits) + 1)
        if progress is not None:
            progress(len(bits), flips)
        if eval_every:
            last = 0
            for end in ends[:-1].tolist():
                if end // eval_every <= last // eval_every:
                    continue
                last = end
                curve.append((end, accuracy_after(bits[:end])[1]))
                if stop_accuracy is not None and curve[-1][1] <= stop_accuracy:
                    bits = bits[:end]
                    break
    logits, accuracy = accuracy_after(bits)
    if curve[-1][0] != len(bits):
        curve.append((len(bits), accuracy))
    clean_pred = qm.run(x, None, None).logits.argmax(1)
    wrong = (logits.argmax(1) != y) | (clean_pred != y)
    return AttackResult(method=method, budget=flips, bits=bits, accuracy=accuracy,
                        robust_error=float(wrong.double().mean()), start_accuracy=start_accuracy,
                        curve=curve, classes=int(start_logits.shape[1]), protection=scheme.name,
                        on_detect=on_detect)


def _checked_data(x, y):
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor) or x.ndim < 2 or y.ndim != 1:
        raise AttackError("x, y: expected a batch of inputs (N x ...) and a 1-D tensor of int64 labels")
    if len(x) != len(y) or len(x) == 0:
        raise AttackError(f"x, y hold {len(x)} inputs and {len(y)} labels: expected the same number, at least 1")
    return x, y.long()


def _resolve_layers(qm, layers):
    if layers is None:
        return None
    if isinstance(layers, str):
        layers = (layers,)
    tensors = []
    for item in layers:
        found = [item] if item in qm.tensor_names else [n for n in qm.tensor_names if n.startswith(f"{item}.")]
        if not found:
            fail("layers", item, f"a tensor or layer of the model ({', '.join(qm.tensor_names)})", AttackError)
        tensors.extend(n for n in found if n not in tensors)
    if not tensors:
        fail("layers", tuple(layers), "at least one tensor or layer", AttackError)
    return tuple(tensors)


def _load(profile):
    if profile is None or not isinstance(profile, str):
        return profile
    from accelsim.sram import load_profile

    return load_profile(profile)


def _allowed_cells(qm, attack_cells, chip, memory_seed, scheme):
    """Sorted stored bits in cells faulty at the given voltage, or None (every bit).

    Under a protection scheme, the cells of its faulty array (check bits
    included), in the attacker's stored-bit index.
    """
    if attack_cells is None:
        return None
    if isinstance(attack_cells, str):
        match = _CELLS.fullmatch(attack_cells)
        try:
            vdd_v = float(match["vdd"]) if match else None
        except ValueError:
            vdd_v = None
        if vdd_v is None:
            fail("attack_cells", attack_cells, "profile:NAME@V (cells weak at V volts, e.g. profile:14nm@0.6)",
                 AttackError)
        profile = _load(match["name"])
    else:
        try:
            profile, vdd_v = attack_cells
        except (TypeError, ValueError):
            fail("attack_cells", attack_cells, "profile:NAME@V or a (Profile, volts) pair", AttackError)
    if scheme.kind != "none":
        return qm.memory(profile, memory_seed, scheme.name).weak_bits(vdd_v, chip)
    memory = qm.memory(profile, memory_seed)
    n = memory.faulty_cells(vdd_v, chip)
    return np.unique(np.asarray(memory.placement(chip).fault_bits[:n], dtype=np.int64))


def _check_attackable(target, layers, attack_cells, direction):
    for _, names in target.groups:
        for name in names:
            if target.mask(name).any():
                return
    _no_attackable_bit(layers, attack_cells, direction)


def _no_attackable_bit(layers, attack_cells, direction):
    said = ", ".join(f"{k} = {v!r}" for k, v in (("layers", layers), ("attack_cells", attack_cells),
                                                  ("direction", direction)) if v is not None)
    raise AttackError(f"no stored bit is attackable under {said or 'these restrictions'}: relax a restriction "
                      "(another voltage, layer or direction)")
