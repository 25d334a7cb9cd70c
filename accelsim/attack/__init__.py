"""Worst-case bit errors: white-box attacks on the stored weight bits of a quantized model.

Two attacks choose which stored bits to flip, given a model and a batch:

- ``bfa``: Rakin et al.'s progressive bit search (ICCV 2019), one flip per
  iteration, chosen by gradient ranking within each layer and a loss search
  over layers;
- ``advbit``: Stutz et al.'s adversarial bit errors (TPAMI 2022), projected
  gradient ascent over a relaxation of the bits with a budget of ``k`` flips.

Both flip only bits that exist in the stored words, optionally only in chosen
layers, only in cells weak on a chip at a voltage (an attacker who
undervolts), and only in one direction (rowhammer's ``1->0`` or ``0->1``).
They can attack on top of a chip's faults at a voltage. The flipped bit
indices are returned, and ``qm.run(x, profile, vdd_v, chip, seed,
extra_flips=result.bits)`` replays them through the ordinary engine path,
which is also how the reported accuracies are measured::

    result = accelsim.attack.run(qm, x, y, method="bfa", flips=20)
    logits = qm.run(x, None, None, extra_flips=result.bits).logits

On protected memory (``protection="secded:64"``, ``"parity:8"``, ``"msb:2"``, ``"msb:2:tmr"``)
the attacker flips stored bits of the encoded words, check bits included, and
the decoder sees its flips: one flip in a SECDED codeword is corrected, so bfa
makes codeword moves of 2 flips (detected; ``on_detect`` decides what the
word reads as) or 3 (silently mis-corrected), counted in stored bits. The
bits replay with ``qm.run(x, ..., protection=P, on_detect=D, extra_flips=bits)``.
"""

from accelsim.attack.core import (
    DIRECTIONS,
    METHODS,
    AttackError,
    AttackResult,
    parse_attack,
    run,
)

__all__ = ["DIRECTIONS", "METHODS", "AttackError", "AttackResult", "parse_attack", "run"]
