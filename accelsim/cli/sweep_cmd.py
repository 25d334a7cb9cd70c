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
    parser.add_argument("--protection", action="append", metavar="P",
                        help="protection of the weight words: none, parity:N, secded:N, msb:K, "
                             "msb:K:tmr (repeatable: one more row group each; default: none)")
    parser.add_argument("--on-detect", default="zero", choices=("zero", "keep"),
                        help="what a detected-uncorrectable word reads as (default: zero)")
    parser.add_argument("--bank-voltages", action="append", metavar="V1,V2,...",
                        help="one more point with one supply per weight bank (the layers split into "
                             "that many banks of contiguous layers balanced by bits; repeatable)")
    parser.add_argument("--yield", dest="yield_target", type=float, metavar="Y",
                        help="choose the lowest-energy point whose chip yield (95%% Wilson lower "
                             "end, chips within --tolerance) is at least Y, in (0, 1]")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_run)


def format_operating_point(point, show_yield=False):
    """The one-line answer for one model (DESIGN.md's format; with ``show_yield``, its chip yield)."""
    protection = getattr(point, "protection", "none")
    label = point.model if protection == "none" else f"{point.model} [{protection}]"
    yield_text = ("" if not show_yield or getattr(point, "chip_yield", None) is None
                  else f", yield {point.chip_yield * 100:.0f}% (>= {point.chip_yield_ci95_low * 100:.0f}%)")
    if point.vdd_v is None:
        return (f"operating point: {label}: none within tolerance "
                f"(accuracy {point.accuracy * 100:.1f}% at the highest voltage, {point.accuracy_change_pp:+.1f})")
    return (f"operating point: {label}: {point.vdd_v:.3f} V, energy {-point.energy_saving * 100:+.1f}% "
            f"vs nominal, weight SRAM {-point.weight_mem_saving_vs_vmin * 100:+.1f}% vs Vmin, "
            f"accuracy {point.accuracy * 100:.1f}% ({point.accuracy_change_pp:+.1f}){yield_text}")


def _spec(args):
    from accelsim.sweep import SweepSpec, parse_voltages
    from accelsim.sweep.spec import parse_bank_voltages
    from accelsim.sweep.spec import DEFAULT_MODELS, DEFAULT_PROFILE

    return SweepSpec(
        models=tuple(args.model or DEFAULT_MODELS), profile=args.profile or DEFAULT_PROFILE,
        voltages_v=parse_voltages(args.voltages) if args.voltages else (), chips=args.chips,
        bits=args.bits, dataset=args.dataset, seed=args.seed, limit=args.limit,
        protections=tuple(args.protection or ("none",)), on_detect=args.on_detect,
        tolerance_pp=args.tolerance,
        bank_voltages=tuple(parse_bank_voltages(v) for v in args.bank_voltages or ()))


def _run(args):
    from accelsim.cli._progress import ProgressBar
    from accelsim.plot import draw_sweep
    from accelsim.sweep import run_sweep

    from accelsim._checks import Interval, check
    from accelsim.sweep import SweepError

    yield_target = check("--yield", args.yield_target, Interval(float, 0, 1, closed="right"),
                         error=SweepError, optional=True, meaning="share of chips")
    spec = _spec(args)

    def describe(event):
        return event.total, event.done, f"{event.model} chip {event.chip} {event.vdd_v:.3f} V"

    with ProgressBar("sweep", "point", args.quiet, describe) as progress:
        result = run_sweep(spec, args.out, executor=args.executor, resume=args.resume, progress=progress)
    draw_sweep(result.directory, dataset=spec.dataset)
    print(f"results: {result.directory}/ (sweep.csv, summary.csv, sweep.json, "
          "energy_accuracy.png, accuracy_voltage.png, ber_voltage.png)")
    for point in result.operating_points(args.tolerance, yield_target=yield_target):
        print(format_operating_point(point, show_yield=yield_target is not None))
    return 0
