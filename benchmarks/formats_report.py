"""docs/formats.md: number formats side by side under a faulty weight SRAM (14 nm profile).

    nice -n 10 python benchmarks/formats_report.py --vit CKPT --lm CKPT [--data DIR] [--out docs]

For one classifier (the second wave's ViT, ``mnist-vit`` trained on
Fashion-MNIST by ``benchmarks/train_second_wave.py``) and the character LM
(``char-lm`` on the generated corpus), each stored in INT8 (per channel),
INT4-g128, FP16, BF16, FP8-E4M3, FP8-E5M2 and BFP-16: accuracy (perplexity)
against the weight SRAM voltage of the 14 nm profile, averaged over chips,
with the stored bits and the weight-SRAM read energy per inference (every
stored bit, scales and exponents included, read once: ``EnergyModel.read_energy_j``).
Then the per-bit-position sensitivity: the accuracy after flipping bit ``j``
of a random 0.2% of the stored words (two draws), for every position ``j``
of every format. Everything written is measured by this script.
"""

import argparse
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import accelsim  # noqa: F401  (the package first)
from accelsim.data import load_dataset
from accelsim.models import load_model
from accelsim.sram import load_profile
from accelsim.sweep.metrics import metric_value

FORMATS = ("int8", "int4-g128", "fp16", "bf16", "fp8-e4m3", "fp8-e5m2", "bfp-16")
VOLTAGES = (0.68, 0.65, 0.62, 0.60, 0.58, 0.56, 0.54)
FIELDS = {  # bit position -> field, MSB first, for the sensitivity table
    "int8": ["sign/MSB"] + ["int"] * 7,
    "int4-g128": ["MSB"] + ["int"] * 3,
    "fp16": ["sign"] + ["exp"] * 5 + ["man"] * 10,
    "bf16": ["sign"] + ["exp"] * 8 + ["man"] * 7,
    "fp8-e4m3": ["sign"] + ["exp"] * 4 + ["man"] * 3,
    "fp8-e5m2": ["sign"] + ["exp"] * 5 + ["man"] * 2,
    "bfp-16": ["sign"] + ["man"] * 7,
    # aux words: int4-g128 holds each FP16 scale in four 4-bit words (low bits first) and a 4-bit
    # zero point per group; bfp-16 one 8-bit shared exponent per block
    "int4-g128 aux": ["b3", "b2", "b1", "b0"],
    "bfp-16 aux": ["exp"] * 8,
}


def _sweep(qm, profile, x, score, chips):
    qm.memory(profile).plan_voltages(min(VOLTAGES))
    rows = []
    clean = score(qm.clean_run(x).logits)
    for vdd_v in VOLTAGES:
        values, nonfinite, scale_words, ber = [], 0, 0, []
        for chip in range(chips):
            result = qm.evaluator(x, profile, chip=chip).run(vdd_v)
            values.append(score(result.logits))
            nonfinite += result.nonfinite_weights
            scale_words += result.erred_scale_words
            ber.append(result.model_ber)
        rows.append({"vdd_v": vdd_v, "value": statistics.fmean(values), "nonfinite": nonfinite / chips,
                     "scale_words": scale_words / chips, "model_ber": statistics.fmean(ber),
                     "energy_j": profile.energy.read_energy_j(qm.stored_bits, vdd_v, profile.vdd_nominal_v)})
    return clean, rows


def _word_sets(qm):
    """Indices of code words and of aux words (scales, zero points, shared exponents)."""
    aux = np.zeros(len(qm.words), dtype=bool)
    store = qm._store
    if store is not None:
        for start, end in zip(store.aux_starts, store.offsets[1:]):
            aux[start:end] = True
    return np.flatnonzero(~aux), np.flatnonzero(aux)


def _sensitivity(qm, x, y, eligible, fraction=0.002, draws=2):
    rng = np.random.default_rng(0)
    n = len(eligible)
    k = max(1, int(round(fraction * n)))
    result = []
    for bit in reversed(range(qm.bits)):  # MSB first
        accs = []
        for _ in range(draws):
            words = qm.words.copy()
            chosen = eligible[rng.choice(n, k, replace=False)]
            words[chosen] ^= np.asarray(1 << bit, dtype=words.dtype)
            logits = qm.forward(x, qm.weights_from_words(words))
            accs.append(float((logits.argmax(1) == y).double().mean()))
        result.append(statistics.fmean(accs))
    return result


