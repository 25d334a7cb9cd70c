"""Reproduce the findings of Stutz et al. (MLSys 2021) and FlatENN with accelsim.

Four tables of robust error (RErr) at bit error rates 0.1% to 20%, each cell
the mean and standard deviation over chips, on the MNIST test set (digits
when ../shared/data/mnist is absent):

1. presets: one model quantized with global / normal / asymmetric / unsigned / rquant;
2. methods: normal training vs weight clipping vs RandBET, at 8 and 4 bits;
3. flatenn: activation-sparse vs standard LeNet, with and without SAQ, under
   bit flips and stuck-at-0/1 faults, with activation sparsity and sharpness;
4. generalisation: profile-aware training on one 14 nm chip vs RandBET, on other chips.

``--stage v2`` (reproduction v2, :mod:`_reproduce.v2`) evaluates the zoo's
SimpleNet models on the 14 nm profile instead: Table 2 on SimpleNet with 95%
intervals over chips, the fault statistics of the 14 nm profiles, and the
headline energy saved against Vmin; it writes between the
``<!-- reproduce-v2:begin -->`` and ``<!-- reproduce-v2:end -->`` markers.

Every trained checkpoint and every table cell is cached in ``--out``, so a
rerun (same arguments) skips finished work. Progress goes to stderr; the
markdown tables go to ``OUT/tables.md`` and, with ``--docs FILE``, between the
``<!-- reproduce:begin -->`` and ``<!-- reproduce:end -->`` markers of FILE.

Run: python benchmarks/reproduce.py --stage all --out benchmarks/results/reproduce
     [--quick] [--dataset digits|mnist:DIR] [--epochs N] [--threads T] [--docs docs/reproduction.md]
     python benchmarks/reproduce.py --stage v2 [--chips N] [--test-limit N] [--models NAME ...]
     [--docs docs/reproduction.md]
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accelsim._errors import UserInputError  # noqa: E402
from _reproduce.runner import STAGES, Run  # noqa: E402

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=("all", *STAGES, "v2"), default="all",
                        help="train only, one table (training what it needs), tables only (render the "
                             "cached cells), or all")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/reproduce"),
                        help="folder of the cached checkpoints, cells and tables.md")
    parser.add_argument("--quick", action="store_true",
                        help="tiny configuration (2 rates, 2 chips, 1 epoch, 64 test examples) for tests")
    parser.add_argument("--dataset", default=None,
                        help=f"accelsim dataset spec (default: mnist:{MNIST} if present, else digits)")
    parser.add_argument("--epochs", type=int, default=10,
                        help="training epochs of every model (default 10; --quick trains 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--docs", type=Path, default=None,
                        help="also write the tables between the reproduce markers of this markdown file")
    parser.add_argument("--chips", type=int, default=20, help="v2: chips per cell (default 20)")
    parser.add_argument("--test-limit", type=int, default=500, help="v2: test images (default 500)")
    parser.add_argument("--models", nargs="+", default=None, help="v2: zoo models to compute (default: all)")
    parser.add_argument("--minutes", type=float, default=None, help="v2: stop computing after this long")
    return parser.parse_args(argv)


def _v2(args):
    from _reproduce.runner import _replace_marked
    from _reproduce.v2 import V2Run, V2Settings

    run = V2Run(args.out, V2Settings(chips=args.chips, test_limit=args.test_limit), _progress)
    deadline = None if args.minutes is None else time.time() + 60 * args.minutes
    run.compute(args.models, deadline)
    command = "python benchmarks/reproduce.py " + " ".join(sys.argv[1:])
    markdown = f"Computed by: `{command}` ({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, " \
               f"torch {torch.get_num_threads()} thread(s), 2 shared CPU cores)\n\n" + run.markdown()
    (args.out / "v2").mkdir(parents=True, exist_ok=True)
    (args.out / "v2" / "tables.md").write_text(markdown + "\n")
    if args.docs is not None:
        _replace_marked(args.docs, markdown, begin="<!-- reproduce-v2:begin -->", end="<!-- reproduce-v2:end -->")
    print(markdown)
    return 0


def _progress(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv=None):
    args = _parse(argv)
    dataset = args.dataset or (f"mnist:{MNIST}" if MNIST.exists() else "digits")
    command = "python benchmarks/reproduce.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.threads < 1:
        print(f"reproduce: error: --threads {args.threads}: expected a whole number >= 1", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    if args.stage == "v2":
        return _v2(args)
    try:
        run = Run.open(args.out, dataset, args.quick, args.epochs, command, _progress)
        run.execute(args.stage, args.docs)
        markdown = run.write_tables(args.docs)
    except UserInputError as exc:  # bad arguments, data or folder: one line, exit code 2
        print(f"reproduce: error: {exc}", file=sys.stderr)
        return 2
    _progress(f"tables written to {args.out / 'tables.md'}" + (f" and {args.docs}" if args.docs else ""))
    if args.stage in ("all", "tables"):
        print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
