"""Train the model zoo shipped in accelsim/models/zoo, reproducibly.

Each model is one ``accelsim train`` run (this script calls the same library
function); ``--commands`` prints the equivalent command lines, which
accelsim/models/zoo/README.md records. Finished checkpoints are skipped and
interrupted runs resume from their last epoch, so the script can simply be
rerun (e.g. under ``nohup nice -n 10``).

Run: python benchmarks/train_zoo.py [--only NAME|digits|mnist|fashion|cifar10|text|vit|mobilenetv2|char-lm ...]
     [--mnist DIR] [--fashion-mnist DIR] [--cifar10 DIR] [--out DIR] [--threads N]

The number-format models (issue 10: a ViT, a MobileNetV2 and the char-level
LM, each in ``int8`` per-channel and ``int4-g128``, normal and RandBET) are
trained in the order listed: each RandBET model starts from the normal model
of its format (``init``), so the normal one must exist first (the script's
order sees to that).
"""

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path

import torch

from accelsim.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "accelsim" / "models" / "zoo"
MNIST = ROOT.parent / "shared" / "data" / "mnist"
FASHION_MNIST = ROOT.parent / "shared" / "data" / "fashion-mnist"
CIFAR10 = ROOT.parent / "shared" / "data" / "cifar-10-subset"
# Datasets given by folder: the default folder, and the one the printed commands use.
_FOLDERS = {"fashion-mnist": "../shared/data/fashion-mnist", "cifar10": "../shared/data/cifar-10-subset"}

# digits: 80 epochs of 7 batches (797 training images; seconds per model). Clipping at 0.1; RandBET
# with the same clip and p = 5%; SAQ with rho = 0.1 (the original's 0.4-0.5 keeps
# these small networks at chance).
_DIGITS = dict(dataset="digits", arch="digits-cnn", epochs=80)
# MNIST: LeNet-5 as the plain baseline; the robust models use LeNet-5 with group
# normalisation (lenet-gn), which plain LeNet lacks: without it a clip of 0.025 leaves
# LeNet at chance. 10 epochs of 469 batches; RandBET as Stutz et al. (W = 0.05, p = 10%).
_MNIST = dict(epochs=10)

# Stutz et al.'s setting (MLSys 2021): a SimpleNet-style network with group
# normalisation, here `mnist-simplenet-s` (29 k weights, the width a CPU shared
# by several jobs trains in minutes), on MNIST and on Fashion-MNIST. Clipping at
# W = 0.05 (also 0.1 and 0.025 on MNIST); RandBET with W = 0.1, p = 10% (MNIST)
# or 5% (Fashion-MNIST) flips per bit, a fresh chip per step, injecting errors
# once a batch's clean loss is below 1.75 (Stutz et al.'s start criterion).
# Every SimpleNet model trains 15 epochs (RandBET 8: two passes per step), about
# 30 CPU-seconds per epoch, except MNIST's normal 8-bit model: 30 epochs, which
# bring its clean error to 0.50% (15 gave 0.65%; the paper's is about 0.4%).
# Fashion-MNIST's normal model reaches 91.64%. (The first schedule, `_SN`, was
# 2 epochs, which a CPU shared by seven jobs allowed.)
_SN = dict(arch="mnist-simplenet-s", epochs=2)
_SN_LONG = dict(_SN, epochs=15)
_RANDBET = dict(method="randbet", clip=0.1, randbet_start_loss=1.75, epochs=8)
_SIMPLENET_MODELS = {
    "mnist-simplenet-normal-8b": dict(_SN_LONG, epochs=30),
    "mnist-simplenet-clipping-8b": dict(_SN_LONG, clip=0.05),
    "mnist-simplenet-randbet-8b": dict(_SN_LONG, **_RANDBET, p_train=0.1),
    "fashion-mnist-simplenet-normal-8b": dict(_SN_LONG, dataset="fashion-mnist"),
    "fashion-mnist-simplenet-clipping-8b": dict(_SN_LONG, dataset="fashion-mnist", clip=0.05),
    "fashion-mnist-simplenet-randbet-8b": dict(_SN_LONG, dataset="fashion-mnist", **_RANDBET, p_train=0.05),
    "mnist-simplenet-randbet-4b": dict(_SN_LONG, **_RANDBET, p_train=0.1, bits=4),
    "mnist-simplenet-normal-4b": dict(_SN_LONG, bits=4),
    "mnist-simplenet-clipping-4b": dict(_SN_LONG, clip=0.05, bits=4),
    "mnist-simplenet-clipping0.1-8b": dict(_SN_LONG, clip=0.1),
    "mnist-simplenet-clipping0.025-8b": dict(_SN_LONG, clip=0.025),
    "mnist-simplenet-clipping0.1-4b": dict(_SN_LONG, clip=0.1, bits=4),
    "mnist-simplenet-clipping0.025-4b": dict(_SN_LONG, clip=0.025, bits=4),
}