def _fmt(value, digits=1, scale=100):
    if value is None or not math.isfinite(value):
        return "nan" if value is not None and math.isnan(value) else "inf"
    if abs(value * scale) >= 1000:
        return f"{value * scale:.3g}"
    return f"{value * scale:.{digits}f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vit", required=True)
    parser.add_argument("--lm", required=True)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/fashion-mnist"))
    parser.add_argument("--out", default="docs")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--windows", type=int, default=48)
    parser.add_argument("--chips", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.time()
    profile = load_profile("14nm")
    x, y = load_dataset(f"mnist:{args.data}", "test", limit=args.images)
    tokens, _ = load_dataset("text", "test", limit=args.windows)

    vit, lm, sens = {}, {}, {}
    for fmt in FORMATS:
        qm = load_model(args.vit, scheme=fmt)
        vit[fmt] = (qm.stored_bits, *_sweep(qm, profile, x,
                                            lambda logits: float((logits.argmax(1) == y).double().mean()),
                                            args.chips))
        codes, aux = _word_sets(qm)
        sens[fmt] = _sensitivity(qm, x[:300], y[:300], codes)
        if len(aux):
            sens[f"{fmt} aux"] = _sensitivity(qm, x[:300], y[:300], aux)
        qm = load_model(args.lm, scheme=fmt)
        lm[fmt] = (qm.stored_bits, *_sweep(qm, profile, tokens,
                                           lambda logits: metric_value("perplexity", logits, tokens, None),
                                           args.chips))
        print(f"{fmt} done after {time.time() - start:.0f} s", flush=True)

    out = Path(args.out)
    _plots(out, vit, lm, sens)
    lines = ["# Number formats under a faulty weight SRAM", "",
             "Generated by `benchmarks/formats_report.py` (do not edit by hand): "
             f"profile `14nm`, {args.chips} chips per voltage, {args.images} Fashion-MNIST test images for the "
             f"ViT (`mnist-vit`), {args.windows} test windows of 64 bytes of the generated corpus for the "
             f"character LM (`char-lm`); {time.time() - start:.0f} s on one thread.", "",
             "Formats (`accelsim.quant.formats`, scheme names as in DESIGN.md): `int8` per output channel, "
             "symmetric; `int4-g128` groups of 128 along the input dimension with an FP16 scale and a 4-bit "
             "zero point per group stored in the same memory (a group that does not fill 128 is padded with "
             "zeros, stored); `fp16`, `bf16`, `fp8-e4m3`, `fp8-e5m2` store torch's own cast; `bfp-16` stores "
             "8-bit sign-magnitude mantissas with one 8-bit exponent per block of 16. Energy: weight-SRAM "
             "read energy per inference, every stored bit (scales, zero points, exponents included) read once.",
             "", "Inf and NaN from flipped exponents propagate as the hardware would (no clamping); the "
             "`inf/NaN weights` columns count them (mean per chip at the lowest voltage).", ""]
    for title, table, unit, digits, scale in (("ViT on Fashion-MNIST: accuracy (%)", vit, "%", 1, 100),
                                               ("Character LM: perplexity (lower is better)", lm, "", 2, 1)):
        lines += [f"## {title}", "",
                  "| format | stored bits | clean | " + " | ".join(f"{v:.2f} V" for v in VOLTAGES)
                  + " | energy at 0.68 V (nJ) | energy at 0.54 V (nJ) | inf/NaN weights at 0.54 V |",
                  "|---" * (6 + len(VOLTAGES)) + "|"]
        for fmt in FORMATS:
            bits, clean, rows = table[fmt]
            lines.append(f"| `{fmt}` | {bits:,} | {_fmt(clean, digits, scale)} | "
                         + " | ".join(_fmt(r["value"], digits, scale) for r in rows)
                         + f" | {rows[0]['energy_j'] * 1e9:.3f} | {rows[-1]['energy_j'] * 1e9:.3f} | "
                         f"{rows[-1]['nonfinite']:.1f} |")
        lines.append("")
    bers = " | ".join(f"{profile.ber(v):.1e}" for v in VOLTAGES)
    lines += [f"Cell bit error rate of the 14 nm profile at those voltages: {bers}.", "",
              "![accuracy and perplexity against voltage](formats_voltage.png)", "",
              "## Per-bit-position sensitivity (ViT, accuracy % after flipping bit j of 0.2% of the words)", "",
              "Clean accuracies: " + ", ".join(f"`{f}` {_fmt(vit[f][1])}" for f in FORMATS) + ". "
              "Bit positions are listed MSB first (position 0 = the word's most significant bit). Code "
              "words and aux words are flipped separately: `int4-g128 aux` flips bit j of 0.2% of the words "
              "holding scales (FP16, split into four 4-bit words, low bits first: bit b3 of the fourth word "
              "is the scale's sign, b2 its exponent MSB) and zero points; `bfp-16 aux` flips the shared "
              "exponents. `int4-g128` codes are unsigned (asymmetric), so their MSB moves a weight by "
              "8 steps; `int8` codes are two's complement.", ""]
    for fmt in sens:
        accs = sens[fmt]
        lines.append(f"- `{fmt}`: " + ", ".join(f"{FIELDS[fmt][i]} {_fmt(a)}" for i, a in enumerate(accs)))
    lines += ["", "![per-bit sensitivity](formats_bits.png)", "", "## Findings", ""]
    lines += _findings(vit, lm, sens)
    (out / "formats.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'formats.md'} after {time.time() - start:.0f} s")


def _findings(vit, lm, sens):
    int_msb = sens["int8"][0]
    exp_msb = {f: sens[f][1] for f in ("fp16", "bf16", "fp8-e4m3", "fp8-e5m2")}
    worst = min(exp_msb, key=exp_msb.get)
    text = [f"- Flipping the most significant bit of 0.2% of the `int8` words leaves {_fmt(int_msb)}% accuracy; "
            f"flipping the exponent MSB of the same share of floating-point words leaves "
            + ", ".join(f"`{f}` {_fmt(a)}%" for f, a in exp_msb.items())
            + (f": the exponent MSB is far more harmful (worst `{worst}`)." if exp_msb[worst] < int_msb - 0.05
               else ": in this model the exponent MSB is not clearly more harmful than the integer MSB.")]
    aux = sens.get("int4-g128 aux")
    if aux is not None:
        text.append(f"- A group's FP16 scale is a single point of failure: flipping bit b2 of 0.2% of the aux words "
                    f"(in a fifth of them the bit is a scale's exponent MSB) leaves {_fmt(aux[1])}% accuracy, "
                    f"against {_fmt(sens['int4-g128'][0])}% for the code MSB of 0.2% of the code words.")
    low = {f: vit[f][2][-1]["value"] for f in FORMATS}
    best = max(low, key=lambda f: low[f] if math.isfinite(low[f]) else -1)
    text.append(f"- At 0.54 V the most robust classifier format is `{best}` ({_fmt(low[best])}%); "
                + ", ".join(f"`{f}` {_fmt(v)}%" for f, v in low.items() if f != best) + ".")
    return text


def _plots(out, vit, lm, sens):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for fmt in FORMATS:
        axes[0].plot(VOLTAGES, [r["value"] * 100 for r in vit[fmt][2]], marker="o", label=fmt)
        axes[1].plot(VOLTAGES, [r["value"] if math.isfinite(r["value"]) else np.nan for r in lm[fmt][2]],
                     marker="o", label=fmt)
    axes[0].set(xlabel="weight SRAM voltage (V)", ylabel="accuracy (%)", title="ViT, Fashion-MNIST")
    axes[1].set(xlabel="weight SRAM voltage (V)", ylabel="perplexity", title="char LM", yscale="log")
    for ax in axes:
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "formats_voltage.png", dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4))
    for fmt, accs in sens.items():
        ax.plot(range(len(accs)), [a * 100 for a in accs], marker="o", label=fmt,
                linestyle="--" if "aux" in fmt else "-")
    ax.set(xlabel="bit position (0 = most significant)", ylabel="accuracy (%)",
           title="accuracy after flipping one bit position in 0.2% of the words")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "formats_bits.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
