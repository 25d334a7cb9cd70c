"""Measure worst-case bit errors on the MNIST zoo and write docs/adversarial.md.

For each model (normal, clipping, RandBET and AdvBET LeNet-gn at 8 bits):

- Rakin et al.'s progressive bit search (BFA), one flip at a time up to
  ``--max-flips`` or until the accuracy reaches chance (1/10 + 1 point), for
  ``--seeds`` attacker batches of 128 test images; the curve of
  accuracy against flips, and the flips needed to reach 50% and chance;
- Stutz et al.'s adversarial bit errors (advbit) at a few budgets;
- random bit errors at the same counts: ``--draws`` sets of uniformly drawn
  stored bits, flipped through the same engine path (``qm.run(...,
  extra_flips=bits)``), their robust error (wrong under the flips or when
  clean, Stutz et al.'s RErr).

Every number in docs/adversarial.md is written by this script. Results per
model are cached (``--cache``), so an interrupted run continues.

Run: python benchmarks/adversarial_report.py [--limit 1000] [--seeds 3] [--max-flips 200]
"""

import argparse
import datetime
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from accelsim import load_dataset, load_model
from accelsim._version import __version__
from accelsim.attack import run

from _common import MNIST  # benchmarks/_common.py

MODELS = ("mnist-lenet-gn-normal-8b", "mnist-lenet-gn-clipping-8b", "mnist-lenet-gn-randbet-8b",
          "mnist-lenet-gn-advbet-8b")
CURVE_POINTS = (0, 1, 2, 5, 10, 20, 50, 100, 200)
RANDOM_COUNTS = (10, 100, 1000, 10000)
ADVBIT_BUDGETS = (5, 10, 20)
CHANCE = 0.1 + 0.01  # 10 classes, plus one point: a network answering one class sits near 1/10
ROOT = Path(__file__).resolve().parents[1]


def bfa_runs(qm, x, y, seeds, max_flips):
    runs = []
    for seed in range(seeds):
        start = time.perf_counter()
        result = run(qm, x, y, method="bfa", flips=max_flips, seed=seed, stop_accuracy=CHANCE)
        runs.append({"seed": seed, "curve": result.curve, "bits": result.bits.tolist(),
                     "robust_error": result.robust_error, "seconds": time.perf_counter() - start})
    return runs


def advbit_runs(qm, x, y):
    out = {}
    for k in ADVBIT_BUDGETS:
        result = run(qm, x, y, method="advbit", flips=k, seed=0, eval_every=0, steps=10)
        out[str(k)] = {"flips": result.flips, "accuracy": result.accuracy, "robust_error": result.robust_error}
    return out


def random_runs(qm, x, y, counts, draws):
    clean_wrong = qm.run(x, None, None).logits.argmax(1) != y
    out = {}
    for n in counts:
        accs, rerrs = [], []
        for draw in range(draws):
            bits = np.random.default_rng([n, draw]).choice(qm.stored_bits, size=n, replace=False)
            pred = qm.run(x, None, None, extra_flips=bits).logits.argmax(1)
            accs.append(float((pred == y).double().mean()))
            rerrs.append(float(((pred != y) | clean_wrong).double().mean()))
        out[str(n)] = {"accuracy": statistics.mean(accs), "robust_error": statistics.mean(rerrs),
                       "robust_error_max": max(rerrs)}
    return out


def flips_to(curve, level):
    return next((n for n, a in curve if a <= level), None)


def accuracy_at(curve, n):
    """Accuracy after ``n`` flips; a run stopped at chance earlier keeps its last value."""
    value = curve[0][1]
    for flips, acc in curve:
        if flips <= n:
            value = acc
    return value


def _median_range(values, max_flips):
    """Median [min-max] of flip counts; a run that never got there counts as more than ``max_flips``."""
    ranked = sorted(v if v is not None else float("inf") for v in values)
    median = statistics.median_low(ranked)
    show = [f">{max_flips}" if v == float("inf") else f"{v:g}" for v in (median, ranked[0], ranked[-1])]
    never = sum(v is None for v in values)
    note = f"; {never} of {len(values)} runs not within {max_flips}" if never else ""
    return f"{show[0]} [{show[1]} to {show[2]}{note}]"


def measure(name, x, y, args, cache):
    path = cache / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    qm = load_model(name)
    start = time.perf_counter()
    record = {"model": name, "meta_method": qm.meta.get("method"), "stored_bits": qm.stored_bits,
              "clean_accuracy": float((qm.run(x, None, None).logits.argmax(1) == y).double().mean()),
              "bfa": bfa_runs(qm, x, y, args.seeds, args.max_flips)}
    median_chance = [flips_to(r["curve"], CHANCE) for r in record["bfa"]]
    median_chance = int(statistics.median([v if v is not None else args.max_flips for v in median_chance]))
    record["random_at_chance_count"] = median_chance
    record["random"] = random_runs(qm, x, y, sorted({*RANDOM_COUNTS, median_chance}), args.draws)
    record["advbit"] = advbit_runs(qm, x, y)
    record["seconds"] = time.perf_counter() - start
    path.write_text(json.dumps(record))
    return record


