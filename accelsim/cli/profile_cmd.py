"""``accelsim profile list|info|synth|plot`` (and ``import``, from ``profile_import``)."""

import importlib
import shlex

__all__ = ["register"]

# Flags of each chip model: (flag, dest, type, help). Every value is in SI
# units named in the flag; the library defaults apply to flags left out.
_GAUSSIAN_FLAGS = (
    ("--vdd-min", "vdd_min_v", float,
     "declared Vmin (V); a uniform chip's Vmin is its nominal voltage"),
    ("--mu-v", "mu_v", float, "mean fail voltage of a cell (V)"),
    ("--sigma-cell-v", "sigma_cell_v", float, "spread of fail voltages within an array (V)"),
    ("--sigma-array-v", "sigma_array_v", float, "spread of a per-array shift of the mean (V)"),
    ("--weak-column-share", "weak_column_share", float,
     "share of each array's faults moved onto its weak columns (0-1)"),
    ("--weak-columns", "weak_columns", int, "weak columns per array"),
    ("--sa1-to-sa0", "sa1_to_sa0", float, "ratio of stuck-at-1 to stuck-at-0 cells"),
    ("--flip-share", "flip_share", float, "share of faulty cells that flip the bit (0-1)"),
    ("--intermittent-share", "intermittent_share", float,
     "share of faulty cells that err only sometimes (0-1)"),
    ("--p-error-min", "p_error_min", float, "lowest error probability of an intermittent cell"),
    ("--p-error-max", "p_error_max", float, "highest error probability of an intermittent cell"),
)
_UNIFORM_FLAGS = (
    ("--p-max", "p_max", float, "bit error rate at the floor voltage, in (0, 1]"),
)
_CHIP_FLAGS = (
    ("--name", "name", str, "profile name (default: the file name of --out)"),
    ("--description", "description", str, "one-line description"),
    ("--technology", "technology", str, "technology node or memory type"),
    ("--temperature-k", "temperature_k", float, "temperature (K)"),
    ("--arrays", "arrays", int, "number of SRAM arrays"),
    ("--rows", "rows", int, "rows per array"),
    ("--cols", "cols", int, "columns (bits) per array"),
    ("--vdd-nominal", "vdd_nominal_v", float, "nominal supply voltage (V)"),
    ("--vdd-floor", "vdd_floor_v", float, "lowest voltage the profile describes (V)"),
    ("--seed", "seed", int, "seed of the random stream"),
    ("--notes", "notes", str, "free-form notes"),
)
_ENERGY_FLAGS = (
    ("--read-energy-per-bit-j", "read_energy_per_bit_j", float,
     "read energy per bit at nominal (J)"),
    ("--write-energy-per-bit-j", "write_energy_per_bit_j", float,
     "write energy per bit at nominal (J)"),
    ("--leakage-power-per-bit-w", "leakage_power_per_bit_w", float,
     "leakage power per bit at nominal (W)"),
    ("--leakage-k-per-v", "leakage_k_per_v", float, "exponent of leakage scaling (1/V)"),
)


def register(subparsers):
    """Add ``profile`` and its sub-subcommands to the ``accelsim`` parser."""
    parser = subparsers.add_parser(
        "profile", help="list, describe, synthesise, import and plot SRAM profiles",
        description="SRAM profiles: which cells fail below which voltage.")
    actions = parser.add_subparsers(dest="profile_command", metavar="ACTION")
    parser.set_defaults(handler=lambda args: _usage(parser))

    listing = actions.add_parser("list", help="show every profile reachable by name")
    listing.set_defaults(handler=_run_list)

    info = actions.add_parser("info", help="geometry, voltages, BER table, energy, provenance")
    info.add_argument("profile", metavar="NAME|PATH")
    info.add_argument("--chip", type=int, default=0, help="drawn chip to count (default 0)")
    info.set_defaults(handler=_run_info)

    _register_synth(actions)

    plot = actions.add_parser("plot", help="BER vs voltage and a map of one array's fail voltages")
    plot.add_argument("profile", metavar="NAME|PATH")
    plot.add_argument("--out", metavar="FILE", help="image file (default: profile-NAME.png)")
    plot.add_argument("--chip", type=int, default=0, help="chip to draw (default 0)")
    plot.add_argument("--array", type=int, help="array of the fail-voltage map (default: the most faulty)")
    plot.set_defaults(handler=_run_plot)

    try:
        importer = importlib.import_module("accelsim.cli.profile_import")
    except ModuleNotFoundError as exc:
        if exc.name != "accelsim.cli.profile_import":
            raise
    else:
        importer.register(actions)


def _register_synth(actions):
    synth = actions.add_parser(
        "synth", help="generate a synthetic chip (gaussian or uniform model)",
        description="Write a generated profile. Flags left out take the library defaults "
                    "(gaussian: the 14 nm calibration; uniform: 1.0 V nominal, 0.5 V floor); "
                    "the full command is recorded in the profile's meta.source.")
    synth.add_argument("--model", required=True, choices=("gaussian", "uniform"))
    synth.add_argument("--out", required=True, metavar="PATH", help="profile file to write (.npz)")
    for title, flags in (("chip", _CHIP_FLAGS), ("gaussian model", _GAUSSIAN_FLAGS),
                         ("uniform model", _UNIFORM_FLAGS), ("energy", _ENERGY_FLAGS)):
        group = synth.add_argument_group(title)
        for flag, dest, kind, text in flags:
            group.add_argument(flag, dest=dest, type=kind, help=text)
    synth.set_defaults(handler=_run_synth)


