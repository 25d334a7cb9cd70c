"""Attack benchmark: one progressive bit search (BFA) iteration against one forward+backward pass.

MNIST LeNet (``mnist-lenet-normal-8b``; ``digits-cnn-normal-8b`` with
--digits), one batch of 128 test images. A BFA iteration is the loss gradient
with respect to the decoded weights (one forward+backward through the
engine's program), the first-order gain of every stored bit of each layer
(computed one layer at a time) and one trial loss per layer (run from that
layer on, from cached activations), then the flip. The baseline is one
forward+backward of the plain torch model (its dequantized twin, gradients
of every parameter) on the same batch. Target: at most 3x. Repeats are
interleaved (baseline, BFA, baseline, ...); min/median/max of each and the
median ratio of pairs are printed.

With ``--protection secded:64`` (or ``parity:N``, ``secded:N``) the
iteration is one codeword move of the search on protected memory
(``accelsim.attack._codes``: candidates ranked per tensor, the best move of
each cost per layer evaluated through the decoder); reported, no target.

Run: python benchmarks/bench_attack.py [--repeats N] [--digits] [--threads N] [--protection P]
"""

import argparse
import statistics

import numpy as np
import torch
import torch.nn.functional as F

from accelsim import load_dataset, load_model
from accelsim.attack._target import Target
from accelsim.attack.bfa import progressive_bit_search

from _common import MNIST, timed  # benchmarks/_common.py

TARGET = 3.0
BATCH = 128


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--digits", action="store_true", help="digits-cnn on digits instead of LeNet on MNIST")
    parser.add_argument("--protection", default="none", help="none | parity:N | secded:N (default: none)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    use_mnist = MNIST.is_dir() and not args.digits
    dataset, name = (f"mnist:{MNIST}", "mnist-lenet-normal-8b") if use_mnist else ("digits", "digits-cnn-normal-8b")
    x, y = load_dataset(dataset, "test", limit=BATCH)
    qm = load_model(name)
    module = qm.reference_module()
    target = Target(qm, x, y, qm.words, np.zeros(0, np.int64), None, None, None)

    def forward_backward():
        module.zero_grad(set_to_none=True)
        F.cross_entropy(module(x), y).backward()

    def bfa_iteration():
        progressive_bit_search(target, 1, lambda count, bit: False, lambda: None)

    if args.protection != "none":
        from accelsim.attack._codes import CodeState, protected_bit_search
        from accelsim.sram.protection import parse_protection

        state = CodeState(target, parse_protection(args.protection), "zero", None, None, 0, None, None)

        def bfa_iteration():  # noqa: F811 -- one codeword move instead of one flip
            protected_bit_search(state, 3, lambda count, move: True, lambda: None)

    for fn in (forward_backward, bfa_iteration):  # warm up
        fn()
    base, attack = [], []
    for _ in range(args.repeats):
        base.append(timed(forward_backward))
        attack.append(timed(bfa_iteration))
    ratios = [a / b for a, b in zip(attack, base)]
    print(f"{name}, batch {BATCH}, {args.threads} thread(s), {args.repeats} interleaved repeats, "
          f"{qm.stored_bits} stored bits in {len(target.groups)} layers, protection {args.protection}")
    for label, times in (("plain torch forward+backward", base), ("BFA iteration", attack)):
        print(f"  {label:30s} min {min(times) * 1e3:8.2f} ms  median {statistics.median(times) * 1e3:8.2f} ms  "
              f"max {max(times) * 1e3:8.2f} ms")
    ratio = statistics.median(ratios)
    verdict = (f"target <= {TARGET:g}x: {'met' if ratio <= TARGET else 'MISSED'}" if args.protection == "none"
               else "no target for protected memory")
    print(f"  ratio (median of pairs) {ratio:.2f}x  (min {min(ratios):.2f}x, max {max(ratios):.2f}x); {verdict}")


if __name__ == "__main__":
    main()
