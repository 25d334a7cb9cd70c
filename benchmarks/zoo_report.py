"""Measure the shipped zoo: clean accuracy and robust error on the uniform profile.

Prints a markdown table (the one in accelsim/models/zoo/README.md): for every
zoo model, the robust error (RErr, Stutz et al.: wrong under faults or when
clean) in percent, averaged over chips, at bit error rates 0.1%, 1%, 5% and
10% of the shipped ``uniform`` profile. Digits models use the whole test
split, MNIST models the first ``--mnist-limit`` test images.

Fashion-MNIST models likewise use the first ``--mnist-limit`` test images
of ../shared/data/fashion-mnist; ``--only TEXT`` keeps the models whose name
contains TEXT. Models stored in a number format (``int8``, ``int4-g128``: the
ViT, MobileNetV2 and char-LM of issue 10) are measured by
benchmarks/zoo_formats_report.py on the 14 nm profile instead.

Run: python benchmarks/zoo_report.py [--chips 10] [--mnist-limit 2000] [--only simplenet]
"""

import argparse
import sys

import torch

from accelsim import load_dataset, load_profile
from accelsim.models import load_model, zoo

from _common import MNIST  # benchmarks/_common.py

FASHION_MNIST = MNIST.parent / "fashion-mnist"

RATES = (0.001, 0.01, 0.05, 0.1)


def robust_error(qm, x, y, profile, rate, chips):
    """Mean RErr over ``chips`` at bit error rate ``rate``."""
    vdd_v = profile.voltage_for_ber(rate)
    clean_wrong = qm.forward(x).argmax(1) != y
    errors = []
    for chip in range(chips):
        wrong = qm.evaluator(x, profile, chip=chip).run(vdd_v).logits.argmax(1) != y
        errors.append(float((wrong | clean_wrong).double().mean()))
    return sum(errors) / len(errors)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=10)
    parser.add_argument("--mnist-limit", type=int, default=2000)
    parser.add_argument("--only", default="", help="keep the models whose name contains this text")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    profile = load_profile("uniform")
    data = {"digits": load_dataset("digits")}
    if MNIST.exists():
        x, y = load_dataset(f"mnist:{MNIST}")
        data["mnist"] = (x[:args.mnist_limit], y[:args.mnist_limit])
    if FASHION_MNIST.exists():
        x, y = load_dataset(f"fashion-mnist:{FASHION_MNIST}", limit=args.mnist_limit)
        data["fashion-mnist"] = (x, y)
    print("| model | clean accuracy | " + " | ".join(f"RErr @ {r * 100:g}%" for r in RATES) + " |")
    print("|---|---|" + "---|" * len(RATES))
    for record in zoo():
        if record.dataset not in data or args.only not in record.name or record.quant_scheme != "rquant":
            continue
        x, y = data[record.dataset]
        qm = load_model(record.name)
        cells = [f"{robust_error(qm, x, y, profile, r, args.chips) * 100:.1f}" for r in RATES]
        print(f"| {record.name} | {record.clean_accuracy * 100:.1f}% | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
