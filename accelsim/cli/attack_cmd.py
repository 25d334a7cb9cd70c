"""``accelsim attack``: flip chosen stored bits of a model; accuracy against the number of flips."""

__all__ = ["register", "format_curve_summary", "CHANCE_MARGIN"]

# "At chance" means at most one point above 1 / classes: a network that answers one
# class for everything sits at that class's share, which is rarely exactly 1 / classes.
CHANCE_MARGIN = 0.01


def register(subparsers):
    parser = subparsers.add_parser(
        "attack", help="flip chosen weight bits (bit-flip attack): accuracy against the number of flips",
        description="White-box attack on the stored weight bits of a model: Rakin et al.'s progressive bit "
                    "search (bfa) or Stutz et al.'s adversarial bit errors (advbit). Writes attack.csv "
                    "(flips, accuracy), bits.npy (the flipped stored-bit indices, in order; replay them with "
                    "qm.run(x, profile, vdd_v, chip, protection=P, on_detect=D, extra_flips=bits)) and "
                    "attack.png, and prints the flips needed to reach chance. Under --protection the "
                    "flips land in the encoded words (check bits included) and the decoder sees them.")
    parser.add_argument("--model", required=True, metavar="NAME|PATH", help="zoo name or checkpoint path")
    parser.add_argument("--method", default="bfa", help="bfa | advbit (default: bfa)")
    parser.add_argument("--flips", required=True, type=int, metavar="K", help="budget of flipped stored bits")
    parser.add_argument("--out", required=True, metavar="DIR", help="results folder")
    parser.add_argument("--dataset", help="digits | mnist:DIR | cifar10:DIR (default: digits for digits models)")
    parser.add_argument("--limit", type=int, default=1000, help="evaluate on the first N test examples (default: 1000)")
    parser.add_argument("--bits", type=int, help="re-quantize the model at this precision")
    parser.add_argument("--seed", type=int, default=0, help="seed of the attacker's batch and restarts (default: 0)")
    parser.add_argument("--attack-examples", type=int, default=128, help="attacker's batch size (default: 128)")
    parser.add_argument("--layer", action="append", metavar="NAME", help="attack only this layer or tensor (repeatable)")
    parser.add_argument("--attack-cells", metavar="profile:NAME@V",
                        help="attack only bits in cells weak at V volts on --chip of that profile")
    parser.add_argument("--direction", help="only 1->0 or only 0->1 flips (rowhammer)")
    parser.add_argument("--profile", metavar="NAME|PATH", help="attack on top of this profile's chip faults ...")
    parser.add_argument("--voltage", type=float, metavar="V", help="... read at V volts")
    parser.add_argument("--chip", type=int, default=0, help="chip of --profile and --attack-cells (default: 0)")
    parser.add_argument("--protection", default="none", metavar="SCHEME",
                        help="the memory's protection: none | parity:N | secded:N | msb:K | msb:K:tmr (default: none); the "
                             "attacker flips stored bits, check bits included, and the decoder sees its flips "
                             "(bits.npy then indexes the encoded stream)")
    parser.add_argument("--on-detect", default="zero", metavar="POLICY",
                        help="what a detected-uncorrectable word reads as: zero | keep (default: zero)")
    parser.add_argument("--stop-at-chance", action="store_true", help="stop once the accuracy reaches chance")
    parser.add_argument("--steps", type=int, default=10, help="advbit: projected gradient steps (default: 10)")
    parser.add_argument("--restarts", type=int, default=1, help="advbit: random restarts (default: 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_run)


def format_curve_summary(label, result):
    """The lines printed after an attack."""
    chance = 1 / result.classes
    needed = result.flips_to_reach(chance + CHANCE_MARGIN)
    half = result.flips_to_reach(0.5)
    lines = [f"attack: {label}: {result.method}, accuracy {result.start_accuracy * 100:.1f}% -> "
             f"{result.accuracy * 100:.1f}% after {result.flips} flipped bits (robust error "
             f"{result.robust_error * 100:.1f}%)",
             "flips to accuracy <= 50%: " + (str(half) if half is not None else f"not reached in {result.flips}"),
             f"flips to chance ({chance * 100:.0f}% + {CHANCE_MARGIN * 100:.0f} pp): "
             + (str(needed) if needed is not None else f"not reached in {result.flips}")]
    return "\n".join(lines)


def _run(args):
    from pathlib import Path

    import numpy as np
    import torch

    from accelsim.attack import AttackError, run
    from accelsim.cli._progress import ProgressBar
    from accelsim.data import load_dataset
    from accelsim.models import load_model
    from accelsim.plot import attack_curve_figure
    from accelsim.sweep.results import write_csv
    from accelsim.sweep.unit import model_label

    torch.set_num_threads(1)
    if args.limit is not None and args.limit < 1:
        raise AttackError(f"--limit = {args.limit}: expected an integer >= 1")
    from accelsim.sram.protection import check_on_detect, parse_protection

    parse_protection(args.protection)  # a bad name fails before the model loads
    check_on_detect(args.on_detect)
    if (args.profile is None) != (args.voltage is None):
        raise AttackError("--profile and --voltage go together: the chip's faults are those read at --voltage")
    qm = load_model(args.model, bits=args.bits)
    dataset = args.dataset
    if dataset is None:
        if qm.meta.get("dataset") != "digits":
            raise AttackError(f"--dataset is needed for {args.model} (trained on {qm.meta.get('dataset')!r}), "
                              "e.g. --dataset mnist:../shared/data/mnist")
        dataset = "digits"
    x, y = load_dataset(dataset, split="test", limit=args.limit)
    classes = int(qm.forward(x[:1]).shape[1])
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AttackError(f"--out {out}: cannot create it ({exc.strerror}); choose a writable folder") from None

    def describe(event):
        done, total = event
        return total, done, f"{done}/{total} flips"

    with ProgressBar("attack", "flip", args.quiet, describe) as bar:
        result = run(qm, x, y, method=args.method, flips=args.flips, seed=args.seed, layers=args.layer,
                     attack_cells=args.attack_cells, direction=args.direction, profile=args.profile,
                     vdd_v=args.voltage, chip=args.chip, attack_examples=args.attack_examples,
                     stop_accuracy=(1 / classes + CHANCE_MARGIN) if args.stop_at_chance else None,
                     steps=args.steps, restarts=args.restarts, progress=lambda done, total: bar((done, total)),
                     protection=args.protection, on_detect=args.on_detect)
    label = model_label(args.model, args.bits)
    if result.protection != "none":
        label = f"{label} ({result.protection}, on_detect={result.on_detect})"
    write_csv(out / "attack.csv", [{"flips": n, "accuracy": a} for n, a in result.curve], ("flips", "accuracy"))
    np.save(out / "bits.npy", result.bits)
    fig = attack_curve_figure({label: result.curve}, f"{result.method} on {label} ({dataset})",
                              chance=1 / result.classes)
    fig.savefig(out / "attack.png", dpi=120)
    print(f"results: {out}/ (attack.csv, bits.npy, attack.png)")
    print(format_curve_summary(label, result))
    return 0
