"""``accelsim sweep``: energy against accuracy over supply voltage, with its answer."""

__all__ = ["register", "format_operating_point"]

DEFAULT_OUT = "accelsim-results"


def register(subparsers):
    parser = subparsers.add_parser(
        "sweep", help="sweep the weight SRAM voltage: accuracy and energy per inference",
        description="Walk the weight SRAM supply voltage down for each model and chip; write "
                    "sweep.csv, summary.csv, sweep.json and plots; print the best operating point "
                    "per model. With no arguments, runs the embedded default (digits models, 14nm profile).")
    parser.add_argument("--model", action="append", metavar="NAME|PATH",
                        help="zoo name or checkpoint path (repeatable; the first is the accuracy "
                             "reference; default: the digits normal, clipping and RandBET models)")
    parser.add_argument("--profile", metavar="NAME|PATH", help="SRAM profile (default: 14nm)")
    parser.add_argument("--voltages", metavar="START:STOP:N|V1,V2,...",
                        help="supply voltages in volts (default: nominal, then Vmin down to BER 10%%)")
    parser.add_argument("--chips", type=int, default=5, help="chips per voltage (default: 5)")
    parser.add_argument("--bits", type=int, help="re-quantize every model at this precision")
    parser.add_argument("--dataset", default="digits", help="digits | mnist:DIR | cifar10:DIR (default: digits)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"results folder (default: ./{DEFAULT_OUT})")
    parser.add_argument("--executor", default="local", help="local | dask | dask:ADDRESS (default: local)")
    parser.add_argument("--seed", type=int, default=0, help="seed of intermittent-cell draws (default: 0)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted sweep in --out")
    parser.add_argument("--tolerance", type=float, default=1.0, metavar="PP",
                        help="accuracy loss allowed for the operating point, in points (default: 1)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N test examples")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--attack", metavar="bfa:K|advbit:K",
                        help="also the accuracy after an attacker adds K chosen bit flips on top of each chip's "
                             "faults (columns attack*, plot attack_voltage.png)")
    parser.set_defaults(handler=_run)


def format_operating_point(point):
    """The one-line answer for one model (DESIGN.md's format)."""
    if point.vdd_v is None:
        return (f"operating point: {point.model}: none within tolerance "
                f"(accuracy {point.accuracy * 100:.1f}% at the highest voltage, {point.accuracy_change_pp:+.1f})")
    return (f"operating point: {point.model}: {point.vdd_v:.3f} V, energy {-point.energy_saving * 100:+.1f}% "
            f"vs nominal, weight SRAM {-point.weight_mem_saving_vs_vmin * 100:+.1f}% vs Vmin, "
            f"accuracy {point.accuracy * 100:.1f}% ({point.accuracy_change_pp:+.1f})")


def _spec(args):
    from accelsim.sweep import SweepSpec, parse_voltages
    from accelsim.sweep.spec import DEFAULT_MODELS, DEFAULT_PROFILE

    return SweepSpec(
        models=tuple(args.model or DEFAULT_MODELS), profile=args.profile or DEFAULT_PROFILE,
        voltages_v=parse_voltages(args.voltages) if args.voltages else (), chips=args.chips,
        bits=args.bits, dataset=args.dataset, seed=args.seed, limit=args.limit, attack=args.attack)


def _run(args):
    from accelsim.cli._progress import ProgressBar
    from accelsim.plot import draw_sweep
    from accelsim.sweep import run_sweep

    spec = _spec(args)

    def describe(event):
        return event.total, event.done, f"{event.model} chip {event.chip} {event.vdd_v:.3f} V"

    with ProgressBar("sweep", "point", args.quiet, describe) as progress:
        result = run_sweep(spec, args.out, executor=args.executor, resume=args.resume, progress=progress)
    draw_sweep(result.directory, dataset=spec.dataset)
    print(f"results: {result.directory}/ (sweep.csv, summary.csv, sweep.json, "
          "energy_accuracy.png, accuracy_voltage.png, ber_voltage.png)")
    for point in result.operating_points(args.tolerance):
        print(format_operating_point(point))
    if spec.attack is not None:
        from accelsim.cli._attack_summary import print_attack_summary

        print_attack_summary(result, spec)
    return 0
