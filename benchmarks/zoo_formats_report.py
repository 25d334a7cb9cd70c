"""Measure the zoo's number-format models (issue 10): schedule, clean metric, and quality on the 14 nm profile.

For every zoo model stored in a number format (``int8`` per-channel,
``int4-g128``, ...) this prints two markdown tables:

1. how it was trained (from its checkpoint meta: epochs, training examples,
   optimizer, learning rate, start checkpoint, RandBET rate) and its clean
   metric on the whole test split (accuracy, or perplexity for the LM), with
   its stored weight bits and checkpoint size;
2. its metric against supply voltage on the shipped ``14nm`` profile (mean
   accuracy, or median perplexity, over ``--chips`` chips), on the first
   ``--limit`` test examples (LM: ``--lm-limit`` windows of 64 bytes), the
   normal and RandBET models of one architecture and format side by side.

With ``--write-readme`` the tables replace the block between the
``formats-report`` markers of accelsim/models/zoo/README.md (nothing in that
block is written by hand).

Run: python benchmarks/zoo_formats_report.py [--chips 3] [--limit 500] [--lm-limit 50] [--write-readme]
"""

import argparse
import statistics
import sys
from pathlib import Path

import torch
from _common import SHARED_DATA  # benchmarks/_common.py

from accelsim import load_dataset, load_profile
from accelsim.models import load_model, zoo
from accelsim.models.checkpoint import load_checkpoint
from accelsim.sweep.metrics import metric_value

README = Path(__file__).resolve().parents[1] / "accelsim" / "models" / "zoo" / "README.md"
START, END = "<!-- formats-report:start -->", "<!-- formats-report:end -->"
VOLTAGES_V = (0.60, 0.58, 0.56, 0.54)
_FOLDERS = {"fashion-mnist": "fashion-mnist", "cifar10": "cifar-10-subset", "mnist": "mnist"}


def _data(dataset, limit):
    if dataset == "text":
        return load_dataset("text", "test", limit=limit)
    return load_dataset(f"{dataset}:{SHARED_DATA / _FOLDERS[dataset]}", "test", limit=limit)


def _schedule(meta):
    config = meta["config"]
    parts = [f"{config['epochs']} ep x {meta['n_train']} ex", f"batch {config['batch_size']}",
             f"{config['optimizer']} lr {config['lr']:g}"]
    if config["init"] is not None:
        parts.append(f"from {config['init']}")
    if config["method"] == "randbet":
        parts.append(f"flips p = {config['p_train']:g}")
    return ", ".join(parts)


def _clean(record):
    if record.metric == "perplexity":
        return f"perplexity {record.clean_metric:.3f}"
    return f"accuracy {record.clean_metric * 100:.2f}%"


def _quality(values, metric):
    if metric == "perplexity":
        return f"{statistics.median(values):.3g}"
    return f"{statistics.fmean(values) * 100:.1f}%"


def measure(records, chips, limit, lm_limit):
    """The two tables' lines."""
    profile = load_profile("14nm")
    ber = {v: profile.ber(v) for v in VOLTAGES_V}
    first = ["| model | format | method | schedule | clean metric (whole test split) | weight bits | file |",
             "|---|---|---|---|---|---|---|"]
    second = ["| model | metric | examples | clean | "
              + " | ".join(f"{v:.2f} V ({ber[v] * 100:.2g}%)" for v in VOLTAGES_V) + " |",
              "|---|---|---|---|" + "---|" * len(VOLTAGES_V)]
    order = sorted(records, key=lambda r: (r.arch, r.quant_scheme, r.method != "normal", r.name))
    data = {}
    for record in order:
        _, meta = load_checkpoint(record.path)
        qm = load_model(record.name)
        first.append(f"| {record.name} | {record.quant_scheme} | {record.method} | {_schedule(meta)} | "
                     f"{_clean(record)} | {qm.stored_bits:,} | "
                     f"{record.path.stat().st_size / 1000:.0f} kB |")
        n = lm_limit if record.metric == "perplexity" else limit
        if (record.dataset, n) not in data:
            data[(record.dataset, n)] = _data(record.dataset, n)
        x, y = data[(record.dataset, n)]
        clean = metric_value(record.metric, qm.forward(x), x, y)
        cells = []
        for vdd_v in VOLTAGES_V:
            values = [metric_value(record.metric, qm.evaluator(x, profile, chip=chip).run(vdd_v).logits, x, y)
                      for chip in range(chips)]
            cells.append(_quality(values, record.metric))
        second.append(f"| {record.name} | {record.metric} | {len(x)} | {_quality([clean], record.metric)} | "
                      + " | ".join(cells) + " |")
        print(second[-1], file=sys.stderr, flush=True)
    return first, second


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=3)
    parser.add_argument("--limit", type=int, default=500, help="test images per classifier")
    parser.add_argument("--lm-limit", type=int, default=50, help="test windows (64 bytes) for the LM")
    parser.add_argument("--write-readme", action="store_true", help="replace the tables in the zoo README")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    records = [r for r in zoo() if r.quant_scheme != "rquant"]
    first, second = measure(records, args.chips, args.limit, args.lm_limit)
    command = (f"python benchmarks/zoo_formats_report.py --chips {args.chips} --limit {args.limit} "
               f"--lm-limit {args.lm_limit}")
    block = "\n".join([
        START, f"Written by `{command} --write-readme`.", "", *first, "",
        f"Quality on the `14nm` profile (accuracy: mean over {args.chips} chips; perplexity: median over "
        f"{args.chips} chips), at supply voltages with their bit error rate:", "", *second, END])
    print(block)
    if args.write_readme:
        text = README.read_text()
        if START not in text or END not in text:
            print(f"{README} has no {START} ... {END} block", file=sys.stderr)
            return 2
        head, rest = text.split(START, 1)
        README.write_text(head + block + rest.split(END, 1)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
