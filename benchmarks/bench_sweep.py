"""Sweep benchmark: a whole voltage sweep against a fault-injection peer and plain evaluations.

MNIST LeNet (the zoo's ``mnist-lenet-normal-8b`` when shipped, else a
freshly initialised LeNet saved as a checkpoint; digits when
../shared/data/mnist is absent) on the 14 nm profile, 10 voltages x 5 chips,
all 10,000 test images. The sweep's wall time (model and data loading,
placements, clean pass, energy and result files included) is compared, in
the same run, with

- a PyTorchFI-style peer loop: per point, deep-copy the float model, draw a
  per-bit mask over every int8 code at the point's BER, XOR it in,
  dequantize, copy the weights in and evaluate every image;
- the sum of plain float32 evaluations of the same 50 points (what a fault
  injector pays for inference alone).

Voltage sets: every point faulty (BER 1e-3 .. 5e-2; targets <= 0.5x the
peer, <= 0.6x plain; with ``--adaptive`` <= 0.2x plain, every accuracy
within its stated half-width of the full sweep's) and BER <= 1e-4 (Vmin down
to BER 1e-4, target <= 0.5x plain). Peer and plain evaluations run at torch's
one thread with the batch size the sweep chose; the sweep uses its defaults
(batches on the machine's cores, ``ACCELSIM_BATCH_THREADS`` to change).
Repeats are interleaved; min/median/max of each ratio are printed.

Run: python benchmarks/bench_sweep.py [--repeats N]
"""

import argparse
import copy
import statistics
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

TARGET_PEER, TARGET_PLAIN, TARGET_ADAPTIVE, TARGET_LOW_BER = 0.5, 0.6, 0.2, 0.5
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


class _Baselines:
    """The float32 reference module and a peer's int8 codes, loaded once."""

    def __init__(self, model_path, dataset, batch_size):
        from accelsim.models import load_model

        self.reference = load_model(model_path).reference_module()
        self.x, self.y = load_dataset(dataset, split="test")
        self.batch_size = batch_size
        # The peer quantizes on its own: symmetric int8 per tensor.
        self.codes = {}
        for name, p in self.reference.named_parameters():
            scale = float(p.detach().abs().max()) / 127 or 1.0
            codes = torch.round(p.detach() / scale).clamp(-127, 127).to(torch.int8).numpy()
            self.codes[name] = (codes, scale)

    def evaluate(self, module):
        with torch.inference_mode():
            logits = torch.cat([module(b) for b in torch.split(self.x, self.batch_size)])
        return float((logits.argmax(dim=1) == self.y).double().mean())

    def plain_seconds(self, points):
        seconds = 0.0
        for _ in range(points):
            start = time.perf_counter()
            self.evaluate(self.reference)
            seconds += time.perf_counter() - start
        return seconds

    def peer_seconds(self, bers):
        start = time.perf_counter()
        for k, ber in enumerate(bers):
            rng = np.random.default_rng(k)
            model = copy.deepcopy(self.reference)
            with torch.no_grad():
                for name, (codes, scale) in self.codes.items():
                    stored = codes.reshape(-1).view(np.uint8)
                    mask = np.packbits(rng.random(stored.size * 8) < ber, bitorder="little")
                    faulty = (stored ^ mask).view(np.int8).reshape(codes.shape)
                    model.get_parameter(name).copy_(torch.from_numpy(faulty.astype(np.float32)) * scale)
            self.evaluate(model)
        return time.perf_counter() - start


def _sweep_seconds(model_path, dataset, voltages, folder, **options):
    spec = SweepSpec(models=(model_path,), profile="14nm", voltages_v=voltages, chips=CHIPS,
                     dataset=dataset, **options)
    start = time.perf_counter()
    result = run_sweep(spec, folder)
    return time.perf_counter() - start, result


def _voltages(profile, high_ber, low_ber):
    ladder = np.geomspace(high_ber, low_ber, POINTS)
    return tuple(sorted({round(profile.voltage_for_ber(float(b)), 5) for b in ladder}, reverse=True))


def _linear_voltages(high_v, low_v):
    return tuple(float(v) for v in np.round(np.linspace(high_v, low_v, POINTS), 5))


