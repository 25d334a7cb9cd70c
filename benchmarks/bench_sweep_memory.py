"""Peak memory of a sweep against a plain evaluation of the same model on the same data.

Each measurement runs in a fresh process (so its peak RSS is its own): a
plain evaluation (load the model and the test set, run the float32
reference module over every image in batches) and a sweep (3 voltages x 2
chips, every point faulty). MNIST LeNet (the zoo's mnist-lenet-normal-8b,
10,000 images; target <= 1.2x) and CIFAR-10 ResNet-20 (an untrained network
saved as a checkpoint, the 1,000 test images of ../shared/data; target
<= 1.5x). Three repeats, min/median/max of the ratio.

Run: python benchmarks/bench_sweep_memory.py [--repeats N]
"""

import argparse
import multiprocessing
import resource
import statistics
import sys
import tempfile
from pathlib import Path

from _common import MNIST, SHARED_DATA  # benchmarks/_common.py

CIFAR = SHARED_DATA / "cifar-10-subset" / "cifar-10-batches-py"
TARGETS = {"mnist-lenet": 1.2, "cifar-resnet20": 1.5}


def _peak(queue, job, model, dataset, folder, voltages):
    import torch

    torch.set_num_threads(1)
    if job == "plain":
        from accelsim import load_dataset
        from accelsim.models import load_model

        qm = load_model(model)
        reference = qm.reference_module()
        x, _ = load_dataset(dataset, split="test")
        batch = qm.batch_size_for(x)
        with torch.inference_mode():
            for chunk in torch.split(x, batch):
                reference(chunk)
    else:
        from accelsim.sweep import SweepSpec, run_sweep

        run_sweep(SweepSpec(models=(model,), profile="14nm", voltages_v=voltages, chips=2, dataset=dataset),
                  Path(folder) / "sweep")
    queue.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def _voltages():
    """The swept voltages (BER 1e-3, 1e-2, 5e-2 of the 14 nm profile), computed here, outside the
    measured processes (whose only profile is then the sweep's own)."""
    from accelsim import load_profile

    profile = load_profile("14nm")
    return tuple(round(profile.voltage_for_ber(b), 5) for b in (1e-3, 1e-2, 5e-2))


def peak_bytes(job, model, dataset, folder, voltages=None):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_peak, args=(queue, job, model, dataset, folder, voltages))
    process.start()
    peak = queue.get()
    process.join()
    return peak


def _resnet_checkpoint(folder):
    import torch

    from accelsim.models import build
    from accelsim.models.checkpoint import save_checkpoint
    from accelsim.quant import get_scheme

    torch.manual_seed(0)
    meta = {"schema_version": 1, "name": "bench-resnet20", "arch": "resnet20", "dataset": "cifar10",
            "bits": 8, "quant_scheme": "rquant", "scheme": get_scheme("rquant").to_dict(), "method": "normal",
            "clip": None, "p_train": None, "clean_accuracy": None}
    path = Path(folder) / "bench-resnet20.pt"
    save_checkpoint(path, build("resnet20").eval().state_dict(), meta)
    return str(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        cases = {}
        if MNIST.exists():
            cases["mnist-lenet"] = ("mnist-lenet-normal-8b", f"mnist:{MNIST}")
        if CIFAR.exists():
            cases["cifar-resnet20"] = (_resnet_checkpoint(tmp), f"cifar10:{CIFAR.parent}")
        voltages = _voltages()
        for label, (model, dataset) in cases.items():
            ratios, plains, sweeps = [], [], []
            for r in range(args.repeats):
                plain = peak_bytes("plain", model, dataset, tmp)
                sweep = peak_bytes("sweep", model, dataset, f"{tmp}/{label}{r}", voltages)
                plains.append(plain)
                sweeps.append(sweep)
                ratios.append(sweep / plain)
            target = TARGETS[label]
            ok = statistics.median(ratios) <= target
            failed |= not ok
            print(f"{label}: peak RSS plain evaluation {statistics.median(plains) / 2**20:.0f} MiB, "
                  f"sweep {statistics.median(sweeps) / 2**20:.0f} MiB; ratio min {min(ratios):.2f} "
                  f"median {statistics.median(ratios):.2f} max {max(ratios):.2f}x; target <= {target}x: "
                  f"{'PASS' if ok else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