def write_doc(records, args, out, started):
    lines = ["# Worst-case bit errors: bit-flip attacks on the MNIST zoo", "",
             "Written by `python benchmarks/adversarial_report.py` (every number below is measured by it; "
             "nothing is typed by hand). Random undervolting faults are the average case; an attacker "
             "(rowhammer, voltage glitches) chooses which stored weight bits to flip. This page measures "
             "both on the same models, as Rakin et al. (ICCV 2019) and Stutz et al. (TPAMI 2022) do.", "",
             "## Setup", "",
             f"- Models: {', '.join('`' + r['model'] + '`' for r in records)} (8-bit `rquant`, LeNet-5 with group "
             "normalisation; AdvBET trained by `benchmarks/train_zoo.py`, see the zoo README).",
             f"- Data: the first {args.limit} MNIST test images; each attack computes its gradients and losses "
             "on a batch of 128 of them drawn by its seed, and the accuracy is measured on all of them.",
             f"- BFA: `accelsim.attack.run(qm, x, y, method=\"bfa\", flips={args.max_flips}, seed=s, "
             f"stop_accuracy={CHANCE:g})`, seeds 0..{args.seeds - 1}: one flip per iteration until the "
             f"accuracy is at most {CHANCE * 100:g}% (chance, 10%, plus one point: a network answering "
             "one class for everything sits at that class's share) or the budget is spent.",
             "- advbit: `method=\"advbit\"`, 10 projected gradient steps, 1 restart, seed 0.",
             f"- Random: {args.draws} draws of n distinct stored bits chosen uniformly, flipped through the "
             "same engine path (`qm.run(x, None, None, extra_flips=bits)`); robust error (RErr) counts an "
             "image wrong under the flips or when clean.",
             f"- Run: {started}, accelsim {__version__}, torch {torch.__version__}, Python "
             f"{platform.python_version()}, 1 torch thread, "
             f"{sum(r['seconds'] for r in records) / 60:.1f} minutes of measurement.", ""]
    lines += ["## Flips to failure (BFA)", "",
              "Median [min-max] over seeds of the flipped bits needed to bring the accuracy to 50% and to "
              "chance; the robust error when BFA stopped (at chance or after its whole budget, mean over "
              "seeds); and the random-fault robust error with that many randomly flipped bits (the median "
              f"over seeds of the flips BFA used, mean over {args.draws} draws).", "",
              "| model | stored bits | clean accuracy | flips to <= 50% | flips to chance | BFA RErr at the end "
              "| random RErr, same count |", "|---|---|---|---|---|---|---|"]
    for r in records:
        to_half = [flips_to(b["curve"], 0.5) for b in r["bfa"]]
        to_chance = [flips_to(b["curve"], CHANCE) for b in r["bfa"]]
        n = r["random_at_chance_count"]
        bfa_rerr = statistics.mean(b["robust_error"] for b in r["bfa"]) * 100
        lines.append(f"| {r['model']} | {r['stored_bits']} | {r['clean_accuracy'] * 100:.1f}% | "
                     f"{_median_range(to_half, args.max_flips)} | {_median_range(to_chance, args.max_flips)} | "
                     f"{bfa_rerr:.1f}% | {r['random'][str(n)]['robust_error'] * 100:.1f}% ({n} bits) |")
    lines += ["", "## Accuracy against the number of flipped bits", "",
              "BFA: mean accuracy over seeds after n chosen flips (a run that reached chance earlier keeps its "
              f"last value). Random: mean accuracy over {args.draws} draws of n random flips.", "",
              "| model | attack | " + " | ".join(f"n = {n}" for n in CURVE_POINTS) + " |",
              "|---|---|" + "---|" * len(CURVE_POINTS)]
    for r in records:
        cells = [f"{statistics.mean(accuracy_at(b['curve'], n) for b in r['bfa']) * 100:.1f}" for n in CURVE_POINTS]
        lines.append(f"| {r['model']} | BFA | " + " | ".join(cells) + " |")
    lines += ["", "| model | attack | " + " | ".join(f"n = {n}" for n in RANDOM_COUNTS) + " |",
              "|---|---|" + "---|" * len(RANDOM_COUNTS)]
    for r in records:
        cells = [f"{r['random'][str(n)]['accuracy'] * 100:.1f}" for n in RANDOM_COUNTS]
        lines.append(f"| {r['model']} | random | " + " | ".join(cells) + " |")
    figure = out.with_name("adversarial_curves.png")
    from accelsim.plot import attack_curve_figure

    curves = {f"{r['model']} (seed 0)": r["bfa"][0]["curve"] for r in records}
    attack_curve_figure(curves, f"BFA on MNIST ({args.limit} test images)", chance=0.1).savefig(figure, dpi=110)
    lines += ["", f"![accuracy against BFA flips]({figure.name})"]
    lines += ["", "## Adversarial bit errors (advbit)", "",
              "Accuracy (%) after advbit with a budget of k flipped bits (flips actually used in brackets).", "",
              "| model | " + " | ".join(f"k = {k}" for k in ADVBIT_BUDGETS) + " |",
              "|---|" + "---|" * len(ADVBIT_BUDGETS)]
    for r in records:
        cells = [f"{r['advbit'][str(k)]['accuracy'] * 100:.1f} ({r['advbit'][str(k)]['flips']})"
                 for k in ADVBIT_BUDGETS]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    lines += ["", "## The papers' orderings", ""]
    lines += _orderings(records, args)
    text = "\n".join(lines) + "\n"
    kept = _protected_section(out)
    out.write_text(text + ("\n" + kept + "\n" if kept else ""))


