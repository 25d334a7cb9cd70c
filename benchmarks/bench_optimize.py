"""Time ``accelsim optimize`` on MNIST LeNet-GN with 4 banks (issue 11: target < 15 min on the 2-core machine).

Run ``nice -n 10 python benchmarks/bench_optimize.py [--chips N] [--limit N] [--msb-split K]``
(``--msb-split 3``: 8 domains, the top 3 bits of every bank's codes and the rest).
A fresh results folder each run (nothing reused from a journal); prints
wall-clock and CPU time, the evaluations, the load average before and after
(the machine is shared: a wall-clock time means little without it) and the
optimizer's printed line.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MNIST  # noqa: E402

TARGET_S = 15 * 60


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mnist-lenet-gn-normal-8b")
    parser.add_argument("--chips", type=int, default=10, help="calibration (and as many held-out) chips")
    parser.add_argument("--limit", type=int, default=2000, help="test images")
    parser.add_argument("--yield", dest="yield_target", type=float, default=0.9)
    parser.add_argument("--msb-split", type=int, default=0, help="cut every bank into its top K bits and the rest")
    args = parser.parse_args()
    import torch

    import accelsim
    from accelsim.optimize import format_optimum

    torch.set_num_threads(1)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        result = accelsim.optimize(args.model, "14nm", f"mnist:{MNIST}", banks=4, chips=args.chips,
                                   holdout_chips=args.chips, limit=args.limit, yield_target=args.yield_target,
                                   out=Path(tmp) / "o", msb_split=args.msb_split)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    load_after = os.getloadavg()
    split = f" x 2 slices (--msb-split {args.msb_split})" if args.msb_split else ""
    print(f"optimize {args.model}, 4 banks{split}, {args.chips} + {args.chips} chips, {args.limit} images, "
          f"yield {args.yield_target:g}: {wall:.1f} s wall ({wall / 60:.1f} min; target < {TARGET_S / 60:.0f} min: "
          f"{'met' if wall < TARGET_S else 'NOT met'}), {cpu:.1f} s CPU, {result.evaluations} evaluations; "
          f"load average {load_before[0]:.1f} / {load_before[1]:.1f} before, {load_after[0]:.1f} / "
          f"{load_after[1]:.1f} after (1 / 5 min)")
    print(format_optimum(result))


if __name__ == "__main__":
    main()
