"""Measure protection, yield and the optimizer; write docs/protection.md.

Run ``python benchmarks/protection_report.py [--work DIR] [--chips N] [--limit N]``
(``nice -n 10``, one torch thread). Every number in docs/protection.md is
written here from the measurement; rerunning with the same ``--work``
resumes the sweeps and optimizer runs already there.

1. SECDED (72,64) against the analytic rates, on >= 10^6 codewords of a
   uniform random-flip chip (every stored bit flips with probability p).
2. MNIST LeNet-GN (normal and RandBET, 8 bit) swept on the 14 nm profile
   with no protection, ``secded:64`` and ``msb:1``: the lowest voltage within
   1 point of the model's clean accuracy and its energy, overheads included.
3. ``accelsim.optimize`` (4 banks, greedy descent) on every MNIST zoo model:
   held-out gain against the best uniform voltage.
4. The levers alone and combined, next to Stutz et al.'s 20%.
"""

import argparse
import math
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MNIST  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FLIP_PROBABILITIES = (1e-3, 3e-3, 1e-2)
CODEWORDS_PER_CHIP = 250_000
CHIPS_PER_P = 4
SWEEP_MODELS = ("mnist-lenet-gn-normal-8b", "mnist-lenet-gn-randbet-8b")
SWEEP_PROTECTIONS = ("none", "secded:64", "secded:16", "parity:8", "msb:1", "msb:2:tmr")
COMBINED_PROTECTIONS = ("none", "secded:64", "msb:1")
MNIST_ZOO = ("mnist-lenet-gn-normal-8b", "mnist-lenet-gn-clipping-8b", "mnist-lenet-gn-randbet-8b",
             "mnist-lenet-gn-randbet-4b", "mnist-lenet-normal-8b")
TOLERANCE_PP = 1.0
YIELD = 0.8


# -- 1. SECDED against the analytic rate ------------------------------------------------------


EXACT_UP_TO = 3
SAMPLED_UP_TO = 10
SAMPLES = 50_000


def residual_by_error_count():
    """Mean residual data bits of a (72,64) word with k errors, keep policy.

    For k <= 3 every k-subset of the 72 positions is decoded by the dense
    reference decoder (72 + 2556 + 59640 patterns); for 4 <= k <= 10 a
    sample of 50,000 random k-subsets. The data bits are irrelevant (the
    code is linear), so all-zero data is used.
    """
    from accelsim.sram.protection import encode_codewords, parse_protection, reference_decode

    p = parse_protection("secded:64")
    zero = encode_codewords(np.zeros((1, 64), np.uint8), p)[0]
    means = {0: 0.0}
    rng = np.random.default_rng(1)
    for k in range(1, SAMPLED_UP_TO + 1):
        if k <= EXACT_UP_TO:
            subsets = np.array(list(combinations(range(72), k)))
        else:
            subsets = np.argsort(rng.random((SAMPLES, 72)), axis=1)[:, :k]
        words = np.tile(zero, (len(subsets), 1))
        rows = np.repeat(np.arange(len(subsets)), k)
        words[rows, subsets.reshape(-1)] ^= 1
        data, _, _ = reference_decode(words, p)
        means[k] = float(data.sum(axis=1).mean())
    return means


def secded_table():
    from scipy import stats

    from accelsim.sram import uniform_profile
    from accelsim.sram.protection import ProtectedMemory

    profile = uniform_profile(0.02)
    means = residual_by_error_count()
    rows = []
    rng = np.random.default_rng(0)
    words = rng.integers(0, 256, CODEWORDS_PER_CHIP * 8).astype(np.uint8)
    memory = ProtectedMemory(profile, words, 8, "secded:64")
    for p in FLIP_PROBABILITIES:
        vdd = profile.voltage_for_ber(p)
        uncorrectable = residual = flipped = 0
        for chip in range(CHIPS_PER_P):
            read = memory.read(vdd, chip, on_detect="keep")
            uncorrectable += read.detected_words + read.miscorrected_words
            residual += read.residual_flipped_bits
            flipped += read.flipped_bits
        n_words = CODEWORDS_PER_CHIP * CHIPS_PER_P
        analytic = 1 - (1 - p) ** 72 - 72 * p * (1 - p) ** 71
        pk = stats.binom.pmf(np.arange(SAMPLED_UP_TO + 1), 72, p)
        expected_residual = n_words * sum(pk[k] * means[k] for k in range(SAMPLED_UP_TO + 1))
        # More errors are left out: their probability bounds the error of the expectation.
        tail = float(stats.binom.sf(SAMPLED_UP_TO, 72, p))
        sigma = math.sqrt(n_words * analytic * (1 - analytic))
        rows.append({"p": p, "words": n_words, "measured_flip": flipped / (n_words * 72),
                     "uncorrectable": uncorrectable / n_words, "analytic": analytic,
                     "z": (uncorrectable - n_words * analytic) / sigma,
                     "residual": residual / n_words, "expected_residual": expected_residual / n_words,
                     "tail": tail})
    return rows, means


