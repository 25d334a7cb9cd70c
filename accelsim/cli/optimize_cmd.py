"""``accelsim optimize``: bank voltages and protection at a yield target, checked on held-out chips."""

__all__ = ["register"]


def register(subparsers):
    parser = subparsers.add_parser(
        "optimize", help="search per-bank voltages and protection at a yield target",
        description="Per-layer sensitivity, then a greedy descent of the weight SRAM banks' voltages "
                    "per protection scheme, calibrated on --chips chips and re-measured on "
                    "--holdout-chips other chips; writes candidates.csv, pareto.csv, uniform.csv, "
                    "sensitivity.csv, optimum.json and front.png, and prints the optimum.")
    parser.add_argument("--model", required=True, metavar="NAME|PATH", help="zoo name or checkpoint")
    parser.add_argument("--profile", default="14nm", metavar="NAME|PATH", help="SRAM profile (default: 14nm)")
    parser.add_argument("--dataset", default=None,
                        help="dataset spec (default: the model's zoo dataset, else digits)")
    parser.add_argument("--tolerance", type=float, default=1.0, metavar="PP",
                        help="accuracy loss allowed, in points (default: 1)")
    parser.add_argument("--yield", dest="yield_target", type=float, default=0.9, metavar="Y",
                        help="share of chips within tolerance, in (0, 1] (default: 0.9)")
    parser.add_argument("--yield-margin", type=float, default=0.0, metavar="M",
                        help="the calibration and validation chips must reach --yield + M (held-out chips "
                             "and the uniform baseline: --yield alone; default: 0)")
    parser.add_argument("--banks", type=int, default=None,
                        help="weight SRAM banks of contiguous layers (default: the --accelerator's "
                             "[[weight_banks]] if it has them, else 4)")
    parser.add_argument("--bank-mapping", default="contiguous", metavar="contiguous|sensitivity|balanced",
                        help="which layers share a bank: contiguous layers balanced by bits, layers "
                             "grouped by their per-layer sensitivity floor to minimise the energy bound, "
                             "or contiguous layers minimising the sum of squared bank bits (no tiny "
                             "layer alone in a bank; default: contiguous)")
    parser.add_argument("--accelerator", metavar="PRESET|TOML",
                        help="accelerator pricing every point: a preset (edge, edge-45nm, eyeriss) or a "
                             "TOML file whose [[weight_banks]] tables (name, capacity_bits, layers) are "
                             "the banks (default: edge)")
    parser.add_argument("--activations", type=int, metavar="BITS",
                        help="put the activation SRAM on its own swept domain, with activations quantized "
                             "to BITS bits (ranges from the first 256 evaluated images); its energy "
                             "scales with V^2, its faults corrupt activations (default: at nominal, ideal)")
    parser.add_argument("--executor", default="local", help="local | dask | dask:ADDRESS (default: local)")
    parser.add_argument("--protection", action="append", metavar="P",
                        help="protection scheme to try (repeatable; default: none)")
    parser.add_argument("--chips", type=int, default=10, help="calibration chips (default: 10)")
    parser.add_argument("--holdout-chips", type=int, default=10, help="held-out chips (default: 10)")
    parser.add_argument("--validation-chips", type=int, default=0,
                        help="choose the cheapest calibration-feasible point that also meets the target on "
                             "this many other chips (between the calibration and the held-out chips; "
                             "default: 0, the cheapest calibration-feasible point)")
    parser.add_argument("--msb-split", type=int, default=0, metavar="K",
                        help="cut every bank into the top K bits of its weight codes and the rest, each on its "
                             "own supply (default: 0, whole codes)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N test examples")
    parser.add_argument("--voltages", metavar="START:STOP:N|V1,V2,...",
                        help="the voltage ladder (default: nominal, then 20 steps from Vmin to the floor)")
    parser.add_argument("--on-detect", default="zero", choices=("zero", "keep"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    parser.add_argument("--out", required=True, metavar="DIR", help="results folder")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=_run)


def _dataset(model):
    from accelsim.models import zoo

    for record in zoo():
        if record.name == model:
            return record.dataset
    return "digits"


def _run(args):
    import sys

    from accelsim.optimize import format_optimum, optimize
    from accelsim.plot_optimize import draw_front

    def progress(text):
        if not args.quiet:
            print(f"\roptimize: {text}", end="", file=sys.stderr, flush=True)

    from accelsim.sweep import parse_voltages

    result = optimize(args.model, args.profile, args.dataset or _dataset(args.model),
                      tolerance_pp=args.tolerance, yield_target=args.yield_target, banks=args.banks,
                      protections=tuple(args.protection or ("none",)), chips=args.chips,
                      holdout_chips=args.holdout_chips, validation_chips=args.validation_chips,
                      out=args.out, limit=args.limit,
                      seed=args.seed, on_detect=args.on_detect, resume=args.resume, progress=progress,
                      accelerator=args.accelerator, executor=args.executor, yield_margin=args.yield_margin,
                      act_bits=args.activations, mapping=args.bank_mapping, msb_split=args.msb_split,
                      voltages_v=parse_voltages(args.voltages) if args.voltages else None)
    if not args.quiet:
        print(file=sys.stderr)
    draw_front(args.out)
    print(f"results: {args.out}/ (optimum.json, candidates.csv, pareto.csv, uniform.csv, "
          "sensitivity.csv, front.png)")
    print(format_optimum(result))
    return 0