def _protected_section(out):
    """The section benchmarks/adversarial_protected.py wrote into ``out`` (kept on a rewrite), or ""."""
    begin, end = "<!-- protected:begin -->", "<!-- protected:end -->"
    doc = out.read_text() if out.exists() else ""
    if begin not in doc or end not in doc:
        return ""
    return begin + doc.split(begin, 1)[1].split(end, 1)[0] + end


def _orderings(records, args):
    by = {r["model"].split("-")[3]: r for r in records}

    def chance_flips(r):
        values = [flips_to(b["curve"], CHANCE) for b in r["bfa"]]
        return statistics.median([v if v is not None else args.max_flips + 1 for v in values])

    out = []
    if "normal" in by and "clipping" in by:
        out.append(_compare(by["clipping"], by["normal"], "clipping", "normal", chance_flips, args))
    if "advbet" in by:
        for other in ("clipping", "randbet"):
            if other in by:
                out.append(_compare(by["advbet"], by[other], "AdvBET", other, chance_flips, args))
    else:
        out.append("- AdvBET: no AdvBET model was measured in this run, so that ordering is **not checked**.")
    far = []
    for r in records:
        n = r["random_at_chance_count"]
        rand = r["random"][str(n)]["robust_error"] * 100
        bfa = statistics.mean(b["robust_error"] for b in r["bfa"]) * 100
        far.append((r["model"], n, rand, bfa))
    # Decisive only where the chosen flips did real harm (RErr >= 50%).
    decisive = [(rand, bfa) for _, _, rand, bfa in far if bfa >= 50]
    ok = bool(decisive) and all(rand < bfa / 4 for rand, bfa in decisive)
    detail = "; ".join(f"{m}: {n} bits, {rand:.1f}% random vs {bfa:.1f}% chosen" for m, n, rand, bfa in far)
    verdict = ("reproduced" if ok else "not reproduced") if decisive else "not decided (no attack did harm)"
    out.append(f"- **Random flips are far less harmful than chosen ones at the same count** (Rakin et al.: 100 "
               f"random flips cost under 1%): robust error with as many random flips as BFA used (to chance, or "
               f"its whole budget): {detail}: **{verdict}** (judged where the chosen flips raised the robust "
               "error to 50% or more; far less = under a quarter).")
    return out


def _compare(stronger, weaker, name, other, chance_flips, args):
    """Whether ``stronger`` needs more flips than ``weaker``; censored runs compare the accuracy left at the budget."""
    a, b = chance_flips(stronger), chance_flips(weaker)
    claim = f"- **{name} needs more chosen flips than {other}** (Stutz et al.): median flips to chance "
    if a > args.max_flips and b > args.max_flips:
        runs_a = [accuracy_at(r["curve"], args.max_flips) * 100 for r in stronger["bfa"]]
        runs_b = [accuracy_at(r["curve"], args.max_flips) * 100 for r in weaker["bfa"]]
        left_a, left_b = statistics.mean(runs_a), statistics.mean(runs_b)
        verdict = "reproduced" if left_a > left_b else "not reproduced"
        overlap = min(runs_a) <= max(runs_b) and min(runs_b) <= max(runs_a)
        caveat = (f"; but the seeds' ranges overlap ({min(runs_a):.1f} to {max(runs_a):.1f}% vs {min(runs_b):.1f} "
                  f"to {max(runs_b):.1f}%), so with {len(runs_a)} seeds this is weak evidence") if overlap else ""
        return (claim + f"> {args.max_flips} for both, so the accuracy left after {args.max_flips} flips decides: "
                f"mean {left_a:.1f}% ({name}) vs {left_b:.1f}% ({other}): **{verdict}**{caveat}.")
    shown = [f"> {args.max_flips}" if v > args.max_flips else f"{v:g}" for v in (a, b)]
    verdict = "reproduced" if a > b else "not reproduced"
    ratio = f" (at least {a / b:.1f}x)" if a > args.max_flips else f" ({a / b:.1f}x)"
    return claim + f"{shown[0]} ({name}) vs {shown[1]} ({other}): **{verdict}**{ratio if a > b else ''}."


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-flips", type=int, default=200)
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/accelsim-adversarial-cache"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "adversarial.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.cache.mkdir(parents=True, exist_ok=True)
    x, y = load_dataset(f"mnist:{MNIST}", "test", limit=args.limit)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    records = []
    for name in args.models:
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        records.append(measure(name, x, y, args, args.cache))
    write_doc(records, args, args.out, started)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
