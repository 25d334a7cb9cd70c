"""Sweep benchmark: a whole voltage sweep against plain per-point torch evaluations.

MNIST LeNet (the zoo's ``mnist-lenet-normal-8b`` when shipped, else a
freshly initialised LeNet saved as a checkpoint; digits when
../shared/data/mnist is absent) on the 14 nm profile, 10 voltages x 5 chips,
all 10,000 test images. The sweep's wall time (model and data loading,
placements, clean pass, energy and result files included) is compared with
the sum of plain torch evaluations of the same 50 points, what a fault
injector that re-runs the whole network per point pays. Two voltage sets:

- every point has faults (BER 1e-3 .. 5e-2): target <= 1.1x;
- BER <= 1e-4 (Vmin down to BER 1e-4): target <= 0.5x, since most points
  add no faulty cell or touch only late layers.

Run: python benchmarks/bench_sweep.py
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from accelsim import load_dataset, load_profile
from accelsim.models import build
from accelsim.quant import get_scheme
from accelsim.sweep import SweepSpec, run_sweep

from _common import MNIST  # benchmarks/_common.py

TARGET_FAULTY, TARGET_LOW_BER = 1.1, 0.5
CHIPS, POINTS = 5, 10


def _model_and_data(folder):
    from accelsim.models import zoo
    from accelsim.models.checkpoint import save_checkpoint

    dataset = f"mnist:{MNIST}" if MNIST.exists() else "digits"
    arch = "lenet" if MNIST.exists() else "digits-cnn"
    shipped = {r.name: r.path for r in zoo()}
    name = f"{'mnist-lenet' if MNIST.exists() else 'digits-cnn'}-normal-8b"
    if name in shipped:
        return str(shipped[name]), dataset
    torch.manual_seed(0)
    meta = {"schema_version": 1, "name": "bench-lenet", "arch": arch, "dataset": dataset.split(":")[0],
            "bits": 8, "quant_scheme": "rquant", "scheme": get_scheme("rquant").to_dict(), "method": "normal", "clip": None,
            "p_train": None, "clean_accuracy": None}
    path = folder / "bench-lenet.pt"
    save_checkpoint(path, build(arch).state_dict(), meta)
    return str(path), dataset


def _plain_seconds(model_path, dataset, points):
    from accelsim.models import load_model

    reference = load_model(model_path).reference_module()
    x, _ = load_dataset(dataset, split="test")
    seconds = 0.0
    for _ in range(points):
        start = time.perf_counter()
        with torch.inference_mode():
            reference(x)
        seconds += time.perf_counter() - start
    return seconds


def _sweep_seconds(model_path, dataset, voltages, folder):
    spec = SweepSpec(models=(model_path,), profile="14nm", voltages_v=voltages, chips=CHIPS,
                     dataset=dataset, batch_size=10_000)
    start = time.perf_counter()
    result = run_sweep(spec, folder)
    return time.perf_counter() - start, result


def _voltages(profile, high_ber, low_ber):
    ladder = np.geomspace(high_ber, low_ber, POINTS)
    return tuple(sorted({round(profile.voltage_for_ber(float(b)), 5) for b in ladder}, reverse=True))


def _linear_voltages(high_v, low_v):
    return tuple(float(v) for v in np.round(np.linspace(high_v, low_v, POINTS), 5))


def main(argv=None):
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    torch.set_num_threads(1)
    profile = load_profile("14nm")
    sets = {
        "every point faulty (BER 1e-3..5e-2)": (_voltages(profile, 5e-2, 1e-3), TARGET_FAULTY),
        "BER <= 1e-4 (Vmin..BER 1e-4)": (_linear_voltages(profile.vdd_min_v, profile.voltage_for_ber(1e-4)),
                                         TARGET_LOW_BER),
    }
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_path, dataset = _model_and_data(folder)
        _sweep_seconds(model_path, dataset, (profile.vdd_nominal_v,), folder / "warm-up")
        for i, (label, (voltages, target)) in enumerate(sets.items()):
            points = len(voltages) * CHIPS
            plain_before = _plain_seconds(model_path, dataset, points // 2)
            sweep_s, result = _sweep_seconds(model_path, dataset, voltages, folder / f"set{i}")
            plain_after = _plain_seconds(model_path, dataset, points - points // 2)
            plain_s = plain_before + plain_after
            ratio = sweep_s / plain_s
            failed |= ratio > target
            faulty = sum(r["faulty_cells"] > 0 for r in result.rows)
            print(f"{label}: {points} points ({faulty} with faulty cells), sweep {sweep_s:.2f} s, "
                  f"plain torch {plain_s:.2f} s -> {ratio:.3f}x; target <= {target}x: "
                  f"{'PASS' if ratio <= target else 'FAIL'}")
    print(f"model {model_path}, dataset {dataset}, torch threads 1")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
