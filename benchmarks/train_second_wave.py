"""Train the second wave's small models (float, "normal" method) within a CPU budget.

    nice -n 10 python benchmarks/train_second_wave.py vit --data ../shared/data/fashion-mnist --out DIR
    nice -n 10 python benchmarks/train_second_wave.py lm --out DIR

``vit``: accelsim's ``mnist-vit`` on Fashion-MNIST (same IDX layout as MNIST,
normalised with MNIST's constants), Adam, a fixed number of steps. ``lm``:
``char-lm`` on the generated corpus of :mod:`accelsim.data.text` (byte
tokens, windows of 64). Both are trained in float32 with torch at one
thread; nothing is clipped (LayerNorm and embedding weights included), and
the quantization happens when the checkpoint is loaded (``--scheme``). Each
writes a checkpoint in accelsim's format with ``scheme`` ``int8``.
"""

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import accelsim  # noqa: F401  (the package first: benchmarks import it before local helpers)
from accelsim.data import load_dataset
from accelsim.data.text import CONTEXT
from accelsim.models import build
from accelsim.models.checkpoint import save_checkpoint


def _meta(name, arch, dataset, accuracy, extra):
    return {"schema_version": 1, "name": name, "arch": arch, "dataset": dataset, "bits": 8,
            "quant_scheme": "int8", "scheme": {"schema_version": 1, "format": "int8"}, "method": "normal",
            "clip": None, "p_train": None, "clean_accuracy": accuracy, **extra}


def train_vit(data, out, steps, batch=128, lr=2e-3, seed=0):
    torch.manual_seed(seed)
    x, y = load_dataset(f"mnist:{data}", "train")
    xt, yt = load_dataset(f"mnist:{data}", "test")
    net = build("mnist-vit")
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    g = torch.Generator().manual_seed(seed)
    start = time.time()
    for step in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=g)
        loss = F.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 200 == 0:
            print(f"vit step {step} loss {loss.item():.3f} {time.time() - start:.0f}s", flush=True)
    net.eval()
    with torch.no_grad():
        accuracy = float(torch.cat([net(b).argmax(1) for b in xt.split(1000)]).eq(yt).double().mean())
    print(f"vit test accuracy {accuracy:.4f} after {time.time() - start:.0f}s", flush=True)
    meta = _meta("fashion-mnist-vit-normal-8b", "mnist-vit", "mnist", accuracy,
                 {"data": "fashion-mnist", "steps": steps, "batch": batch, "train_seconds": time.time() - start})
    return save_checkpoint(Path(out) / "fashion-mnist-vit-normal-8b.pt", net.state_dict(), meta)


def train_lm(out, steps, batch=32, lr=3e-3, seed=0):
    torch.manual_seed(seed)
    x, _ = load_dataset("text", "train")
    xt, _ = load_dataset("text", "test")
    net = build("char-lm")
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    g = torch.Generator().manual_seed(seed)
    start = time.time()
    for step in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=g)
        logits = net(x[idx])
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, 256), x[idx][:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0:
            print(f"lm step {step} loss {loss.item():.3f} {time.time() - start:.0f}s", flush=True)
    net.eval()
    with torch.no_grad():
        logits = net(xt)
        loss = float(F.cross_entropy(logits[:, :-1].reshape(-1, 256), xt[:, 1:].reshape(-1)))
    print(f"lm test loss {loss:.4f} perplexity {torch.tensor(loss).exp():.3f} after {time.time() - start:.0f}s",
          flush=True)
    meta = _meta("text-char-lm-normal-8b", "char-lm", "text", None,
                 {"test_loss": loss, "context": CONTEXT, "steps": steps, "batch": batch,
                  "train_seconds": time.time() - start})
    return save_checkpoint(Path(out) / "text-char-lm-normal-8b.pt", net.state_dict(), meta)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=("vit", "lm"))
    parser.add_argument("--data", default="../shared/data/fashion-mnist")
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int)
    args = parser.parse_args()
    torch.set_num_threads(1)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.which == "vit":
        path = train_vit(args.data, args.out, args.steps or 1500)
    else:
        path = train_lm(args.out, args.steps or 800)
    print(json.dumps({"checkpoint": str(path)}))


if __name__ == "__main__":
    main()
