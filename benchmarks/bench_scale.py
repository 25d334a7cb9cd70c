"""A 10^8-parameter model: import, store, read at BER 1e-3 and evaluate, with the memory accelsim adds.

    nice -n 10 python benchmarks/bench_scale.py [--layers 12] [--repeats 5] [--json FILE]
    nice -n 10 python benchmarks/bench_scale.py --vgg11 [--images 2] [--voltages 0.65,0.6,0.56]

The model is GPT-2-small-shaped (vocabulary 50257, width 768, 12 layers of
12 heads, MLP 4x, tied head; 124 M parameters) with random weights, written
in plain torch. Memory added = peak RSS (VmHWM, reset once the torch model is
built) minus the RSS then, per phase and in all, target <= 1.5x the model's
float32 size. Time: a read (the words a read at BER 1e-3 changes, from the
chip's placement, already drawn) against a per-bit mask on the same words (a
Bernoulli draw per stored bit, packed, XORed into a copy of the words, as a
dense fault injector does for each run), target >= 100x (ratio of medians),
each printed as min/median/max of ``--repeats`` runs, interleaved; the
first read of a chip (its cells grouped by word, once) is printed apart.
Stored as ``int8`` (per channel); the chip is a uniform profile at BER 1e-3
(flips).

``--vgg11``: torchvision's VGG-11 layers (accelsim.models.modern.VGG11,
132.9 M random parameters, about 1.06 Gbit at 8 bits) on ``--images``
random 224x224 images, stored as ``int8`` on the 14 nm profile and run
through ``qm.run`` at each of ``--voltages`` in the order given, as a new
user would (each lower voltage places the chip again, deeper): peak RSS
added and time per voltage, and the up-front estimate of the placement at
the lowest voltage.
"""

import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import accelsim  # noqa: F401  (the package first)
from accelsim.engine import QuantizedModel
from accelsim.engine.sparse import faulty_words
from accelsim.sram import uniform_profile


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc, self.out = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.attn(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c)
        x = x + self.proj(y)
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT2Shaped(nn.Module):
    def __init__(self, vocab=50257, context=1024, dim=768, layers=12, heads=12):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, dim), nn.Embedding(context, dim)
        self.blocks = nn.Sequential(*(Block(dim, heads) for _ in range(layers)))
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.wte.weight

    def forward(self, idx):
        pos = torch.arange(idx.shape[1])
        return self.head(self.ln(self.blocks(self.wte(idx) + self.wpe(pos))))


def _status(key):
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _stats(values):
    return f"min {min(values):.4g} / median {statistics.median(values):.4g} / max {max(values):.4g} s"


def _reset_peak():
    try:  # the peak starts now: building the torch model has transients of its own
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass
    return _status("VmRSS")


def per_bit_mask_read(words, bits, ber, seed):
    """A dense injector: one Bernoulli draw per stored bit, packed into per-word XOR masks."""
    rng = np.random.default_rng(seed)
    out = words.copy()
    chunk = 1 << 22  # words per block
    for lo in range(0, len(words), chunk):
        n = min(chunk, len(words) - lo)
        flips = rng.random((n, bits)) < ber
        masks = np.packbits(flips, axis=1, bitorder="little")[:, 0] if bits == 8 else None
        out[lo:lo + n] ^= masks
    return out


