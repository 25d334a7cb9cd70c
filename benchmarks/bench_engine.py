"""Engine benchmark: inference out of faulty memory against plain torch inference.

MNIST LeNet over the 10,000 test images (digits when ../shared/data/mnist is
absent, where fixed costs dominate). For each (voltage, chip) point the
engine reads the weights from the 14 nm profile's memory, decodes them and
runs the whole network (suffix execution off, fault application included);
the baseline runs the same network as a plain torch module with the same
weights. Repeats are interleaved and the median ratio is printed against the
target (<= 1.15x), with peak memory.

Run: python benchmarks/bench_engine.py [--repeats N]
"""

import argparse
import resource
import statistics
import sys

import torch

from accelsim import load_dataset, load_profile
from accelsim.engine import QuantizedModel
from accelsim.models import build

from _common import MNIST, timed  # benchmarks/_common.py

TARGET = 1.15


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if MNIST.exists():
        arch, (x, _) = "lenet", load_dataset(f"mnist:{MNIST}", split="test")
    else:
        arch, (x, _) = "digits-cnn", load_dataset("digits", split="test")
        print("note: ../shared/data/mnist not found, using digits (fixed costs dominate)")
    profile = load_profile("14nm")
    qm = QuantizedModel.from_torch(build(arch).eval(), "rquant", x[:64])
    reference = qm.reference_module()
    points = [(profile.voltage_for_ber(ber), chip) for ber in (1e-4, 1e-3, 1e-2) for chip in range(2)]
    evaluators = {chip: qm.evaluator(x, profile, chip=chip, batch_size=len(x), cache_bytes=0)
                  for chip in range(2)}
    qm.memory(profile).placement(99)  # load the compiled kernels once
    placement_s = sum(timed(lambda c=c: qm.memory(profile).placement(c)) for c in evaluators)
    for vdd, chip in points[:2]:  # warm up kernels and allocators
        evaluators[chip].run(vdd)

    def plain():
        with torch.inference_mode():
            reference(x)

    ratios = []
    for _ in range(args.repeats):
        for vdd, chip in points:
            base = timed(plain)
            engine = timed(lambda: evaluators[chip].run(vdd))
            ratios.append(engine / base)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    median = statistics.median(ratios)
    print(f"model {arch}, {len(x)} images, {qm.stored_bits} stored bits, {len(points)} points x "
          f"{args.repeats} repeats, torch threads {args.threads}")
    print(f"placement (once per chip, amortised over a sweep's voltages): {placement_s / 2 * 1e3:.1f} ms per chip")
    print(f"engine / plain torch per point: median {median:.3f}x (min {min(ratios):.3f}, "
          f"max {max(ratios):.3f}); target <= {TARGET}x: {'PASS' if median <= TARGET else 'FAIL'}")
    print(f"peak memory (max RSS): {peak_mib:.0f} MiB")
    return 0 if median <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
