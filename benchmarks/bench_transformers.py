"""The engine out of faulty memory against the same network as a plain torch module (ViT and char LM).

    nice -n 10 python benchmarks/bench_transformers.py [--repeats 5]

Per faulty point (14 nm profile at 0.60 V, BER ~7e-4; each repeat a new
chip, its placement drawn before timing): ``evaluator.run(vdd_v)`` (the read,
the decode of the changed tensors, the run from the first changed layer)
against ``reference_module()(x)`` under ``torch.inference_mode`` on the same
inputs. Target: engine <= 1.2x torch. Stored as ``int8``; weights random
(speed does not depend on training). Prints min/median/max and the ratio of
medians, measured in the same run.
"""

import argparse
import statistics
import time

import torch

import accelsim  # noqa: F401  (the package first)
from accelsim.engine import QuantizedModel
from accelsim.models import build
from accelsim.sram import load_profile

VDD_V = 0.60


def _stats(values):
    return f"min {min(values) * 1e3:.1f} / median {statistics.median(values) * 1e3:.1f} / max {max(values) * 1e3:.1f} ms"


def bench(name, x, repeats, scheme):
    torch.manual_seed(0)
    net = build(name).eval()
    qm = QuantizedModel.from_torch(net, scheme, x[:4])
    reference = qm.reference_module()
    profile = load_profile("14nm")
    engine, plain, first = [], [], []
    for chip in range(repeats + 1):
        evaluator = qm.evaluator(x, profile, chip=chip, cache_bytes=0)
        evaluator.faulty_cells(VDD_V)  # placement outside the timing
        start = time.perf_counter()
        result = evaluator.run(VDD_V)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()
        with torch.inference_mode():
            reference(x)
        plain_s = time.perf_counter() - start
        if chip:  # the first pair warms up
            engine.append(elapsed)
            plain.append(plain_s)
            first.append(result.first_step)
    ratio = statistics.median(engine) / statistics.median(plain)
    print(f"{name} ({scheme}, input {tuple(x.shape)}): engine {_stats(engine)}; torch {_stats(plain)}; "
          f"ratio {ratio:.2f}x (target <= 1.2x); first re-run step {first}")
    return ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scheme", default="int8")
    args = parser.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    bench("mnist-vit", torch.randn(256, 1, 28, 28, generator=g), args.repeats, args.scheme)
    bench("char-lm", torch.randint(0, 256, (32, 64), generator=g), args.repeats, args.scheme)


if __name__ == "__main__":
    main()
