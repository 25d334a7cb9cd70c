"""Measure bit-flip attacks on protected weight memory and write that section of docs/adversarial.md.

For each model and protection (``none``, ``parity:8``, ``secded:64`` i.e.
(72,64), ``secded:8`` i.e. (13,8), and ``msb:2:tmr``) and each detected-word
policy (``zero``, ``keep``; TMR detects nothing), Rakin et al.'s progressive bit search runs with the memory's
protection on (``accelsim.attack.run(..., protection=P, on_detect=D)``): the
attacker flips stored bits, check bits included, and the decoder sees its
flips (a SECDED codeword needs 2 flips, detected, or 3, mis-corrected; a
parity word 1, detected, or 2, unseen). Each run's flipped bits are replayed
through ``qm.run(..., protection=P, on_detect=D, extra_flips=bits)`` and the
replayed accuracy is checked against the reported one.

The section between the markers ``<!-- protected:begin -->`` and
``<!-- protected:end -->`` of docs/adversarial.md is replaced (appended the
first time); ``benchmarks/adversarial_report.py`` keeps it when it rewrites
the page. Results are cached per run (``--cache``).

Also Stutz et al.'s adversarial bit errors (advbit) at a few budgets, seed 0.

Run: python benchmarks/adversarial_protected.py [--limit 500] [--seeds 2] [--max-flips 100]
"""

import argparse
import datetime
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from accelsim import load_dataset, load_model
from accelsim._version import __version__
from accelsim.attack import run
from accelsim.sram.protection import stored_stream_bits

from _common import MNIST  # benchmarks/_common.py
from adversarial_report import CHANCE, accuracy_at, flips_to  # the same reading of a curve

MODELS = ("mnist-lenet-gn-normal-8b", "mnist-lenet-gn-clipping-8b")
SETTINGS = (("none", "zero"), ("parity:8", "zero"), ("parity:8", "keep"), ("secded:64", "zero"),
            ("secded:64", "keep"), ("secded:8", "zero"), ("secded:8", "keep"), ("msb:2:tmr", "zero"))
POINTS = (5, 10, 20, 50, 100)
ADVBIT_BUDGETS = (10, 20)

BEGIN, END = "<!-- protected:begin -->", "<!-- protected:end -->"
ROOT = Path(__file__).resolve().parents[1]


def measure(qm, name, protection, on_detect, seed, x, y, args, cache):
    path = cache / f"{name}-{protection.replace(':', '')}-{on_detect}-{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    start = time.perf_counter()
    result = run(qm, x, y, method="bfa", flips=args.max_flips, seed=seed, stop_accuracy=CHANCE,
                 protection=protection, on_detect=on_detect)
    seconds = time.perf_counter() - start
    replay = qm.run(x, None, None, protection=protection, on_detect=on_detect, extra_flips=result.bits)
    replayed = float((replay.logits.argmax(1) == y).double().mean())
    record = {"curve": result.curve, "flips": result.flips, "accuracy": result.accuracy,
              "replayed_accuracy": replayed, "detected_words": replay.detected_words,
              "miscorrected_words": replay.miscorrected_words, "corrected_words": replay.corrected_words,
              "seconds": seconds}
    path.write_text(json.dumps(record))
    return record


def measure_advbit(qm, name, protection, on_detect, x, y, cache):
    """advbit (10 steps, 1 restart, seed 0) at each of ``ADVBIT_BUDGETS``: accuracy and flips used, replayed."""
    path = cache / f"{name}-{protection.replace(':', '')}-{on_detect}-advbit.json"
    if path.exists():
        return json.loads(path.read_text())
    record = {}
    start = time.perf_counter()
    for k in ADVBIT_BUDGETS:
        result = run(qm, x, y, method="advbit", flips=k, seed=0, eval_every=0, steps=10,
                     protection=protection, on_detect=on_detect)
        replay = qm.run(x, None, None, protection=protection, on_detect=on_detect, extra_flips=result.bits)
        record[str(k)] = {"accuracy": result.accuracy, "flips": result.flips,
                          "replayed_accuracy": float((replay.logits.argmax(1) == y).double().mean())}
    record["seconds"] = time.perf_counter() - start
    path.write_text(json.dumps(record))
    return record


