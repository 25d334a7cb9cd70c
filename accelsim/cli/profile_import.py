"""``accelsim profile import``: a profile from measured dumps, maps or cell tables."""

import shlex

__all__ = ["register", "format_summary"]

_FORMATS = ("fpga-hex", "stuck-at-maps", "cells-csv")
_GEOMETRY_FLAGS = (("--arrays", "arrays"), ("--rows", "rows"), ("--cols", "cols"))
_PLACEMENT_FLAGS = (("--step-v", "step_v"), ("--seed", "seed"))


def register(profile_subparsers):
    """Add ``import`` to the sub-subcommands of ``accelsim profile``."""
    parser = profile_subparsers.add_parser(
        "import", help="make a profile from measured fault dumps, maps or a cell table",
        description="Import a measured chip. fpga-hex: per-voltage dumps of memory written all "
                    "ones, voltage in the name (KC705B-0.53.bin). stuck-at-maps: 0/1 matrices "
                    "fmap_sa0_v_<V>.txt / fmap_sa1_v_<V>.txt. cells-csv: rows "
                    "array,row,col,v_fail_v,fault_kind[,p_error]. Fail voltages between measured "
                    "voltages follow a Gaussian fit of the measured BER; counts at measured "
                    "voltages are exact.")
    parser.add_argument("--format", required=True, choices=_FORMATS, dest="import_format",
                        help="layout of the input files")
    parser.add_argument("--out", required=True, metavar="PATH", help="profile file to write (.npz)")
    parser.add_argument("--vdd-nominal", type=float, default=1.0, dest="vdd_nominal_v",
                        metavar="V", help="nominal supply voltage (V, default 1.0)")
    parser.add_argument("--name", help="profile name (default: the file name of --out)")
    parser.add_argument("--technology", help="technology node or memory type")
    parser.add_argument("--temperature-k", type=float, dest="temperature_k",
                        help="measurement temperature (K, default 300)")
    placement = parser.add_argument_group("fpga-hex and stuck-at-maps")
    placement.add_argument("--step-v", type=float, dest="step_v", metavar="V",
                           help="interval above the highest measured voltage holding the cells "
                                "faulty there (default: spacing of the two highest voltages)")
    placement.add_argument("--seed", type=int, help="seed of the quantile order (default 0)")
    geometry = parser.add_argument_group(
        "cells-csv", "chip geometry; each one left out is the largest index in the CSV plus one")
    for flag, dest in _GEOMETRY_FLAGS:
        geometry.add_argument(flag, type=int, dest=dest)
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="dumps or maps (one per voltage and polarity), or one CSV")
    parser.set_defaults(handler=_run_import)


def _run_import(args):
    from pathlib import Path

    from accelsim.sram.importers import (
        ProfileImportError,
        import_cells_csv,
        import_fpga_hex,
        import_stuck_at_maps,
    )

    own, other = ((_GEOMETRY_FLAGS, _PLACEMENT_FLAGS) if args.import_format == "cells-csv"
                  else (_PLACEMENT_FLAGS, _GEOMETRY_FLAGS))
    misplaced = [flag for flag, dest in other if getattr(args, dest) is not None]
    if misplaced:
        raise ProfileImportError(f"{', '.join(misplaced)}: not a flag of --format "
                                 f"{args.import_format}; drop it")
    options = {dest: getattr(args, dest) for _, dest in own if getattr(args, dest) is not None}
    options.update({key: getattr(args, key) for key in ("technology", "temperature_k")
                    if getattr(args, key) is not None})
    options.update(vdd_nominal_v=args.vdd_nominal_v, name=args.name or Path(args.out).stem,
                   command=_command(args))
    if args.import_format == "cells-csv":
        if len(args.files) != 1:
            raise ProfileImportError(f"--format cells-csv takes one CSV file, got "
                                     f"{len(args.files)}; merge the tables into one file")
        profile, summary = import_cells_csv(args.files[0], **options)
    else:
        importer = import_fpga_hex if args.import_format == "fpga-hex" else import_stuck_at_maps
        profile, summary = importer(args.files, **options)
    try:
        profile.save(args.out)
    except OSError as exc:
        raise ProfileImportError(f"--out {args.out!r} cannot be written ({exc.strerror}); "
                                 "choose a writable path in an existing folder") from None
    print(f"wrote {args.out}: profile '{profile.name}'")
    print(format_summary(summary))
    return 0


def _command(args):
    """The import command with every option spelled out, for the profile's provenance."""
    words = ["accelsim", "profile", "import", "--format", args.import_format, "--out", args.out,
             "--vdd-nominal", repr(args.vdd_nominal_v)]
    for flag, dest in (("--name", "name"), ("--technology", "technology"),
                       ("--temperature-k", "temperature_k"), *_PLACEMENT_FLAGS, *_GEOMETRY_FLAGS):
        if getattr(args, dest) is not None:
            words += [flag, str(getattr(args, dest))]
    return shlex.join(words + list(args.files))


def format_summary(summary):
    """Readable lines describing an :class:`~accelsim.sram.importers.ImportSummary`."""
    lines = [f"format {summary.format}: {summary.arrays} arrays x {summary.rows} rows x "
             f"{summary.cols} cols = {summary.cells:,} cells",
             f"voltages: floor {summary.vdd_floor_v:g} V, Vmin {summary.vdd_min_v:g} V"]
    if summary.voltages_v:
        lines.append(f"{'measured V':>10}  {'seen faulty':>11}  {'in profile':>10}  {'BER':>9}"
                     f"  {'fit BER':>9}  {'probit resid.':>13}")
        for k, vdd_v in enumerate(summary.voltages_v):
            faulty = summary.faulty[k]
            fitted, residual = ((f"{float(summary.fit.ber(vdd_v)):9.3g}",
                                 f"{summary.fit.residuals[k]:+13.3f}") if summary.fit
                                else (f"{'-':>9}", f"{'-':>13}"))
            lines.append(f"{vdd_v:10.4g}  {summary.seen_faulty[k]:11,}  {faulty:10,}  "
                         f"{faulty / summary.cells:9.3g}  {fitted}  {residual}")
        fit = summary.fit
        lines.append(f"fail-voltage fit: N(mu = {fit.mu_v:.4f} V, sigma = {fit.sigma_v:.4f} V)"
                     if fit else "fail-voltage fit: none (fewer than two voltages with faults); "
                                 "cells spread uniformly")
        lines.append("cells not nested (kept as intermittent, p_error < 1): "
                     f"{summary.non_nested:,}")
    share = summary.arrays_without_fault_at_floor / summary.arrays
    lines.append(f"arrays with no fault at the floor: {summary.arrays_without_fault_at_floor:,} "
                 f"of {summary.arrays:,} ({share:.0%})")
    return "\n".join(lines)