# SAQ at 4 bits: with rho = 0.1 on the 797 training images the loss never leaves ln 10 (10.1%
# clean accuracy, seeds 0 and 1); rho = 0.05 trains (95.4%).
_SAQ_RHO = {8: 0.1, 4: 0.05}

ZOO_MODELS = {
    **{f"digits-cnn-{label}-{bits}b": dict(_DIGITS, bits=bits, **options)
       for bits in (8, 4)
       for label, options in (("normal", {}),
                              ("clipping", dict(clip=0.1)),
                              ("randbet", dict(method="randbet", clip=0.1, p_train=0.05)),
                              ("saq", dict(method="saq", saq_rho=_SAQ_RHO[bits])))},
    "mnist-lenet-normal-8b": dict(_MNIST, arch="lenet"),
    "mnist-lenet-gn-normal-8b": dict(_MNIST, arch="lenet-gn"),
    "mnist-lenet-gn-clipping-8b": dict(_MNIST, arch="lenet-gn", clip=0.025),
    "mnist-lenet-gn-randbet-8b": dict(_MNIST, arch="lenet-gn", method="randbet", clip=0.05, p_train=0.1),
    "mnist-lenet-gn-randbet-4b": dict(_MNIST, arch="lenet-gn", method="randbet", clip=0.05, p_train=0.1,
                                      bits=4),
    **_SIMPLENET_MODELS,
    # AdvBET (Stutz et al., TPAMI 2022) with RandBET's clip and random errors mixed in: 20 chosen flips per step.
    "mnist-lenet-gn-advbet-8b": dict(_MNIST, arch="lenet-gn", method="advbet", clip=0.05, adv_flips=20,
                                     p_train=0.1),
}

# Number formats (issue 10): int8 per-channel (codes in the weight memory, scales in the controller) and int4
# with groups of 128 along the input (codes, zero points and FP16 scales all in the weight memory, where
# RandBET's faults hit them too). Short CPU schedules (the machine was
# shared by four jobs on two cores): AdamW, a cosine schedule, float16 checkpoints (the clean metric is measured
# after that rounding). RandBET fine-tunes the normal model of the same format (init) with random bit flips at
# rate p_train on every stored bit, without clipping (with a scale per channel or group a flipped code errs by
# at most its own channel's or group's range).
_FORMATS = ("int8", "int4-g128")
_WAVE2 = dict(optimizer="adamw", checkpoint_dtype="float16")
_WAVE2_ARCHS = {
    # name stem: (normal training, RandBET fine-tuning). CPU seconds per step on one core: ViT 0.08 (batch 128),
    # MobileNetV2 0.85 (batch 128), char-LM 0.18 (batch 32); RandBET about twice that.
    "fashion-mnist-vit": (dict(_WAVE2, dataset="fashion-mnist", arch="mnist-vit", epochs=3, lr=2e-3,
                               weight_decay=0.05),
                          dict(epochs=1, train_limit=20000, lr=5e-4, p_train=0.01)),
    "cifar10-mobilenetv2": (dict(_WAVE2, dataset="cifar10", arch="cifar-mobilenetv2", epochs=8, lr=3e-3,
                                 weight_decay=0.05),
                            dict(epochs=2, lr=5e-4, p_train=0.01)),
    "text-char-lm": (dict(_WAVE2, dataset="text", arch="char-lm", epochs=4, batch_size=32, lr=2e-3,
                          weight_decay=0.01),
                     dict(epochs=1, lr=5e-4, p_train=0.01)),
}
# The CPU ran out (four jobs on two cores): the INT4 MobileNetV2 and char-LM are quantization-aware fine-tunings
# of the INT8 normal model (init), one epoch at a lower learning rate, and those models and the LM skip the
# sharpness measurement (a Hessian trace that cost a MobileNetV2 as much as two epochs).
_INT4_FROM_INT8 = {"cifar10-mobilenetv2": dict(epochs=1, lr=1e-3), "text-char-lm": dict(epochs=1, lr=5e-4)}
_NO_SHARPNESS = ("cifar10-mobilenetv2-normal-int4-g128", "cifar10-mobilenetv2-randbet-int4-g128",
                 "text-char-lm-randbet-int8", "text-char-lm-normal-int4-g128", "text-char-lm-randbet-int4-g128")


