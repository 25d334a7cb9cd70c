"""A 10^8-parameter model: import, store, read at BER 1e-3 and evaluate, with the memory accelsim adds.

    nice -n 10 python benchmarks/bench_scale.py [--layers 12] [--repeats 3]

The model is GPT-2-small-shaped (vocabulary 50257, width 768, 12 layers of
12 heads, MLP 4x, tied head; 124 M parameters) with random weights, written
in plain torch. Memory added = peak RSS (VmHWM, reset once the torch model is built) minus
the RSS then, target <= 1.5x the model's float32 size. Time: a read (the
words a read at BER 1e-3 changes, from the placement) against a per-bit
mask on the same words (a Bernoulli draw per stored bit, packed, XORed into
a copy of the words, as a dense fault injector does), target >= 100x; each
printed as min/median/max of ``--repeats`` runs. Stored as ``int8`` (per
channel); the chip is a uniform profile at BER 1e-3 (flips).
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json")
    parser.add_argument("--no-mask", dest="mask", action="store_false", help="skip the per-bit baseline")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = GPT2Shaped(layers=args.layers).eval()
    n_params = sum(p.numel() for p in model.parameters())
    float_bytes = 4 * n_params
    try:  # the peak starts now: building the torch model has transients of its own
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass
    baseline = _status("VmRSS")
    x = torch.randint(0, 50257, (2, 32), generator=torch.Generator().manual_seed(1))
    start = time.perf_counter()
    qm = QuantizedModel.from_torch(model, "int8", x)
    import_s = time.perf_counter() - start
    phases = {"import": (_status("VmRSS") - baseline, _status("VmHWM") - baseline)}
    profile = uniform_profile(1e-2)
    vdd_v = float(profile.voltage_for_ber(1e-3))
    memory = qm.memory(profile)
    start = time.perf_counter()
    placed = memory.faulty_cells(vdd_v, 0)
    place_s = time.perf_counter() - start
    phases["placement"] = (_status("VmRSS") - baseline, _status("VmHWM") - baseline)
    evaluator = qm.evaluator(x, profile)
    _ = evaluator.clean_logits
    phases["clean run"] = (_status("VmRSS") - baseline, _status("VmHWM") - baseline)
    start = time.perf_counter()
    result = evaluator.run(vdd_v)
    run_s = time.perf_counter() - start
    phases["faulty run"] = (_status("VmRSS") - baseline, _status("VmHWM") - baseline)
    added = _status("VmHWM") - baseline
    print("memory added after each phase (RSS, peak), MiB: " + "; ".join(
        f"{k} {a / 2**20:.0f}, {b / 2**20:.0f}" for k, (a, b) in phases.items()), flush=True)
    read_times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        faulty_words(memory, vdd_v, 0)
        read_times.append(time.perf_counter() - start)
    mask_times = []
    for r in range(args.repeats if args.mask else 0):
        start = time.perf_counter()
        per_bit_mask_read(qm.words, 8, 1e-3, r)
        mask_times.append(time.perf_counter() - start)
    record = {"parameters": n_params, "float32_bytes": float_bytes, "stored_bits": qm.stored_bits,
              "added_bytes": added, "added_over_float32": added / float_bytes, "import_s": import_s,
              "place_s": place_s, "first_run_s": run_s, "faulty_cells": placed,
              "flipped_bits": result.flipped_bits, "model_ber": result.model_ber,
              "read_s": read_times, "per_bit_mask_s": mask_times,
              "speedup_median": (statistics.median(mask_times) / statistics.median(read_times)
                                 if mask_times else None)}
    print(f"model: GPT-2-small-shaped, {n_params:,} parameters ({float_bytes / 2**20:.0f} MiB float32), "
          f"stored as int8: {qm.stored_bits:,} bits")
    print(f"import {import_s:.1f} s, placement to BER 1e-3 {place_s:.1f} s ({placed:,} faulty cells), "
          f"first faulty run {run_s:.1f} s (model BER {result.model_ber:.2e}, "
          f"{len(result.changed_tensors)} tensors changed)")
    print(f"memory added (peak RSS - RSS with the torch model): {added / 2**20:.0f} MiB = "
          f"{added / float_bytes:.2f}x the float32 model (target <= 1.5x)")
    if mask_times:
        print(f"read at BER 1e-3: {_stats(read_times)}; per-bit mask on the same words: {_stats(mask_times)}; "
              f"ratio (median) {record['speedup_median']:.0f}x (target >= 100x)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=2)


if __name__ == "__main__":
    main()