# -- 2. sweeps ------------------------------------------------------------------------------


def sweep_voltages():
    """Nominal, then 25 steps of 6.2 mV from 0.68 V to 0.531 V: fine enough to tell schemes apart."""
    return (0.8, *(round(0.68 - i * (0.68 - 0.531) / 24, 4) for i in range(25)))


def run_sweeps(work, chips, limit):
    from accelsim.sweep import SweepSpec, run_sweep

    results = {}
    for model in SWEEP_MODELS:
        for on_detect, protections in (("zero", SWEEP_PROTECTIONS), ("keep", ("secded:64",))):
            spec = SweepSpec(models=(model,), profile="14nm", chips=chips, dataset=f"mnist:{MNIST}",
                             limit=limit, protections=protections, tolerance_pp=TOLERANCE_PP,
                             voltages_v=sweep_voltages(), on_detect=on_detect)
            out = work / f"sweep-{model}-{on_detect}"
            results[(model, on_detect)] = run_sweep(spec, out, resume=out.exists())
    return results


def sweep_rows(results):
    rows = []
    for (model, on_detect), result in results.items():
        summary = result.summary
        nominal = max((s for s in results[(model, "zero")].summary if s["protection"] == "none"),
                      key=lambda s: s["vdd_v"])
        for point in result.operating_points(TOLERANCE_PP):
            row = next((s for s in summary if s["protection"] == point.protection
                        and s["vdd_v"] == point.vdd_v), None)
            if on_detect == "keep" and point.protection == "none":
                continue
            label = point.protection + (" (keep)" if on_detect == "keep" else "")
            rows.append({
                "model": model, "protection": label, "vdd_v": point.vdd_v,
                "total_saving": None if row is None else 1 - row["energy_j"] / nominal["energy_j"],
                "weight_saving": None if row is None else
                1 - row["weight_mem_energy_j"] / nominal["weight_mem_energy_j"],
                "vmin_saving": None if row is None else 1 - float(row["energy_rel_vmin"]),
                "accuracy": point.accuracy, "change": point.accuracy_change_pp,
                "yield": None if row is None else row["yield"]})
    return rows


# -- 3. optimizer ---------------------------------------------------------------------------


def run_optimizer(work, model, chips, limit, protections=("none",), tag="none", margin=0.0):
    import accelsim

    out = work / f"optimize-{model}-{tag}-c{chips}-m{margin:g}"
    plain = work / f"optimize-{model}-{tag}-c{chips}-m0"
    if margin and not out.exists() and (plain / "journal.jsonl").exists():
        # The margin changes which points are feasible, not any evaluation: start from its journal.
        import shutil

        out.mkdir(parents=True)
        shutil.copyfile(plain / "journal.jsonl", out / "journal.jsonl")
    start = time.process_time()
    result = accelsim.optimize(model, "14nm", f"mnist:{MNIST}", tolerance_pp=TOLERANCE_PP,
                               yield_target=YIELD, banks=4, protections=protections, chips=chips,
                               holdout_chips=chips, out=out, limit=limit, resume=out.exists(),
                               yield_margin=margin)
    # CPU over every (resumed) run of this folder, so a rerun from cache reports the real cost.
    cpu_file = out / "report_cpu_s.txt"
    cpu = time.process_time() - start + (float(cpu_file.read_text()) if cpu_file.exists() else 0.0)
    cpu_file.write_text(f"{cpu!r}\n")
    return result, cpu, _vmin_weight_energy(out)


def _vmin_weight_energy(out):
    """Weight-SRAM energy of the uniform voltage Vmin without protection (uniform.csv)."""
    from accelsim.sram import load_profile
    from accelsim.sweep.results import read_csv

    vmin = load_profile("14nm").vdd_min_v
    for row in read_csv(out / "uniform.csv"):
        if row["protection"] == "none" and abs(float(row["vdd_v"]) - vmin) < 1e-9:
            return float(row["weight_mem_energy_j"])
    return None


# -- the page -------------------------------------------------------------------------------


def _pct(x):
    return "n/a" if x is None else f"{x * 100:.1f}%"