def _usage(parser):
    parser.print_help()
    return 2


def _run_list(args):
    from accelsim.sram import list_profiles

    records = list_profiles()
    if not records:
        print("no profiles found ($ACCELSIM_PROFILES, ./profiles, shipped)")
        return 0
    width = max(len(record.name) for record in records)
    for record in records:
        print(f"{record.name:<{width}}  {record.kind:<9}  {record.technology:<14}  "
              f"{record.origin:<18}  {record.description}")
    return 0


def _run_info(args):
    from accelsim.cli._profile_report import describe_profile
    from accelsim.sram import load_profile

    print(describe_profile(load_profile(args.profile), chip=args.chip))
    return 0


def _run_synth(args):
    from pathlib import Path

    from accelsim.sram import ProfileError
    from accelsim.sram.generators import gaussian_profile, uniform_profile

    own, other = ((_GAUSSIAN_FLAGS, _UNIFORM_FLAGS) if args.model == "gaussian"
                  else (_UNIFORM_FLAGS, _GAUSSIAN_FLAGS))
    misplaced = [flag for flag, dest, _, _ in other if getattr(args, dest) is not None]
    if misplaced:
        model = "uniform" if args.model == "gaussian" else "gaussian"
        raise ProfileError(f"{', '.join(misplaced)}: flag(s) of the {model} model, not of "
                           f"--model {args.model}; drop them or use --model {model}")
    if args.model == "uniform" and args.p_max is None:
        raise ProfileError("--model uniform needs --p-max (the bit error rate at the floor "
                           "voltage, in (0, 1])")
    kwargs = _given(args, own + _CHIP_FLAGS)
    kwargs.setdefault("name", Path(args.out).stem)
    energy = _energy(args)
    build = gaussian_profile if args.model == "gaussian" else uniform_profile
    draft = build(**kwargs, energy=energy)
    command = _synth_command(args.model, draft, args.out)
    profile = build(**kwargs, energy=energy, source=f"generated: {command}")
    try:
        profile.save(args.out)
    except OSError as exc:
        raise ProfileError(f"--out {args.out!r} cannot be written ({exc.strerror}); "
                           "choose a writable path in an existing folder") from None
    ber_at_vmin = float(profile.ber(profile.vdd_min_v))
    if ber_at_vmin > 1e-6:
        import sys

        print(f"accelsim: warning: profile {profile.name} declares Vmin {profile.vdd_min_v:g} V but its fault "
              f"model gives a faulty-cell rate of {ber_at_vmin:.2g} there (> 1e-06); set --mu-v (the mean fail "
              "voltage) to match, or --vdd-min to where the rate is negligible", file=sys.stderr)
    cells = profile.chip_cells(0)
    print(f"wrote {args.out}: {profile.name}, {args.model} model, {profile.arrays} x "
          f"{profile.rows} x {profile.cols} cells, {len(cells)} faulty at the floor "
          f"{profile.vdd_floor_v} V (chip 0), fingerprint {profile.generator.fingerprint[:16]}")
    return 0


def _given(args, flags):
    return {dest: getattr(args, dest) for _, dest, _, _ in flags if getattr(args, dest) is not None}


def _energy(args):
    from accelsim.sram import EnergyModel

    return EnergyModel(**_given(args, _ENERGY_FLAGS))


def _synth_command(model, profile, out):
    """The explicit command that regenerates ``profile``: every value spelled out."""
    values = dict(profile.generator.to_dict()["params"], **profile.energy.to_dict())
    values.update({dest: getattr(profile, dest) for _, dest, _, _ in _CHIP_FLAGS
                   if dest not in ("seed", "notes")})
    values["seed"] = profile.generator.seed
    if model == "gaussian":
        values["vdd_min_v"] = profile.vdd_min_v
    if profile.notes is not None:
        values["notes"] = profile.notes
    words = ["accelsim", "profile", "synth", "--model", model]
    for flag, dest, _, _ in _CHIP_FLAGS + _GAUSSIAN_FLAGS + _UNIFORM_FLAGS + _ENERGY_FLAGS:
        if dest in values:
            words += [flag, repr(values[dest]) if isinstance(values[dest], float)
                      else str(values[dest])]
    return shlex.join(words + ["--out", out])


def _run_plot(args):
    from accelsim.plot import profile_figure
    from accelsim.sram import ProfileError, load_profile

    profile = load_profile(args.profile)
    from accelsim._safeio import safe_file_name

    # The profile's name comes from the file: never let it choose a folder.
    out = args.out or f"profile-{safe_file_name(profile.name, 'profile')}.png"
    figure = profile_figure(profile, chip=args.chip, array=args.array)
    try:
        figure.savefig(out)
    except (OSError, ValueError) as exc:
        raise ProfileError(f"--out {out!r} cannot be written ({exc}); choose a writable path "
                           "ending in .png, .pdf or .svg") from None
    print(out)
    return 0
