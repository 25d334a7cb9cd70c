"""``accelsim sweep``: energy against accuracy over supply voltage, with its answer."""

import sys
from pathlib import Path

__all__ = ["register", "format_operating_point", "metric_lines", "resume_hint"]

DEFAULT_OUT = "accelsim-results"


def register(subparsers):
    parser = subparsers.add_parser(
        "sweep", help="sweep the weight SRAM voltage: accuracy and energy per inference",
        description="Walk the weight SRAM supply voltage down for each model and chip; write "
                    "sweep.csv, summary.csv, sweep.json and plots; print the best operating point "
                    "per model. With no arguments, runs the embedded default (digits models, 14nm profile).")
    parser.add_argument("--model", action="append", metavar="NAME|PATH|MODULE:ATTR[@CKPT]",
                        help="zoo name, checkpoint path, or an importable model class or factory with "
                             "its weights (my_pkg:MyNet@ckpt.pt) (repeatable; the first is the accuracy "
                             "reference; default: the digits normal, clipping and RandBET models)")
    parser.add_argument("--profile", metavar="NAME|PATH", help="SRAM profile (default: 14nm)")
    parser.add_argument("--voltages", metavar="START:STOP:N|V1,V2,...",
                        help="supply voltages in volts (default: nominal, then Vmin down to BER 10%%)")
    parser.add_argument("--chips", type=int, default=5, help="chips per voltage (default: 5)")
    parser.add_argument("--bits", type=int, help="re-quantize every model at this precision")
    parser.add_argument("--dataset", help="digits | mnist[:DIR] | fashion-mnist[:DIR] | cifar10[:DIR] | a "
                                          "registered name (default: the first model's own dataset; "
                                          "without :DIR, found in $ACCELSIM_DATA)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"results folder (default: ./{DEFAULT_OUT})")
    parser.add_argument("--executor", default="local", help="local | dask | dask:ADDRESS (default: local)")
    parser.add_argument("--seed", type=int, default=0, help="seed of intermittent-cell draws (default: 0)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted sweep in --out")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the sweep results already in --out (only the files a sweep writes)")
    parser.add_argument("--tolerance", type=float, default=1.0, metavar="PP",
                        help="accuracy loss allowed for the operating point, in points (default: 1)")
    parser.add_argument("--energy-ref", metavar="MODEL",
                        help="model whose energy at nominal voltage every saving is relative to "
                             "(a label of the model column; default: the first model)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N test examples")
    parser.add_argument("--protection", action="append", metavar="P",
                        help="protection of the weight words: none, parity:N, secded:N, msb:K, "
                             "msb:K:tmr (repeatable: one more row group each; default: none)")
    parser.add_argument("--on-detect", default="zero", choices=("zero", "keep"),
                        help="what a detected-uncorrectable word reads as (default: zero)")
    parser.add_argument("--bank-voltages", action="append", metavar="V1,V2,...",
                        help="one more point with one supply per weight bank (the layers split into "
                             "that many banks of contiguous layers balanced by bits; repeatable)")
    parser.add_argument("--activations", type=int, metavar="BITS",
                        help="quantize activations to BITS bits and put the activation SRAM on the swept "
                             "domain of --bank-voltages points: each point then gives the weight banks' "
                             "supplies, then the activation SRAM's (its energy scales with V^2, its faults "
                             "corrupt activations; column act_vdd_v; uniform points keep it at nominal)")
    parser.add_argument("--accelerator", metavar="PRESET|TOML",
                        help="accelerator pricing every point: a preset (edge, edge-45nm, eyeriss) or a "
                             "TOML file; its [[weight_banks]] tables (name, capacity_bits, layers) map "
                             "the layers to the banks of --bank-voltages, one voltage per table "
                             "(default: edge, no banks)")
    parser.add_argument("--yield", dest="yield_target", type=float, metavar="Y",
                        help="choose the lowest-energy point whose chip yield (95%% Wilson lower "
                             "end, chips within --tolerance) is at least Y, in (0, 1]")
    parser.add_argument("--metric", default="accuracy", metavar="METRIC",
                        help="metric_value column: accuracy | top5 | loss | perplexity (default: accuracy; "
                             "a language model on text: loss or perplexity)")
    parser.add_argument("--scheme", metavar="NAME",
                        help="re-quantize every model: a preset (rquant, normal, ...) or a number format "
                             "(int8, int4, int8-g128, int4-g32, fp16, bf16, fp8-e4m3, fp8-e5m2, bfp-16, ...); "
                             "default: models as trained, MODULE:ATTR models in rquant")
    parser.add_argument("--adaptive", action="store_true",
                        help="evaluate each point's images in chunks, stopping once its accuracy is known "
                             "within --halfwidth (95%%) or certainly outside --tolerance of the reference; "
                             "rows give n_images and accuracy_halfwidth (default: every image)")
    parser.add_argument("--halfwidth", type=float, default=0.25, metavar="PP",
                        help="with --adaptive: 95%% half-width at which a point stops, in points (default: 0.25)")
    parser.add_argument("--act-bits", type=int, metavar="BITS",
                        help="quantize the input of every conv and linear layer to BITS bits (2 to 8, or 16; "
                             "ranges calibrated on the first 256 test examples; default: float activations)")
    parser.add_argument("--execution", choices=("float", "integer"), default="float",
                        help="float: layers in float32 on the decoded weights (default); integer: conv and "
                             "linear layers in integer arithmetic on the codes, as the MAC array (needs --act-bits)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--attack", metavar="bfa:K|advbit:K",
                        help="also the accuracy after an attacker adds K chosen bit flips on top of each chip's "
                             "faults (columns attack*, plot attack_voltage.png)")
    parser.add_argument("--allow-large", action="store_true",
                        help="lift the limits on voltages, chips and points (docs/limits.md)")
    parser.set_defaults(handler=_run, resume_hint=resume_hint)


def resume_hint(args, argv):
    """The sentence telling an interrupted user how to continue."""
    import shlex

    command = ["accelsim", *argv, *([] if "--resume" in argv else ["--resume"])]
    return f"finished points are kept in {args.out}; resume with: {shlex.join(command)}"


def metric_lines(directory, metric):
    """Per model, the median ``metric_value`` over chips at each swept voltage (high to low), one line each."""
    import statistics

    from accelsim.sweep.results import read_csv

    values = {}
    for row in read_csv(Path(directory) / "sweep.csv"):
        values.setdefault(row["model"], {}).setdefault(float(row["vdd_v"]), []).append(float(row["metric_value"]))
    return [f"{metric} (median over chips): {model}: "
            + ", ".join(f"{v:g} V {statistics.median(at[v]):.4g}" for v in sorted(at, reverse=True))
            for model, at in values.items()]


def format_operating_point(point, show_yield=False):
    """The one-line answer for one model (the format of docs/file-formats.md; with ``show_yield``, its chip yield)."""
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


# The default sweep on MNIST (when $ACCELSIM_DATA holds it): the zoo's MNIST models on the first
# 1,000 test images, so the 1-point tolerance is 10 images, in about 25 s of CPU time.
MNIST_DEFAULT_MODELS = ("mnist-lenet-gn-normal-8b", "mnist-lenet-gn-clipping-8b", "mnist-lenet-gn-randbet-8b")
MNIST_DEFAULT_LIMIT = 1000


def default_models_and_data(args):
    """``(models, dataset, limit)`` of the default sweep.

    With no ``--model`` and no ``--dataset``: MNIST's zoo models on its first
    1,000 test images when ``$ACCELSIM_DATA`` holds MNIST, else the digits
    models on digits' 1,000 test images. Either way the 1-point tolerance is
    10 images, and no training image is used for evaluation.
    """
    from accelsim.data import data_folder
    from accelsim.sweep.spec import DEFAULT_MODELS

    if args.model or args.dataset:
        return tuple(args.model or DEFAULT_MODELS), args.dataset, args.limit
    if data_folder("mnist") is not None:
        return MNIST_DEFAULT_MODELS, "mnist", MNIST_DEFAULT_LIMIT if args.limit is None else args.limit
    return DEFAULT_MODELS, "digits", args.limit


def _spec(args):
    from accelsim._limits import MAX_VOLTAGES
    from accelsim.sweep import SweepSpec, parse_voltages
    from accelsim.sweep.spec import DEFAULT_PROFILE, parse_bank_voltages

    max_voltages = None if args.allow_large else MAX_VOLTAGES
    models, dataset, limit = default_models_and_data(args)
    return SweepSpec(
        models=models, profile=args.profile or DEFAULT_PROFILE,
        voltages_v=parse_voltages(args.voltages, max_voltages) if args.voltages is not None else (),
        chips=args.chips,
        bits=args.bits, dataset=dataset, seed=args.seed, limit=limit, scheme=args.scheme, metric=args.metric,
        protections=tuple(args.protection or ("none",)), on_detect=args.on_detect,
        tolerance_pp=args.tolerance,
        bank_voltages=tuple(parse_bank_voltages(v) for v in args.bank_voltages or ()), attack=args.attack,
        accelerator=args.accelerator, activations=args.activations, act_bits=args.act_bits,
        execution=args.execution,
        **({"adaptive": True, "halfwidth_pp": args.halfwidth} if args.adaptive else {}))


def _run(args):
    from accelsim._checks import Interval, check
    from accelsim.cli._progress import ProgressBar
    from accelsim.plot import draw_sweep
    from accelsim.report import write_report
    from accelsim.sweep import SweepError, run_sweep
    from accelsim.sweep.diagnostics import sweep_warnings

    check("--tolerance", args.tolerance, Interval(float, 0, 100), meaning="accuracy points", error=SweepError)
    yield_target = check("--yield", args.yield_target, Interval(float, 0, 1, closed="right"),
                         error=SweepError, optional=True, meaning="share of chips")
    spec = _spec(args)

    def describe(event):
        return event.total, event.done, f"{event.model} chip {event.chip} {event.vdd_v:.3f} V"

    with ProgressBar("sweep", "point", args.quiet, describe) as progress:
        result = run_sweep(spec, args.out, executor=args.executor, resume=args.resume, progress=progress,
                           allow_large=args.allow_large, overwrite=args.overwrite)
    if result.damaged_journal_lines:
        print(f"accelsim: journal: {result.damaged_journal_lines} damaged line(s) dropped; their points "
              "were computed again", file=sys.stderr)
    points = result.operating_points(args.tolerance, args.energy_ref, yield_target=yield_target)
    warnings = sweep_warnings(result.directory, args.tolerance, args.energy_ref)
    for warning in warnings:
        print(f"accelsim: warning: {warning}", file=sys.stderr)
    if not points:  # a loss or perplexity sweep (a language model): no accuracy to hold within a tolerance
        print(f"results: {result.directory}/ (sweep.csv, summary.csv, sweep.json; no plots, report or operating "
              f"point: they are in accuracy, and this sweep measured {spec.metric})")
        for line in metric_lines(result.directory, spec.metric):
            print(line)
        return 0
    draw_sweep(result.directory, tolerance_pp=args.tolerance, energy_ref=args.energy_ref)
    write_report(result.directory, tolerance_pp=args.tolerance, energy_ref=args.energy_ref, warnings=warnings)
    print(f"results: {result.directory}/ (report.html, sweep.csv, summary.csv, sweep.json, "
          "energy_accuracy.png, accuracy_voltage.png, error_ber.png, ber_voltage.png)")
    # The contracted line keeps its words; which model's nominal energy is 100% is said once, above.
    print(f"energies relative to {points[0].energy_reference} at nominal voltage (--energy-ref)")
    for point in points:
        print(format_operating_point(point, show_yield=yield_target is not None))
    if spec.attack is not None:
        from accelsim.cli._attack_summary import print_attack_summary

        print_attack_summary(result, spec)
    return 0