def _wave2_models():
    models = {}
    for stem, (normal, randbet) in _WAVE2_ARCHS.items():
        for scheme in _FORMATS:
            start = dict(normal, scheme=scheme)
            if scheme != "int8" and stem in _INT4_FROM_INT8:
                start.update(init=f"{stem}-normal-int8", **_INT4_FROM_INT8[stem])
            models[f"{stem}-normal-{scheme}"] = start
            models[f"{stem}-randbet-{scheme}"] = dict(start, method="randbet", init=f"{stem}-normal-{scheme}",
                                                      **randbet)
    for name in _NO_SHARPNESS:
        models[name]["sharpness"] = False
    return models


ZOO_MODELS.update(_wave2_models())

_FLAGS = {"p_train": "--p-train", "fault_model": "--fault-model", "act_sparsity": "--act-sparsity",
          "batch_size": "--batch-size", "saq_rho": "--saq-rho", "randbet_start_loss": "--randbet-start-loss"}


def config_for(name, mnist_dir=MNIST, fashion_dir=FASHION_MNIST, cifar_dir=CIFAR10):
    """The TrainConfig of zoo model ``name``."""
    options = dict(ZOO_MODELS[name])
    folders = {"fashion-mnist": fashion_dir, "cifar10": cifar_dir}
    if options.get("dataset") in folders:
        options["dataset"] = f"{options['dataset']}:{folders[options['dataset']]}"
    options.setdefault("dataset", f"mnist:{mnist_dir}")
    return TrainConfig(**options)


def command_for(name):
    """The ``accelsim train`` command line that makes zoo model ``name``."""
    options = dict(ZOO_MODELS[name])
    if options.get("dataset") in _FOLDERS:
        options["dataset"] = f"{options['dataset']}:{_FOLDERS[options['dataset']]}"
    options.setdefault("dataset", "mnist:../shared/data/mnist")
    words = ["accelsim", "train"]
    for key, value in options.items():
        if key == "sharpness":  # a switch: --no-sharpness
            words += [] if value else ["--no-sharpness"]
            continue
        words += [_FLAGS.get(key, "--" + key.replace("_", "-")), str(value)]
    return shlex.join(words + ["--out", f"accelsim/models/zoo/{name}.pt"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="zoo names, or digits / mnist / fashion / cifar10 / text (first word of the name), "
                             "or vit / mobilenetv2 / char-lm (architecture)")
    parser.add_argument("--mnist", type=Path, default=MNIST, help="folder of the MNIST IDX files")
    parser.add_argument("--fashion-mnist", type=Path, default=FASHION_MNIST,
                        help="folder of the Fashion-MNIST IDX files")
    parser.add_argument("--cifar10", type=Path, default=CIFAR10,
                        help="folder holding cifar-10-batches-py (the CIFAR-10 subset)")
    parser.add_argument("--out", type=Path, default=ZOO, help="folder of the checkpoints")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    parser.add_argument("--commands", action="store_true", help="print the accelsim train commands and exit")
    args = parser.parse_args(argv)
    selected = [name for name in ZOO_MODELS
                if not args.only or name in args.only or name.split("-")[0] in args.only
                or any(f"-{word}-" in name for word in args.only)]
    if args.commands:
        for name in selected:
            print(command_for(name))
        return 0
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in selected:
        out = args.out / f"{name}.pt"
        if out.exists():
            print(f"{name}: exists, skipped", flush=True)
            continue
        start = time.perf_counter()

        def report(event, name=name):
            if event.test_accuracy is not None:
                print(f"{name}: epoch {event.epoch + 1}/{event.epochs} loss {event.loss:.4f} "
                      f"test accuracy {event.test_accuracy:.4f}", flush=True)
            elif event.test_loss is not None:
                print(f"{name}: epoch {event.epoch + 1}/{event.epochs} loss {event.loss:.4f} "
                      f"test loss {event.test_loss:.4f}", flush=True)

        config = config_for(name, args.mnist, args.fashion_mnist, args.cifar10)
        if config.init is not None and args.out.resolve() != ZOO.resolve():  # start from this run's own model
            config = dataclasses.replace(config, init=str(args.out / f"{config.init}.pt"))
        result = train(config, out=out, progress=report)
        meta = result.meta
        clean = (f"clean perplexity {meta['clean_perplexity']:.4f}" if meta["metric"] == "perplexity"
                 else f"clean accuracy {meta['clean_accuracy']:.4f}")
        print(f"{name}: {clean}, {time.perf_counter() - start:.0f} s, {out.stat().st_size / 1024:.0f} kB",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
