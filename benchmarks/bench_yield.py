"""Yield sweep benchmark: MNIST LeNet, 100 chips x 10 voltages, against 2 minutes.

The 14 nm profile from Vmin down to BER 1e-2 (10 evenly spaced voltages),
100 chips, the 10,000 MNIST test images, ``--adaptive`` (a yield study asks
which chips stay within tolerance, so settled points stop early). Wall time
of ``run_sweep`` (loading, placements, clean pass and result files
included); target < 120 s on the 2-core development machine. Each repeat is
a full sweep; the default is one repeat, as a sweep is long.

``--compare`` runs each repeat twice, interleaved: one chip per pass
(``accelsim.sweep.unit.CHIPS_PER_PASS = 1``, the rows of each chip's
unit computed alone) and the default chips per pass (the first faulty
convolution of several chips' points stacked); the rows must be identical
and the ratio is printed. It matters only with ``--full`` (an adaptive
sweep runs chip by chip).

Run: python benchmarks/bench_yield.py [--repeats N] [--full] [--chips N] [--compare]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from accelsim import load_profile
from accelsim.sweep import SweepSpec, run_sweep, unit

from _common import MNIST  # benchmarks/_common.py

TARGET_S = 120.0
CHIPS, POINTS = 100, 10


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="every image of every point (no --adaptive)")
    parser.add_argument("--chips", type=int, default=CHIPS)
    parser.add_argument("--compare", action="store_true", help="also one chip per pass, ratio printed")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if not MNIST.exists():
        print(f"MNIST not found in {MNIST}; nothing measured")
        return 0
    profile = load_profile("14nm")
    voltages = tuple(float(v) for v in np.round(np.linspace(profile.vdd_min_v, profile.voltage_for_ber(1e-2),
                                                            POINTS), 5))
    spec = SweepSpec(models=("mnist-lenet-normal-8b",), profile="14nm", voltages_v=voltages, chips=args.chips,
                     dataset=f"mnist:{MNIST}", adaptive=not args.full)
    default_per_pass = unit.CHIPS_PER_PASS
    modes = (1, default_per_pass) if args.compare else (default_per_pass,)
    times, results = {m: [] for m in modes}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for per_pass in modes:
                unit.CHIPS_PER_PASS = per_pass
                start = time.perf_counter()
                results[per_pass] = run_sweep(spec, Path(tmp) / f"run{r}-{per_pass}")
                times[per_pass].append(time.perf_counter() - start)
    unit.CHIPS_PER_PASS = default_per_pass
    result = results[default_per_pass]
    images = sum(row["n_images"] for row in result.rows)
    within = [s["accuracy"] for s in result.summary]
    load = os.getloadavg()
    print(f"{args.chips} chips x {len(voltages)} voltages ({voltages[0]:.4f}..{voltages[-1]:.4f} V), "
          f"{'full sets' if args.full else '--adaptive'}: {images:,} images evaluated "
          f"({images / (len(result.rows) * 10_000):.1%} of every image of every point); "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"mean accuracy per voltage: {', '.join(f'{a:.3f}' for a in within)}")
    for per_pass, values in times.items():
        print(f"{per_pass} chip(s) per pass, seconds: min {min(values):.1f} median {statistics.median(values):.1f} "
              f"max {max(values):.1f}")
    if args.compare:
        same = results[1].rows == results[default_per_pass].rows
        ratios = [b / a for a, b in zip(times[1], times[default_per_pass], strict=True)]
        print(f"{default_per_pass} chips per pass / 1: min {min(ratios):.3f} median {statistics.median(ratios):.3f} "
              f"max {max(ratios):.3f}; rows identical: {same}")
    median = statistics.median(times[default_per_pass])
    scaled = median * CHIPS / args.chips
    print(f"target < {TARGET_S:.0f} s for {CHIPS} chips: {scaled:.1f} s"
          f"{'' if args.chips == CHIPS else ' (scaled from ' + str(args.chips) + ' chips)'}: "
          f"{'PASS' if scaled < TARGET_S else 'FAIL'}")
    return 0 if scaled < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
