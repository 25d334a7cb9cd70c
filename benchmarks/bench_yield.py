"""Yield sweep benchmark: MNIST LeNet, 100 chips x 10 voltages, against 2 minutes.

The 14 nm profile from Vmin down to BER 1e-2 (10 evenly spaced voltages),
100 chips, the 10,000 MNIST test images, ``--adaptive`` (a yield study asks
which chips stay within tolerance, so settled points stop early). Wall time
of ``run_sweep`` (loading, placements, clean pass and result files
included); target < 120 s on the 2-core development machine. Each repeat is
a full sweep; the default is one repeat, as a sweep is long.

It prints, per voltage, the chip yield (share of the 100 chips within 1
point of the clean accuracy) with its Wilson 95% interval, then the wall and
CPU time and the load average before and after (other processes on the
machine slow a wall-clock measurement; the load says how much). The issue's
ratio: the sweep's wall time against the sum of plain evaluations
(``qm.run`` on every test image) of its faulty points, estimated from a
random sample of ``--sample`` faulty points timed in the same run (mean time
x number of faulty points; min/median/max of the sample printed); target
<= 1.1x.

``--compare`` runs each repeat twice, interleaved: one chip per pass
(``accelsim.sweep.unit.CHIPS_PER_PASS = 1``, the rows of each chip's
unit computed alone) and the default chips per pass (the first faulty
convolution of several chips' points stacked); the rows must be identical
and the ratio is printed. It matters only with ``--full`` (an adaptive
sweep runs chip by chip). ``--chips N`` sweeps N chips and scales the time
to 100 for the target.

Run: python benchmarks/bench_yield.py [--repeats N] [--full] [--sample K] [--chips N] [--compare]
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import MNIST  # benchmarks/_common.py

from accelsim import load_profile
from accelsim.sweep import SweepSpec, run_sweep, unit

TARGET_S = 120.0
CHIPS, POINTS = 100, 10


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="every image of every point (no --adaptive)")
    parser.add_argument("--sample", type=int, default=20,
                        help="faulty points timed as plain evaluations for the ratio (default: 20)")
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
    all_times, cpu, results = {m: [] for m in modes}, [], {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for per_pass in modes:
                unit.CHIPS_PER_PASS = per_pass
                start, start_cpu = time.perf_counter(), time.process_time()
                results[per_pass] = run_sweep(spec, Path(tmp) / f"run{r}-{per_pass}")
                all_times[per_pass].append(time.perf_counter() - start)
                if per_pass == default_per_pass:
                    cpu.append(time.process_time() - start_cpu)
    unit.CHIPS_PER_PASS = default_per_pass
    load_after = os.getloadavg()
    result, times = results[default_per_pass], all_times[default_per_pass]
    if args.compare:
        same = results[1].rows == result.rows
        ratios = [b / a for a, b in zip(all_times[1], times, strict=True)]
        print(f"{default_per_pass} chips per pass / 1: min {min(ratios):.3f} median {statistics.median(ratios):.3f} "
              f"max {max(ratios):.3f}; rows identical: {same}")
    images = sum(row["n_images"] for row in result.rows)
    print(f"{args.chips} chips x {len(voltages)} voltages ({voltages[0]:.4f}..{voltages[-1]:.4f} V), "
          f"{'full sets' if args.full else '--adaptive'}: {images:,} images evaluated "
          f"({images / (len(result.rows) * 10_000):.1%} of every image of every point)")
    print("vdd_v   mean accuracy  yield (chips within 1 point)  95% Wilson interval")
    for s in result.summary:
        print(f"{s['vdd_v']:.4f}  {s['accuracy']:.4f}         {s['yield'] * 100:5.1f}% of {s['chips']}"
              f"                [{s['yield_ci95_low'] * 100:.1f}%, {s['yield_ci95_high'] * 100:.1f}%]")
    median = statistics.median(times)
    print(f"wall seconds: min {min(times):.1f} median {median:.1f} max {max(times):.1f}; CPU seconds "
          f"{statistics.median(cpu):.1f}; load average (1, 5, 15 min) before "
          f"{', '.join(f'{v:.2f}' for v in load_before)}, after {', '.join(f'{v:.2f}' for v in load_after)}")
    scaled = median * CHIPS / args.chips
    print(f"target < {TARGET_S:.0f} s for {CHIPS} chips: {scaled:.1f} s"
          f"{'' if args.chips == CHIPS else ' (scaled from ' + str(args.chips) + ' chips)'}: "
          f"{'PASS' if scaled < TARGET_S else 'FAIL'}")
    ratio = _plain_ratio(result, profile, voltages, median, args.sample)
    return 0 if scaled < TARGET_S and (ratio is None or ratio <= 1.1) else 1


def _plain_ratio(result, profile, voltages, sweep_s, sample):
    """Sweep time over the estimated sum of plain evaluations of its faulty points."""
    from accelsim import load_dataset, load_model

    faulty = [(int(r["chip"]), float(r["vdd_v"])) for r in result.rows if int(r["faulty_cells"]) > 0]
    if not faulty or sample < 1:
        print("no faulty point: no ratio")
        return None
    qm = load_model("mnist-lenet-normal-8b")
    x, _ = load_dataset(f"mnist:{MNIST}")
    picked = random.Random(0).sample(faulty, min(sample, len(faulty)))
    qm.run(x, profile, voltages[0], chip=picked[0][0])  # warm-up (placement, numba)
    each = []
    for chip, vdd in picked:
        start = time.perf_counter()
        qm.run(x, profile, vdd, chip=chip)
        each.append(time.perf_counter() - start)
    plain_s = statistics.mean(each) * len(faulty)
    ratio = sweep_s / plain_s
    print(f"plain evaluations of {len(faulty)} faulty points: {plain_s:.1f} s estimated from {len(picked)} "
          f"timed (each min {min(each):.3f} median {statistics.median(each):.3f} max {max(each):.3f} s); "
          f"sweep / plain = {ratio:.2f}x (target <= 1.1x: {'PASS' if ratio <= 1.1 else 'FAIL'})")
    return ratio


if __name__ == "__main__":
    sys.exit(main())