def _median(values, max_flips):
    ranked = sorted(v if v is not None else float("inf") for v in values)
    median = statistics.median_low(ranked)
    text = f">{max_flips}" if median == float("inf") else f"{median:g}"
    return text + (f" [{', '.join('>' + str(max_flips) if v is None else str(v) for v in values)}]"
                   if len(values) > 1 else "")


def section(rows, args, started, seconds):
    lines = [BEGIN, "## Attacks on protected memory", "",
             "Written by `python benchmarks/adversarial_protected.py` (every number measured by it). The "
             "attacker flips stored bits of the encoded words, check bits included, and the decoder sees its "
             "flips. A flip in a SECDED codeword is corrected, so the search makes codeword moves: 2 flips "
             "(a double error, detected: under `on_detect=zero` the codeword's words read as zero, under "
             "`keep` the flipped data bits are delivered raw) or 3 flips whose syndrome names a fourth "
             "position, which the decoder flips silently (a mis-correction); under parity 1 flip is "
             "detected and 2 pass unseen; under `msb:2:tmr` a flip of one copy of a top bit is outvoted, so "
             "a top-bit move flips two copies (low bits: 1 flip each). Flips are counted in stored bits (a 3-flip move costs 3). Each "
             "move is chosen by the loss it causes per flip, measured through the engine's own decoder.", "",
             "Two mechanisms to read the table with. Under `on_detect=zero` a detection is a primitive for "
             "the attacker: the engine reads a detected word as the *value* zero, and for a tensor whose "
             "quantized range excludes zero (the group-norm scales near 1 under the asymmetric per-tensor "
             "`rquant`) no bit flip can make that change. Under `keep` a detected double error delivers both "
             "flipped bits, so when two useful data bits share a codeword (eight 8-bit weights share a "
             "(72,64) codeword, one weight fills a (13,8) one) a 2-flip move is worth two unprotected flips.",
             "",
             f"- Data: the first {args.limit} MNIST test images; attacker's batch 128 images drawn by the seed; "
             f"seeds 0..{args.seeds - 1}; budget {args.max_flips} flips, stopping at chance "
             f"({CHANCE * 100:g}%). Fault-free memory (the attack alone).",
             "- Replay: every run's flipped bits were replayed through `qm.run(x, None, None, protection=P, "
             "on_detect=D, extra_flips=bits)`; replayed accuracy equal to the reported one in "
             f"{sum(r['replay_ok'] for r in rows)} of {len(rows)} settings (all seeds and advbit budgets).",
             f"- Run: {started}, accelsim {__version__}, torch {torch.__version__}, Python "
             f"{platform.python_version()}, 1 torch thread, {seconds / 60:.1f} minutes of measurement.", "",
             "Flips to <= 50% and to chance: median over seeds [each seed]; accuracy (%) after n flipped stored "
             "bits: mean over seeds (a run that reached chance keeps its last value). Decoder at the end: "
             "words detected / mis-corrected in the replay of seed 0. advbit: Stutz et al.'s adversarial "
             "bit errors (under a code, its relaxation runs over the same codeword moves), 10 steps, 1 "
             "restart, seed 0: accuracy (%) with a budget of k stored flips (flips used in brackets).", "",
             "| model | protection | on_detect | attackable bits | flips to <= 50% | flips to chance | "
             + " | ".join(f"n = {n}" for n in POINTS) + " | decoder at the end (seed 0) | "
             + " | ".join(f"advbit k = {k}" for k in ADVBIT_BUDGETS) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(POINTS) + "---|" + "---|" * len(ADVBIT_BUDGETS)]
    for r in rows:
        runs = r["runs"]
        cells = [f"{statistics.mean(accuracy_at(x['curve'], n) for x in runs) * 100:.1f}" if n <= args.max_flips
                 else "-" for n in POINTS]
        policy = r["on_detect"] if r["protection"] not in ("none", "msb:2:tmr") else "-"
        decoder = ("-" if r["protection"] == "none" else
                   f"{runs[0]['miscorrected_words']} votes lost ({runs[0]['flips']} flips)"
                   if r["protection"] == "msb:2:tmr" else
                   f"{runs[0]['detected_words']} detected, {runs[0]['miscorrected_words']} mis-corrected "
                   f"({runs[0]['flips']} flips)")
        advbit = [f"{r['advbit'][str(k)]['accuracy'] * 100:.1f} ({r['advbit'][str(k)]['flips']})"
                  for k in ADVBIT_BUDGETS]
        lines.append(f"| {r['model']} | {r['protection']} | {policy} | {r['stored']} | "
                     f"{_median([flips_to(x['curve'], 0.5) for x in runs], args.max_flips)} | "
                     f"{_median([flips_to(x['curve'], CHANCE) for x in runs], args.max_flips)} | "
                     + " | ".join(cells) + f" | {decoder} | " + " | ".join(advbit) + " |")
    lines += ["", "What the table says (stated from the numbers above):", ""]
    lines += _findings(rows, args)
    lines.append(END)
    return "\n".join(lines)