def gpt2(args):
    torch.manual_seed(0)
    model = GPT2Shaped(layers=args.layers).eval()
    n_params = sum(p.numel() for p in model.parameters())
    float_bytes = 4 * n_params
    baseline = _reset_peak()

    def phase(name):
        phases[name] = (_status("VmRSS") - baseline, _status("VmHWM") - baseline)

    phases = {}
    x = torch.randint(0, 50257, (2, 32), generator=torch.Generator().manual_seed(1))
    start = time.perf_counter()
    qm = QuantizedModel.from_torch(model, "int8", x)
    import_s = time.perf_counter() - start
    phase("import")
    profile = uniform_profile(1e-2)
    vdd_v = float(profile.voltage_for_ber(1e-3))
    memory = qm.memory(profile)
    start = time.perf_counter()
    placed = memory.faulty_cells(vdd_v, 0)
    place_s = time.perf_counter() - start
    phase("chip draw and placement")
    start = time.perf_counter()
    first_read = faulty_words(memory, vdd_v, 0)
    first_read_s = time.perf_counter() - start
    phase("first read")
    evaluator = qm.evaluator(x, profile)
    start = time.perf_counter()
    _ = evaluator.clean_logits
    clean_s = time.perf_counter() - start
    phase("clean run")
    start = time.perf_counter()
    result = evaluator.run(vdd_v)
    run_s = time.perf_counter() - start
    phase("faulty run")
    added = _status("VmHWM") - baseline
    ratio = added / float_bytes
    print(f"model: GPT-2-small-shaped, {n_params:,} parameters ({float_bytes / 2**20:.0f} MiB float32), "
          f"stored as int8: {qm.stored_bits:,} bits ({qm.words.nbytes / 2**20:.0f} MiB of words)")
    print("memory added after each phase (RSS, peak), MiB: " + "; ".join(
        f"{k} {a / 2**20:.0f}, {b / 2**20:.0f}" for k, (a, b) in phases.items()), flush=True)
    print(f"import {import_s:.1f} s, chip draw and placement to BER 1e-3 {place_s:.1f} s ({placed:,} faulty cells, "
          f"{len(memory.placement(0, vdd_v)):,} placed), first read {first_read_s * 1e3:.0f} ms "
          f"({len(first_read[0]):,} words changed), clean run {clean_s:.1f} s, faulty run {run_s:.1f} s "
          f"(model BER {result.model_ber:.2e}, {len(result.changed_tensors)} tensors changed)")
    print(f"memory added (peak RSS - RSS with the torch model): {added / 2**20:.0f} MiB = "
          f"{ratio:.2f}x the float32 model (target <= 1.5x: {'PASS' if ratio <= 1.5 else 'FAIL'})", flush=True)
    read_times, mask_times = [], []
    for r in range(args.repeats):  # interleaved, so that both see the same machine load
        start = time.perf_counter()
        faulty_words(memory, vdd_v, 0)
        read_times.append(time.perf_counter() - start)
        if args.mask:
            start = time.perf_counter()
            per_bit_mask_read(qm.words, 8, 1e-3, r)
            mask_times.append(time.perf_counter() - start)
    speedup = statistics.median(mask_times) / statistics.median(read_times) if mask_times else None
    if mask_times:
        print(f"read at BER 1e-3: {_stats(read_times)}; per-bit mask on the same words: {_stats(mask_times)}; "
              f"ratio of medians {speedup:.0f}x (target >= 100x: {'PASS' if speedup >= 100 else 'FAIL'}), "
              f"worst pair (slowest read, fastest mask) {min(mask_times) / max(read_times):.0f}x")
    return {"parameters": n_params, "float32_bytes": float_bytes, "stored_bits": qm.stored_bits,
            "phases_rss_peak_bytes": phases, "added_bytes": added, "added_over_float32": ratio,
            "import_s": import_s, "place_s": place_s, "first_read_s": first_read_s, "clean_run_s": clean_s,
            "first_run_s": run_s, "faulty_cells": placed, "flipped_bits": result.flipped_bits,
            "model_ber": result.model_ber, "read_s": read_times, "per_bit_mask_s": mask_times,
            "speedup_median": speedup}


def vgg11(args):
    from accelsim.models.modern import VGG11
    from accelsim.sram import load_profile
    from accelsim.sram._budget import placement_bytes

    torch.manual_seed(0)
    model = VGG11().eval()
    n_params = sum(p.numel() for p in model.parameters())
    baseline = _reset_peak()
    x = torch.randn(args.images, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    start = time.perf_counter()
    qm = QuantizedModel.from_torch(model, "int8", x)
    print(f"VGG-11: {n_params:,} parameters ({4 * n_params / 2**20:.0f} MiB float32), {qm.stored_bits:,} bits "
          f"as int8; import {time.perf_counter() - start:.1f} s, memory added "
          f"{(_status('VmHWM') - baseline) / 2**20:.0f} MiB (peak)", flush=True)
    profile = load_profile("14nm")
    lowest_v = min(args.voltages)
    estimate, cells = placement_bytes(profile, qm.stored_bits, lowest_v)
    print(f"up-front estimate of a placement down to {lowest_v} V: {cells:,.0f} faulty cells, "
          f"{estimate / 2**30:.2f} GiB", flush=True)
    record = {"parameters": n_params, "stored_bits": qm.stored_bits, "estimate_bytes": estimate, "points": []}
    total = time.perf_counter()
    for vdd_v in args.voltages:
        start = time.perf_counter()
        result = qm.run(x, profile, vdd_v)
        seconds = time.perf_counter() - start
        peak = _status("VmHWM") - baseline
        print(f"  {vdd_v:.3f} V: {result.faulty_cells:,} faulty cells, model BER {result.model_ber:.2e}, "
              f"{len(result.changed_tensors)} tensors changed, {seconds:.1f} s, peak RSS added so far "
              f"{peak / 2**20:.0f} MiB", flush=True)
        record["points"].append({"vdd_v": vdd_v, "faulty_cells": result.faulty_cells, "seconds": seconds,
                                 "peak_added_bytes": peak})
    added = _status("VmHWM") - baseline
    print(f"three voltages in {time.perf_counter() - total:.1f} s; peak RSS {_status('VmHWM') / 2**30:.2f} GiB "
          f"({added / 2**30:.2f} GiB added to the torch model's)")
    record["peak_rss_bytes"] = _status("VmHWM")
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    parser.add_argument("--no-mask", dest="mask", action="store_false", help="skip the per-bit baseline")
    parser.add_argument("--vgg11", action="store_true", help="VGG-11 at three voltages on the 14 nm profile")
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--voltages", type=lambda text: [float(v) for v in text.split(",")],
                        default=[0.65, 0.6, 0.56])
    args = parser.parse_args()
    torch.set_num_threads(1)
    record = vgg11(args) if args.vgg11 else gpt2(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=2)


if __name__ == "__main__":
    main()
