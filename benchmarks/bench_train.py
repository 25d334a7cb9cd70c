"""Training benchmark: one RandBET step against one plain QAT step.

Same model (MNIST LeNet, digits-cnn with --digits), same batch of 128, 8-bit
rquant, faults drawn through the SRAM memory model on a fresh chip per step,
at p = 1% (Stutz et al.'s CIFAR-10 setting) and p = 10% (MNIST). RandBET does
two forward/backward passes, so the target is at most 2.2x a QAT step (issue 13); the
rest is drawing the chip (cells faulty at rate p) and decoding its words.
Steps are interleaved (QAT, RandBET at each rate, QAT, ...) and the median
ratio of pairs is printed.

Run: python benchmarks/bench_train.py [--repeats N] [--digits] [--threads N]
"""

import argparse
import statistics
import sys

import torch

from accelsim import load_dataset
from accelsim.engine import QuantizedModel
from accelsim.models import build
from accelsim.quant import get_scheme
from accelsim.train import methods
from accelsim.train.faults import TrainingFaults, parse_fault_model
from accelsim.train.qat import QatModel

from _common import MNIST, timed  # benchmarks/_common.py

TARGET = 2.2
RATES = (0.01, 0.1)
BATCH = 128


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--digits", action="store_true", help="digits-cnn on digits instead of LeNet on MNIST")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    use_mnist = MNIST.is_dir() and not args.digits
    dataset, arch = (f"mnist:{MNIST}", "lenet") if use_mnist else ("digits", "digits-cnn")
    x, y = load_dataset(dataset, "train", limit=BATCH)
    torch.manual_seed(0)
    module = build(arch).train()
    scheme = get_scheme("rquant", 8)
    model = QatModel(module, scheme, QuantizedModel.from_torch(module, scheme, x[:2]).tensor_names)
    objective = methods.Objective()
    faults = {rate: TrainingFaults(parse_fault_model("flip"), rate=rate, seed=0) for rate in RATES}
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.9, nesterov=True)

    def step(result):
        for p, g in zip(model.parameters.values(), result.grads):
            p.grad = g
        optimizer.step()

    counter = iter(range(10**9))

    def qat():
        step(methods.normal_step(model, objective, x, y))

    def randbet(rate):
        step(methods.randbet_step(model, objective, x, y, faults[rate], next(counter), 0.05))

    for _ in range(3):  # warm up Numba kernels and torch's allocator
        qat(), [randbet(rate) for rate in RATES]
    qat_s, randbet_s = [], {rate: [] for rate in RATES}
    ratios = {rate: [] for rate in RATES}
    for _ in range(args.repeats):
        q = timed(qat)
        qat_s.append(q)
        for rate in RATES:
            r = timed(lambda: randbet(rate))
            randbet_s[rate].append(r)
            ratios[rate].append(r / q)
    print(f"{arch} on {dataset.partition(':')[0]}, batch {BATCH}, {args.threads} thread(s), {args.repeats} repeats")
    print(f"QAT step               median {statistics.median(qat_s) * 1e3:8.2f} ms")
    failed = False
    for rate in RATES:
        ratio = statistics.median(ratios[rate])
        verdict = "PASS" if ratio <= TARGET else "FAIL"
        failed |= verdict == "FAIL"
        print(f"RandBET step, p = {rate:4.0%}  median {statistics.median(randbet_s[rate]) * 1e3:8.2f} ms  "
              f"ratio {ratio:.2f}x (target <= {TARGET}x) {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
