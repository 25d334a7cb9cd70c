"""The worst-case columns of a sweep point: an attacker's K chosen flips on top of the chip's faults."""

from accelsim.sweep.results import ATTACK_COLUMNS

__all__ = ["attack_columns", "ATTACK_EXAMPLES"]

# The attacker's batch (Rakin et al. attack with one batch of 128 images).
ATTACK_EXAMPLES = 128


def attack_columns(spec, qm, profile, chip, vdd_v, x, y, previous=None, faulty_cells=None, protection="none"):
    """``attack, attack_flips, attack_accuracy, attack_robust_error`` of one (model, chip, voltage).

    The attack (``spec.attack``, seeded by ``spec.seed``) starts from the
    words the chip returns at ``vdd_v`` (intermittent cells drawn with
    ``spec.seed``, as the point's own read); its accuracy is measured on the
    sweep's examples through ``qm.run(..., extra_flips=bits)``. A voltage
    adding no faulty cell to the previous one reads the same words, so the
    previous point's attack columns are reused. Under ``protection`` the
    attacker flips stored bits of the encoded words (check bits included) and
    the decoder, with ``spec.on_detect``, sees its flips.
    """
    from accelsim.attack import parse_attack, run

    if previous is not None and faulty_cells is not None and previous.get("faulty_cells") == faulty_cells \
            and "attack" in previous:
        return {c: previous[c] for c in ATTACK_COLUMNS}
    method, flips = parse_attack(spec.attack)
    from accelsim.sram.protection import parse_protection, stored_stream_bits

    scheme = parse_protection(protection)
    budget = min(flips, stored_stream_bits(len(qm.words), qm.bits, scheme))
    result = run(qm, x, y, method=method, flips=budget, seed=spec.seed, profile=profile,
                 vdd_v=vdd_v, chip=chip, memory_seed=spec.seed, attack_examples=ATTACK_EXAMPLES, eval_every=0,
                 protection=scheme.name, on_detect=spec.on_detect)
    return {"attack": spec.attack, "attack_flips": result.flips, "attack_accuracy": result.accuracy,
            "attack_robust_error": result.robust_error}
