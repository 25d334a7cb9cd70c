"""``accelsim train``: train a robust quantized model and write its checkpoint."""

import sys

__all__ = ["register", "format_summary"]


def register(subparsers):
    parser = subparsers.add_parser(
        "train", help="train a quantized model (normal, clipping, RandBET, SAQ, fault-aware, sparse)",
        description="Quantization-aware training of a reference architecture; the options combine "
                    "(e.g. RandBET with --clip). Writes one checkpoint that `accelsim sweep --model PATH` "
                    "and accelsim.load_model read. Rerunning an interrupted command resumes it from its "
                    "last epoch (state kept in PATH.resume).")
    parser.add_argument("--dataset", required=True,
                        help="digits | mnist:DIR | fashion-mnist:DIR | cifar10:DIR | text[:FILE] (a language "
                             "model: next-token loss, measured by perplexity)")
    parser.add_argument("--arch", required=True, help="architecture (digits-mlp, digits-cnn, lenet, ...)")
    parser.add_argument("--bits", type=int, help="bits per stored weight of a preset (default: 8); a number "
                                                  "format fixes its own width and refuses another --bits")
    parser.add_argument("--out", required=True, metavar="PATH", help="checkpoint to write (.pt)")
    parser.add_argument("--method", default="normal", help="normal | randbet | saq | advbet (default: normal)")
    parser.add_argument("--clip", type=float, metavar="W",
                        help="project every stored tensor onto [-W, W] after each step: weights, biases, "
                             "embedding tables, position embeddings; norm scales (BatchNorm, GroupNorm, "
                             "LayerNorm, RMSNorm) are trained as 1 + alpha with alpha in [-W, W], so each "
                             "scale lies in [1 - W, 1 + W]")
    parser.add_argument("--p-train", type=float, metavar="P", help="RandBET's bit error rate, e.g. 0.01 to 0.2")
    parser.add_argument("--fault-model", metavar="flip|sa0|sa1|profile:NAME@V",
                        help="RandBET's faults (default: flip)")
    parser.add_argument("--fault-chip", type=int, metavar="K",
                        help="train on the faults of chip K only (default: a fresh chip per step)")
    parser.add_argument("--act-sparsity", type=float, default=0.0, metavar="L",
                        help="weight of the L1 penalty on activations (default: 0)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs (default: 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation, data order, faults")
    parser.add_argument("--scheme", default="rquant",
                        help="quantization preset (rquant, normal, ...) or number format (int8, int4, int8-g32, "
                             "int4-g128, fp16, bf16, fp8-e4m3, fp8-e5m2, bfp-16, ...), trained and faulted as "
                             "the engine stores it (default: rquant)")
    parser.add_argument("--lr", type=float, default=0.05, help="initial learning rate (default: 0.05)")
    parser.add_argument("--lr-schedule", default="cosine", help="cosine | step (default: cosine)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    parser.add_argument("--momentum", type=float, default=0.9, help="Nesterov momentum (default: 0.9)")
    parser.add_argument("--weight-decay", type=float, default=5e-4, help="weight decay (default: 5e-4)")
    parser.add_argument("--saq-rho", type=float, default=0.1, help="SAQ's perturbation radius (default: 0.1)")
    parser.add_argument("--randbet-grad-clip", type=float, default=0.05,
                        help="bound of RandBET's perturbed gradient (default: 0.05)")
    parser.add_argument("--randbet-start-loss", type=float, metavar="L",
                        help="RandBET injects errors once a batch's clean loss is below L (default: from "
                             "the first step)")
    parser.add_argument("--adv-flips", type=int, metavar="K",
                        help="AdvBET's budget: stored bits an attacker flips per step (with --method advbet; "
                             "--p-train mixes in random errors)")
    parser.add_argument("--adv-steps", type=int, default=1, metavar="S",
                        help="AdvBET: rounds of its inner attack, each ranking bits at the weights flipped so "
                             "far (default: 1, a single step)")
    parser.add_argument("--train-limit", type=int, metavar="N", help="train on the first N examples only")
    parser.add_argument("--optimizer", default="sgd",
                        help="sgd (Nesterov momentum, the default) | adamw (decoupled --weight-decay, default "
                             "betas; --momentum unused)")
    parser.add_argument("--init", metavar="MODEL",
                        help="start from this zoo name or checkpoint (same --arch), e.g. RandBET fine-tuning "
                             "of a normally trained model (default: random initialisation)")
    parser.add_argument("--checkpoint-dtype", default="float32",
                        help="float32 | float16: type of the checkpoint's tensors; float16 halves the file and "
                             "the clean metric is measured after the rounding (default: float32)")
    parser.add_argument("--no-sharpness", action="store_true",
                        help="skip the sharpness measurement after training (a Hessian trace: on a large "
                             "model as costly as several epochs)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_run)


def _config(args):
    from accelsim.train import TrainConfig

    return TrainConfig(
        dataset=args.dataset, arch=args.arch, bits=args.bits, scheme=args.scheme, method=args.method,
        clip=args.clip, p_train=args.p_train, fault_model=args.fault_model, fault_chip=args.fault_chip,
        act_sparsity=args.act_sparsity, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        lr_schedule=args.lr_schedule, momentum=args.momentum, weight_decay=args.weight_decay,
        randbet_grad_clip=args.randbet_grad_clip, randbet_start_loss=args.randbet_start_loss, saq_rho=args.saq_rho, seed=args.seed,
        train_limit=args.train_limit, adv_flips=args.adv_flips, adv_steps=args.adv_steps,
        optimizer=args.optimizer, init=args.init, checkpoint_dtype=args.checkpoint_dtype,
        sharpness=not args.no_sharpness)


def format_summary(meta, path):
    """The lines printed after training."""
    sharpness = meta["sharpness"]
    sharp = ("sharpness: not measured (--no-sharpness)" if sharpness is None else
             f"sharpness: loss {sharpness['loss']:.4f}, max loss increase {sharpness['max_loss_increase']:.4f} "
             f"within {sharpness['radius'] * 100:g}% of the weights, Hessian trace {sharpness['hessian_trace']:.4g}")
    if meta.get("metric") == "perplexity":
        clean = (f"clean perplexity {meta['clean_perplexity']:.4f} (loss {meta['clean_loss']:.4f} nats per token; "
                 "quantized model, test split)")
    else:
        clean = f"clean accuracy {meta['clean_accuracy'] * 100:.2f}% (quantized model, test split)"
    return "\n".join([
        f"wrote {path}: {meta['name']} ({meta['method']}, {meta['bits']} bits, {meta['quant_scheme']})",
        clean,
        f"activation sparsity {meta['sparsity'] * 100:.1f}% of ReLU outputs are zero",
        sharp,
    ])


def _run(args):
    import math
    from pathlib import Path

    import torch

    from accelsim.cli._progress import ProgressBar
    from accelsim.train import TrainError, resume_path, train

    if args.threads is not None:
        if args.threads < 1:
            raise TrainError(f"--threads is {args.threads}; expected an integer >= 1")
        torch.set_num_threads(args.threads)
    config = _config(args)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise TrainError(f"--out {out}: folder {out.parent} does not exist; create it or choose another path")
    if resume_path(out).exists():
        print(f"resuming from {resume_path(out)}", file=sys.stderr)

    def describe(event):
        done = event.epoch * event.batches + event.batch
        if event.test_loss is not None:
            return (event.epochs * event.batches, done,
                    f"epoch {event.epoch + 1}/{event.epochs} test perplexity {math.exp(event.test_loss):.3f}")
        if event.test_accuracy is None:
            return event.epochs * event.batches, done, f"epoch {event.epoch + 1}/{event.epochs} loss {event.loss:.3f}"
        return (event.epochs * event.batches, done,
                f"epoch {event.epoch + 1}/{event.epochs} test {event.test_accuracy * 100:.1f}%")

    with ProgressBar("train", "batch", args.quiet, describe) as progress:
        result = train(config, out, progress=progress)
    print(format_summary(result.meta, result.path))
    return 0