def _spread(values):
    return f"min {min(values):.3f} median {statistics.median(values):.3f} max {max(values):.3f}"


def _verdict(values, target):
    return "PASS" if statistics.median(values) <= target else "FAIL"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    profile = load_profile("14nm")
    faulty_v = _voltages(profile, 5e-2, 1e-3)
    low_v = _linear_voltages(profile.vdd_min_v, profile.voltage_for_ber(1e-4))
    ratios = {key: [] for key in ("peer", "plain", "adaptive", "adaptive_peer", "low")}
    seconds = {key: [] for key in ("sweep", "adaptive", "peer", "plain", "low", "low_plain")}
    outside, images = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_path, dataset = _model_and_data(folder)
        _, warm = _sweep_seconds(model_path, dataset, (profile.vdd_nominal_v,), folder / "warm-up")
        batch_size = warm.spec.batch_size
        baselines = _Baselines(model_path, dataset, batch_size)
        points = len(faulty_v) * CHIPS
        bers = [float(profile.ber(v)) for v in faulty_v for _ in range(CHIPS)]
        for r in range(args.repeats):
            peer_s = baselines.peer_seconds(bers[: points // 2])
            plain_s = baselines.plain_seconds(points // 2)
            sweep_s, full = _sweep_seconds(model_path, dataset, faulty_v, folder / f"full{r}")
            adaptive_s, fast = _sweep_seconds(model_path, dataset, faulty_v, folder / f"adaptive{r}",
                                              adaptive=True)
            peer_s += baselines.peer_seconds(bers[points // 2:])
            plain_s += baselines.plain_seconds(points - points // 2)
            low_s, _ = _sweep_seconds(model_path, dataset, low_v, folder / f"low{r}")
            low_plain_s = baselines.plain_seconds(len(low_v) * CHIPS)
            for key, value in (("sweep", sweep_s), ("adaptive", adaptive_s), ("peer", peer_s),
                               ("plain", plain_s), ("low", low_s), ("low_plain", low_plain_s)):
                seconds[key].append(value)
            ratios["peer"].append(sweep_s / peer_s)
            ratios["plain"].append(sweep_s / plain_s)
            ratios["adaptive"].append(adaptive_s / plain_s)
            ratios["adaptive_peer"].append(adaptive_s / peer_s)
            ratios["low"].append(low_s / low_plain_s)
            outside.append(sum(abs(a["accuracy"] - b["accuracy"]) > b["accuracy_halfwidth"] + 1e-12
                               for a, b in zip(full.rows, fast.rows)))
            images.append(sum(b["n_images"] for b in fast.rows) / sum(a["n_images"] for a in full.rows))
            faulty_points = sum(row["faulty_cells"] > 0 for row in full.rows)
    print(f"model {model_path}, dataset {dataset}, {points} points ({faulty_points} with faulty cells), "
          f"batch size {batch_size} (chosen), peer and plain at torch 1 thread, {args.repeats} repeats")
    for key, label in (("sweep", "sweep"), ("adaptive", "sweep --adaptive"), ("peer", "peer loop"),
                       ("plain", "plain float32"), ("low", "sweep BER <= 1e-4"),
                       ("low_plain", "plain float32 (BER <= 1e-4 points)")):
        print(f"  {label:36s} seconds: {_spread(seconds[key])}")
    rows = (("every point faulty: sweep / peer loop", "peer", TARGET_PEER),
            ("every point faulty: sweep / plain float32", "plain", TARGET_PLAIN),
            ("every point faulty: sweep --adaptive / plain float32", "adaptive", TARGET_ADAPTIVE),
            ("every point faulty: sweep --adaptive / peer loop", "adaptive_peer", TARGET_ADAPTIVE),
            ("BER <= 1e-4: sweep / plain float32", "low", TARGET_LOW_BER))
    failed = False
    for label, key, target in rows:
        verdict = _verdict(ratios[key], target)
        failed |= verdict == "FAIL"
        print(f"{label}: {_spread(ratios[key])}x; target <= {target}x: {verdict}")
    print(f"--adaptive: images used {_spread(images)} of the full sweep's; accuracies outside their "
          f"stated 95% half-width of the full-set value: {outside} of {points} per repeat")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