def write_page(path, secded, means, sweeps, optimized, combined, args, seconds):
    from accelsim.optimize import format_optimum

    lines = [
        "# Protection, voltage domains, yield and the optimizer: measured",
        "",
        "Written by `benchmarks/protection_report.py` "
        f"(`--chips {args.chips} --limit {args.limit} --optimizer-chips {args.optimizer_chips} "
        f"--optimizer-protections {' '.join(args.optimizer_protections)} "
        f"--yield-margin {' '.join(f'{m:g}' for m in args.yield_margin)}`, "
        f"one torch thread; {seconds / 60:.1f} min of CPU "
        "in the run that wrote this page, which reuses finished sweeps and optimizer evaluations "
        "from its work folder; the optimizer's own CPU is in its table). "
        "Do not edit by hand: rerun the script.",
        "",
        "Conventions. *Uncorrectable* (72,64) words are those the decoder does not deliver "
        "correctly: detected (flagged) plus miscorrected (a wrong correction, or an error pattern "
        "that is itself a codeword). *Residual* bits are data bits delivered wrong under "
        "`on_detect=keep` (the raw bits of a detected word count). Energies include the check "
        "bits (stored and read at the swept supply), the msb domain at nominal and a decoder "
        "energy per codeword read (`accelsim.sram.protection.DECODER_ENERGY_J`, an estimate: "
        "0.7 pJ per (72,64) codeword). Yield: share of chips within "
        f"{TOLERANCE_PP:g} point of the clean accuracy; the operating-point tables below use "
        "the mean accuracy over chips, the optimizer the yield.",
        "",
        "## 1. SECDED (72,64) against the analytic rate",
        "",
        f"Uniform random flips (every stored bit, check bits included, flips with probability p); "
        f"{CODEWORDS_PER_CHIP * CHIPS_PER_P:,} codewords per p ({CHIPS_PER_P} chips of "
        f"{CODEWORDS_PER_CHIP:,}). Analytic uncorrectable share: 1 - (1-p)^72 - 72 p (1-p)^71; "
        "z is the difference in binomial standard deviations. Expected residual bits: "
        f"sum over k <= {SAMPLED_UP_TO} errors of P(k) times the mean residual of k errors: "
        f"exact for k <= {EXACT_UP_TO} from decoding every k-subset of the 72 positions "
        f"(k=2: {means[2]:.3f} bits, k=3: {means[3]:.3f} bits), from {SAMPLES:,} random "
        f"k-subsets above (k=4: {means[4]:.3f} bits); the k > {SAMPLED_UP_TO} tail left out is "
        "the last column.",
        "",
        "| p | measured flip rate | uncorrectable (measured) | analytic | z | residual bits / word "
        f"| expected | P(k > {SAMPLED_UP_TO}) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in secded:
        lines.append(f"| {r['p']:g} | {r['measured_flip']:.3e} | {r['uncorrectable']:.4e} | "
                     f"{r['analytic']:.4e} | {r['z']:+.2f} | {r['residual']:.4e} | "
                     f"{r['expected_residual']:.4e} | {r['tail']:.1e} |")
    lines += [
        "",
        "## 2. MNIST LeNet-GN, 8 bit, with and without protection (14 nm profile)",
        "",
        f"Lowest swept voltage (nominal, then 6.2 mV steps from 0.68 V to 0.531 V) whose mean "
        f"accuracy over {args.chips} chips stays within {TOLERANCE_PP:g} point of the model's "
        f"clean accuracy (first {args.limit} test images); savings against the same model "
        "unprotected at nominal. Yield: share of the chips within tolerance at that voltage. "
        "Detected words read as zero unless marked (keep).",
        "",
        "| model | protection | voltage | total energy saving | weight SRAM saving | accuracy "
        "(change) | yield |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sweeps:
        voltage = "none within tolerance" if r["vdd_v"] is None else f"{r['vdd_v']:.4f} V"
        lines.append(f"| {r['model']} | {r['protection']} | {voltage} | {_pct(r['total_saving'])} | "
                     f"{_pct(r['weight_saving'])} | {r['accuracy'] * 100:.1f}% ({r['change']:+.1f}) | "
                     f"{_pct(r['yield'])} |")
    lines += _protection_verdict(sweeps)
    lines += [
        "",
        "## 3. The optimizer on MNIST zoo models",
        "",
        f"`accelsim.optimize(..., banks=4, tolerance_pp={TOLERANCE_PP:g}, yield_target={YIELD:g}, "
        f"chips={args.optimizer_chips}, holdout_chips={args.optimizer_chips}, limit={args.limit}, "
        f"protections={tuple(args.optimizer_protections)}, yield_margin=M)` for each margin M in "
        f"{', '.join(f'{m:g}' for m in args.yield_margin)}: "
        "per-layer sensitivity, greedy descent of the bank voltages per scheme, then per-bank "
        "scheme switches, on calibration chips "
        f"0..{args.optimizer_chips - 1}, everything re-measured on held-out chips {args.optimizer_chips}.."
        f"{2 * args.optimizer_chips - 1}; with a margin, a calibration point must reach yield "
        f"{YIELD:g} + margin, the held-out check and the baseline {YIELD:g}. "
        "*vs best uniform*: weight-SRAM energy against the lowest-energy "
        "single voltage without protection meeting the same tolerance and yield on the same "
        "held-out chips (target: at least 10% on one model). The ladder: nominal, then 20 "
        "steps from Vmin to the profile's floor. A held-out yield below the target is the "
        "calibration chips' optimism, reported as measured. CPU: the evaluations of that folder; a "
        "run with a margin starts from the margin-0 run's journal (the same evaluations on the same "
        "chips), so its CPU is only what it evaluated anew.",
        "",
        "| model | margin | bank voltages (V) | protection | weight SRAM vs best uniform | total vs nominal "
        "| held-out accuracy | held-out yield (95% Wilson) | evaluations | CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (result, cpu, _), margin in zip(optimized, args.margins, strict=True):
        banks = ", ".join(f"{v:.3f}" for v in result.bank_vdd_v)
        vs = "no uniform voltage qualifies" if result.saving_vs_uniform is None else \
            f"{-result.saving_vs_uniform * 100:+.1f}%"
        lines.append(f"| {result.model} | {margin:g} | {banks} | {', '.join(result.protections)} | {vs} | "
                     f"{-result.energy_saving * 100:+.1f}% | "
                     f"{result.accuracy * 100:.1f}% | {result.chip_yield * 100:.0f}% "
                     f"[{result.chip_yield_ci95_low * 100:.0f}, {result.chip_yield_ci95_high * 100:.0f}] | "
                     f"{result.evaluations} | {cpu / 60:.1f} min |")
    met = [f"{r.model} (margin {m:g}, held-out yield {r.chip_yield * 100:.0f}%)"
           for (r, _, _), m in zip(optimized, args.margins, strict=True)
           if r.saving_vs_uniform is not None and r.saving_vs_uniform >= 0.10]
    lines += ["", ("Target (>= 10% vs best uniform) met on " + ", ".join(met) + ".") if met else
              "Target (>= 10% vs best uniform on one model) **not met** on these runs.", ""]
    short = [f"{r.model} (margin {m:g}): {r.chip_yield * 100:.0f}%"
             for (r, _, _), m in zip(optimized, args.margins, strict=True) if r.chip_yield < YIELD - 1e-9]
    if short:
        lines += [f"Held-out yield below the {YIELD:g} target: " + "; ".join(short) + ".", ""]
    lines += ["Printed lines:", "", "```"]
    lines += list(dict.fromkeys(format_optimum(r) for r, _, _ in optimized + combined))
    lines += ["```", "", "## 4. The levers alone and combined, against Stutz et al.", "",
              "Stutz et al. (MLSys 2021) report about 20% energy saving at <= 1% accuracy loss "
              "for 8-bit models with RandBET, relative to the lowest safe voltage Vmin. The "
              "MNIST analogue here: weight-SRAM energy against the same SRAM at Vmin (0.68 V on "
              "the 14 nm profile, no faulty cell), then against nominal (0.8 V), and total "
              "energy per inference against nominal:", "",
              "| lever(s) | model | weight SRAM vs Vmin | weight SRAM vs nominal | total vs nominal "
              "| how measured |", "|---|---|---|---|---|---|"]
    by = {(r["model"], r["protection"]): r for r in sweeps}
    normal, randbet = SWEEP_MODELS
    for label, key in (("none (undervolting alone)", (normal, "none")),
                       ("RandBET", (randbet, "none")), ("SECDED (72,64)", (normal, "secded:64")),
                       ("SECDED (72,64), keep", (normal, "secded:64 (keep)")),
                       ("SECDED (22,16)", (normal, "secded:16")),
                       ("msb:1", (normal, "msb:1")), ("msb:2:tmr", (normal, "msb:2:tmr"))):
        r = by.get(key)
        if r is not None:
            lines.append(f"| {label} | {key[0]} | {_pct(r['vmin_saving'])} | {_pct(r['weight_saving'])} | "
                         f"{_pct(r['total_saving'])} | uniform voltage, mean over chips |")
    def vs_vmin(result, vmin_j):
        return None if vmin_j is None else 1 - result.weight_mem_energy_j / vmin_j

    for result, _, vmin_j in (combined if tuple(args.optimizer_protections) != ("none",) else ()):
        lines.append(f"| per-bank voltages | {result.model} | {_pct(vs_vmin(result, vmin_j))} | "
                     f"{_pct(1 - result.weight_mem_energy_j / result.nominal_weight_mem_energy_j)} | "
                     f"{_pct(result.energy_saving)} | optimizer, no protection, held-out chips, "
                     f"yield {YIELD:g} |")
    for (result, _, vmin_j), margin in zip(optimized, args.margins, strict=True):
        if result.model not in SWEEP_MODELS:
            continue
        levers = ("per-bank" + (" + protection" if tuple(args.optimizer_protections) != ("none",) else "")
                  + (" + RandBET" if result.model == randbet else ""))
        lines.append(f"| {levers} | {result.model} | {_pct(vs_vmin(result, vmin_j))} | "
                     f"{_pct(1 - result.weight_mem_energy_j / result.nominal_weight_mem_energy_j)} | "
                     f"{_pct(result.energy_saving)} | optimizer, held-out chips, yield {YIELD:g}, "
                     f"margin {margin:g}, chose {', '.join(result.protections)} |")
    lines += ["", "The optimizer rows ask more (yield on held-out chips) than the sweep rows (mean "
              "accuracy), so they are not strictly comparable; both are what this repository "
              "measures, not a reproduction of Stutz et al.'s CIFAR numbers.", ""]
    path.write_text("\n".join(lines) + "\n")


def _protection_verdict(sweeps):
    out = [""]
    for model in SWEEP_MODELS:
        base = next((r for r in sweeps if r["model"] == model and r["protection"] == "none"), None)
        for r in sweeps:
            if r["model"] != model or r["protection"] == "none" or base is None:
                continue
            if r["total_saving"] is None or base["total_saving"] is None:
                continue
            pays = r["total_saving"] > base["total_saving"]
            out.append(f"- {model}, {r['protection']}: "
                       + (f"pays: {r['total_saving'] * 100:.1f}% total saving against "
                          f"{base['total_saving'] * 100:.1f}% without protection." if pays else
                          f"does **not** pay: {r['total_saving'] * 100:.1f}% total saving against "
                          f"{base['total_saving'] * 100:.1f}% without protection."))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("protection-report-work"))
    parser.add_argument("--chips", type=int, default=5)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "protection.md")
    parser.add_argument("--optimizer-chips", type=int, default=None,
                        help="calibration (and as many held-out) chips of the optimizer (default: --chips)")
    parser.add_argument("--optimizer-protections", nargs="+", default=list(COMBINED_PROTECTIONS),
                        help=f"schemes the optimizer tries (default: {' '.join(COMBINED_PROTECTIONS)})")
    parser.add_argument("--yield-margin", type=float, nargs="+", default=[0.0],
                        help="the optimizer's calibration margins on the yield, one run each (default: 0)")
    parser.add_argument("--models", nargs="+", default=list(MNIST_ZOO),
                        help="MNIST zoo models for the optimizer table (default: all)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    start = time.process_time()
    secded, means = secded_table()
    print(f"secded table done ({time.process_time() - start:.0f} s CPU)", flush=True)
    sweeps = sweep_rows(run_sweeps(args.work, args.chips, args.limit))
    print(f"sweeps done ({time.process_time() - start:.0f} s CPU)", flush=True)
    # Banks alone (the normal model), then banks and protection on every MNIST zoo model.
    chips = args.optimizer_chips = args.optimizer_chips or args.chips
    schemes = tuple(args.optimizer_protections)
    banks_alone = [run_optimizer(args.work, SWEEP_MODELS[0], chips, args.limit, tag="none",
                                 margin=args.yield_margin[0])]
    print(f"optimize banks alone done ({time.process_time() - start:.0f} s CPU)", flush=True)
    optimized, args.margins = [], []
    for margin in args.yield_margin:
        for model in args.models:
            optimized.append(run_optimizer(args.work, model, chips, args.limit, protections=schemes,
                                           tag="none" if schemes == ("none",) else "combined",
                                           margin=margin))
            args.margins.append(margin)
            print(f"optimize {model} margin {margin:g} done ({time.process_time() - start:.0f} s CPU)",
                  flush=True)
    combined = banks_alone
    write_page(args.out, secded, means, sweeps, optimized, combined, args, time.process_time() - start)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