def _findings(rows, args):
    """Per protected setting against the unprotected memory; a difference counts only if the seeds do not overlap."""
    out = []
    by = {(r["model"], r["protection"], r["on_detect"]): r for r in rows}
    inf = float("inf")

    def per_seed(r, level):
        return [v if v is not None else inf for v in (flips_to(x["curve"], level) for x in r["runs"])]

    def left(r):
        return [accuracy_at(x["curve"], args.max_flips) * 100 for x in r["runs"]]

    def show(values):
        return "/".join(f">{args.max_flips}" if v == inf else f"{v:g}" for v in values)

    def verdict(a, b, more_is_harder=True):
        if min(a) > max(b):
            return "harder" if more_is_harder else "easier"
        if max(a) < min(b):
            return "easier" if more_is_harder else "harder"
        return "no clear difference: the seeds overlap"

    for model in dict.fromkeys(r["model"] for r in rows):
        none = by.get((model, "none", "zero"))
        if none is None:
            continue
        parts = []
        for (m, protection, on_detect), r in by.items():
            if m != model or protection == "none":
                continue
            text = []
            for level, name in ((0.5, "<= 50%"), (CHANCE, "chance")):
                a, b = per_seed(r, level), per_seed(none, level)
                if all(v == inf for v in a + b):
                    la, lb = left(r), left(none)
                    text.append(f"to {name}: neither within {args.max_flips} flips, accuracy left "
                                f"{show([round(v, 1) for v in la])}% vs {show([round(v, 1) for v in lb])}% "
                                f"(**{verdict(la, lb)}**)")
                else:
                    text.append(f"to {name}: {show(a)} flips vs {show(b)} (**{verdict(a, b)}**)")
            policy = "" if protection == "msb:2:tmr" else f" `{on_detect}`"
            parts.append(f"{protection}{policy}: " + "; ".join(text))
        out.append(f"- `{model}`, per seed, protected vs unprotected: " + ". ".join(parts) + ".")
    return out


def write(out, text):
    doc = out.read_text() if out.exists() else ""
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        doc = head + text + rest.split(END, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    out.write_text(doc)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--max-flips", type=int, default=100)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/accelsim-adversarial-protected-cache"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "adversarial.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.cache.mkdir(parents=True, exist_ok=True)
    x, y = load_dataset(f"mnist:{MNIST}", "test", limit=args.limit)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for name in args.models:
        qm = load_model(name)
        for protection, on_detect in SETTINGS:
            print(f"measuring {name} {protection} {on_detect} ...", file=sys.stderr, flush=True)
            runs = [measure(qm, name, protection, on_detect, seed, x, y, args, args.cache)
                    for seed in range(args.seeds)]
            advbit = measure_advbit(qm, name, protection, on_detect, x, y, args.cache)
            replays = [(r["replayed_accuracy"], r["accuracy"]) for r in runs]
            replays += [(advbit[str(k)]["replayed_accuracy"], advbit[str(k)]["accuracy"]) for k in ADVBIT_BUDGETS]
            rows.append({"model": name, "protection": protection, "on_detect": on_detect, "runs": runs,
                         "advbit": advbit, "stored": stored_stream_bits(len(qm.words), qm.bits, protection),
                         "replay_ok": all(a == b for a, b in replays)})
    seconds = sum(r["seconds"] for row in rows for r in row["runs"]) + sum(row["advbit"]["seconds"] for row in rows)
    write(args.out, section(rows, args, started, seconds))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
