"""Yield sweep benchmark: MNIST LeNet, 100 chips x 10 voltages, against 2 minutes.

The 14 nm profile from Vmin down to BER 1e-2 (10 evenly spaced voltages),
100 chips, the 10,000 MNIST test images, ``--adaptive`` (a yield study asks
which chips stay within tolerance, so settled points stop early). Wall time
of ``run_sweep`` (loading, placements, clean pass and result files
included); target < 120 s on the 2-core development machine. Each repeat is
a full sweep; the default is one repeat, as a sweep is long.

Run: python benchmarks/bench_yield.py [--repeats N] [--full]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from accelsim import load_profile
from accelsim.sweep import SweepSpec, run_sweep

from _common import MNIST  # benchmarks/_common.py

TARGET_S = 120.0
CHIPS, POINTS = 100, 10


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="every image of every point (no --adaptive)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if not MNIST.exists():
        print(f"MNIST not found in {MNIST}; nothing measured")
        return 0
    profile = load_profile("14nm")
    voltages = tuple(float(v) for v in np.round(np.linspace(profile.vdd_min_v, profile.voltage_for_ber(1e-2),
                                                            POINTS), 5))
    spec = SweepSpec(models=("mnist-lenet-normal-8b",), profile="14nm", voltages_v=voltages, chips=CHIPS,
                     dataset=f"mnist:{MNIST}", adaptive=not args.full)
    times, result = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            start = time.perf_counter()
            result = run_sweep(spec, Path(tmp) / f"run{r}")
            times.append(time.perf_counter() - start)
    images = sum(row["n_images"] for row in result.rows)
    within = [s["accuracy"] for s in result.summary]
    print(f"{CHIPS} chips x {len(voltages)} voltages ({voltages[0]:.4f}..{voltages[-1]:.4f} V), "
          f"{'full sets' if args.full else '--adaptive'}: {images:,} images evaluated "
          f"({images / (len(result.rows) * 10_000):.1%} of every image of every point)")
    print(f"mean accuracy per voltage: {', '.join(f'{a:.3f}' for a in within)}")
    print(f"seconds: min {min(times):.1f} median {statistics.median(times):.1f} max {max(times):.1f}; "
          f"target < {TARGET_S:.0f} s: {'PASS' if statistics.median(times) < TARGET_S else 'FAIL'}")
    return 0 if statistics.median(times) < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
