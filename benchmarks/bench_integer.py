"""Integer execution benchmark: MNIST LeNet with 8-bit activations, integer layers against float32.

Over the 10,000 MNIST test images (digits when ../shared/data/mnist is
absent), in the engine's batches, three ways of running the same network:

- ``plain``: the float32 torch module with the dequantized weights
  (no activation quantization), the baseline;
- ``float``: the engine with ``act_quant`` (8-bit activations, fake-quantized,
  float32 layers), today's default;
- ``integer``: the engine with ``execution="integer"`` (integer codes, exact
  integer sums, affine correction; see accelsim/engine/integer.py).

And one faulty point (14 nm profile at BER 1e-3, whole network re-run,
codes read from SRAM) in float and integer. Repeats are interleaved; ratios
to ``plain`` of the same repeat are printed as min/median/max, with the
accuracy of each and how many predictions differ between float and integer.

Run: python benchmarks/bench_integer.py [--repeats N]
"""

import argparse
import os
import statistics
import sys

import torch

from accelsim import load_dataset, load_profile
from accelsim.engine import QuantizedModel
from accelsim.models import load_model
from accelsim.quant import ActivationQuantizer

from _common import MNIST, timed  # benchmarks/_common.py


def _stats(values):
    return f"min {min(values):.3f} median {statistics.median(values):.3f} max {max(values):.3f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if MNIST.exists():
        name, (x, y) = "mnist-lenet-normal-8b", load_dataset(f"mnist:{MNIST}", split="test")
    else:
        name, (x, y) = "digits-cnn-normal-8b", load_dataset("digits", split="test")
        print("note: ../shared/data/mnist not found, using digits")
    stored = load_model(name)
    qm = QuantizedModel.from_torch(stored._module, stored.scheme, x[:256], act_quant=ActivationQuantizer(8))
    batch = qm.batch_size_for(x)
    batches = torch.split(x, batch)
    reference = qm.reference_module()
    profile = load_profile("14nm")
    vdd_v = float(profile.voltage_for_ber(1e-3))
    faulty = {e: qm.evaluator(x, profile, chip=1, batch_size=batch, cache_bytes=0, execution=e)
              for e in ("float", "integer")}

    def plain():
        with torch.inference_mode():
            return torch.cat([reference(b) for b in batches])

    def engine(execution):
        return torch.cat([qm.forward(b, execution=execution) for b in batches])

    outputs = {"plain": plain(), "float": engine("float"), "integer": engine("integer")}
    runs = {e: faulty[e].run(vdd_v) for e in faulty}
    times = {k: [] for k in ("plain", "float", "integer", "faulty float", "faulty integer")}
    for _ in range(args.repeats):
        times["plain"].append(timed(plain))
        times["float"].append(timed(lambda: engine("float")))
        times["integer"].append(timed(lambda: engine("integer")))
        times["faulty float"].append(timed(lambda: faulty["float"].run(vdd_v)))
        times["faulty integer"].append(timed(lambda: faulty["integer"].run(vdd_v)))
    load = os.getloadavg()
    print(f"model {name}, {len(x)} images in batches of {batch}, 8-bit activations, torch 1 thread, "
          f"{args.repeats} repeats; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("layers: " + ", ".join(f"{r.layer} {r.kernel or 'float (' + r.reason + ')'}"
                                 for r in qm.integer_layers()))
    print(f"{'run':<16}{'seconds (median)':>18}  ratio to plain float32 (per repeat)")
    for key, values in times.items():
        ratios = [t / p for t, p in zip(values, times["plain"], strict=True)]
        print(f"{key:<16}{statistics.median(values):>18.3f}  {_stats(ratios)}")
    ratios = [i / f for i, f in zip(times["integer"], times["float"], strict=True)]
    print(f"integer / float (act-quant engine, clean): {_stats(ratios)}")
    ratios = [i / f for i, f in zip(times["faulty integer"], times["faulty float"], strict=True)]
    print(f"integer / float (faulty point, BER 1e-3, chip 1): {_stats(ratios)}")
    for key, logits in {**outputs, **{f"faulty {k}": r.logits for k, r in runs.items()}}.items():
        print(f"accuracy {key:<16}{float((logits.argmax(1) == y).double().mean()):.4f}")
    differ = int((outputs["float"].argmax(1) != outputs["integer"].argmax(1)).sum())
    differ_faulty = int((runs["float"].logits.argmax(1) != runs["integer"].logits.argmax(1)).sum())
    print(f"predictions differing float vs integer: clean {differ}, faulty {differ_faulty} of {len(x)}; "
          f"max |logit difference| clean {float((outputs['float'] - outputs['integer']).abs().max()):.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
