"""``accelsim accel info``: an accelerator's technology and per-component energy table."""

__all__ = ["register", "format_info"]


def register(subparsers):
    parser = subparsers.add_parser(
        "accel", help="show an accelerator preset or file and its energy split",
        description="Accelerator descriptions: presets (edge, edge-45nm, eyeriss) or TOML files.")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    info = verbs.add_parser(
        "info", help="per-component energy per access and per inference at nominal supply",
        description="Print the accelerator's node, memories and PE array, and its energy table: "
                    "per access, and per inference of --model at nominal supply with each "
                    "component's share of the total.")
    info.add_argument("accelerator", nargs="?", default="edge", metavar="PRESET|TOML",
                      help="a preset (edge, edge-45nm, eyeriss) or an accelerator file (default: edge)")
    info.add_argument("--model", default="mnist-lenet-normal-8b",
                      help="zoo name or checkpoint whose inference is priced (default: mnist-lenet-normal-8b)")
    info.add_argument("--profile", default="14nm",
                      help="profile whose energy block prices the weight SRAM when its energy_source "
                           "is 'profile' (default: 14nm)")
    info.set_defaults(handler=_run)
    parser.set_defaults(handler=lambda args: parser.print_help() or 2)


def _si(value, unit):
    if value is None:
        return "-"
    for factor, prefix in ((1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "u"), (1e-3, "m")):
        if abs(value) < factor * 1000:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def format_info(accelerator, rows, model=None):
    """The lines ``accelsim accel info`` prints."""
    weight = accelerator.weight_memory
    act = accelerator.activation_memory
    lines = [
        f"accelerator {accelerator.name}: {accelerator.node_nm:g} nm, nominal {accelerator.vdd_nominal_v:g} V, "
        f"{accelerator.pe_array.rows} x {accelerator.pe_array.cols} PEs, {accelerator.clock_hz / 1e6:g} MHz, "
        f"{accelerator.word_bits}-bit words",
        f"weight SRAM {weight.capacity_bits / 8192:g} KB ({weight.voltage_domain} supply, energy from "
        f"{weight.energy_source}); activation SRAM {act.capacity_bits / 8192:g} KB (nominal supply)",
        "",
        f"{'component':<24}{'per access':>14}{'per inference':>16}{'share':>8}",
    ]
    for row in rows:
        share = "-" if row.share is None else f"{row.share * 100:.1f}%"
        lines.append(f"{row.component:<24}{_si(row.per_access_j, 'J'):>14}"
                     f"{_si(row.per_inference_j, 'J'):>16}{share:>8}")
    if model is not None:
        lines += ["", f"per inference: {model} at batch 1, nominal supply; per access: one "
                      f"{accelerator.word_bits}-bit word read, one MAC at the model's widths"]
    return "\n".join(lines)


def _run(args):
    from accelsim.accel import load_accelerator
    from accelsim.accel.report import component_energies
    from accelsim.models import load_model
    from accelsim.sram import load_profile

    accelerator = load_accelerator(args.accelerator)
    qm = load_model(args.model)
    profile_energy = None
    if accelerator.weight_memory.energy_source == "profile":
        profile_energy = load_profile(args.profile).energy
    rows = component_energies(accelerator, qm.workloads(), profile_energy)
    print(format_info(accelerator, rows, model=args.model))
    return 0
