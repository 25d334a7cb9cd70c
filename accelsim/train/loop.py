"""The training loop: epochs of SGD steps, resumable, reporting through a callback.

Everything random derives from the seed (initialisation, the data order of
each epoch, the fault chips), and the data order of an epoch depends only on
``(seed, epoch)``: a run resumed from its side file ends with the very weights
of an uninterrupted one.
"""

import dataclasses
import functools
import json
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from accelsim._version import __version__
from accelsim.data import load_dataset
from accelsim.engine import QuantizedModel
from accelsim.models import build
from accelsim.models.checkpoint import META_SCHEMA_VERSION, save_checkpoint
from accelsim.train import methods
from accelsim.train.config import TrainConfig, TrainError
from accelsim.train.faults import TrainingFaults, parse_fault_model
from accelsim.train.qat import QatModel
from accelsim.train.sharpness import measure_sharpness

__all__ = ["TrainProgress", "TrainResult", "train", "resume_path", "default_name", "lr_at", "evaluate_accuracy",
           "evaluate_loss", "activation_sparsity", "SLICE_EXAMPLES"]

_EVAL_BATCH = 2048
SLICE_EXAMPLES = 256
_SHARPNESS_EXAMPLES = 256
_EXAMPLE_INPUTS = 8
_STEP_MILESTONES = (0.5, 0.75)


@dataclass(frozen=True)
class TrainProgress:
    """Where a run is, passed to the progress callback after every batch.

    Attributes
    ----------
    epoch : int
        Current epoch, from 0.
    epochs : int
    batch : int
        Batches done in this epoch, from 1.
    batches : int
        Batches per epoch.
    loss : float
        Loss of this batch on the clean quantized weights.
    test_accuracy : float or None
        Accuracy of the quantized model on the test split, after the last batch of an epoch
        (a classifier's; None for a language model).
    test_loss : float or None
        A language model's next-token cross-entropy (nats per token) on the
        test split, after the last batch of an epoch (None for a classifier).
    """

    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    test_accuracy: float | None = None
    test_loss: float | None = None


@dataclass(frozen=True)
class TrainResult:
    """A finished run.

    Attributes
    ----------
    state_dict : dict of str to Tensor
        Loads into ``accelsim.models.build(config.arch)``.
    meta : dict
        The checkpoint meta.
    history : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``test_accuracy``, ``lr``, and
        ``test_loss`` for a language model (whose ``test_accuracy`` is None).
    path : Path or None
        The checkpoint written, if any.
    """

    state_dict: dict
    meta: dict
    history: list = field(default_factory=list)
    path: Path | None = None


def resume_path(out):
    """Side file holding the state after the last finished epoch of a run writing ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".resume")


def default_name(config):
    """Zoo-style name ``<dataset>-<arch>-<method>-<bits>b``, the arch without its dataset prefix.

    A number format replaces ``<bits>b`` with its name (``digits-mlp-normal-int4-g32``).
    """
    arch = config.arch.removeprefix(config.dataset_name + "-")
    precision = config.scheme if config.is_format else f"{config.bits}b"
    return f"{config.dataset_name}-{arch}-{config.method_label}-{precision}"


def lr_at(config, step, steps_per_epoch):
    """Learning rate of global ``step``: cosine decay per step, or tenfold drops at 50% and 75%."""
    total = config.epochs * steps_per_epoch
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * step / total))
    drops = sum(step >= milestone * total for milestone in _STEP_MILESTONES)
    return config.lr * 0.1**drops


def train(config, out=None, progress=None):
    """Train a model as ``config`` says; write its checkpoint to ``out``.

    Parameters
    ----------
    config : TrainConfig
    out : str or Path, optional
        Checkpoint to write. After each epoch the state goes to
        :func:`resume_path` ``(out)``; a run finding that file (of the same
        config) continues from it, and removes it once the checkpoint is written.
    progress : callable, optional
        Called with a :class:`TrainProgress` after every batch.

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainError
        Bad config, or a side file of another config.
    """
    if not isinstance(config, TrainConfig):
        raise TrainError(f"config must be a TrainConfig, got {type(config).__name__}")
    x_train, y_train = load_dataset(config.dataset, "train", limit=config.train_limit)
    x_test, y_test = load_dataset(config.dataset, "test")
    scheme = config.quant_scheme
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        module = build(config.arch)
    if config.init is not None:
        _load_init(config, module)
    # Importing into the engine first fails fast on an unsupported model and
    # gives the memory order of the parameters.
    names = QuantizedModel.from_torch(module, scheme, x_train[:2]).tensor_names
    model = QatModel(module, scheme, names, reparameterise_norms=config.clip is not None)
    if config.clip is not None:
        model.project(config.clip)
    optimizer = _optimizer(config, module)
    start_epoch, history = _resume(config, out, module, optimizer)
    step_fn = _step_function(config, history)
    batches = math.ceil(len(x_train) / config.batch_size)
    for epoch in range(start_epoch, config.epochs):
        loss = _train_epoch(config, model, optimizer, step_fn, x_train, y_train, epoch, batches, progress)
        with torch.no_grad():
            weights = model.quantize().values
        forward = functools.partial(model.forward, weights=weights)
        entry = {"epoch": epoch, "train_loss": loss, "test_accuracy": None,
                 "lr": lr_at(config, epoch * batches, batches)}
        if y_test is None:
            entry["test_loss"] = evaluate_loss(forward, module, x_test)
        else:
            entry["test_accuracy"] = evaluate_accuracy(forward, module, x_test, y_test)
        history.append(entry)
        if progress is not None:
            progress(TrainProgress(epoch, config.epochs, batches, batches, loss, entry["test_accuracy"],
                                   entry.get("test_loss")))
        if out is not None:
            _save_resume(config, out, epoch + 1, module, optimizer, history)
    return _finish(config, model, history, out, (x_train, y_train), (x_test, y_test))


def _optimizer(config, module):
    if config.optimizer == "adamw":
        return torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(module.parameters(), lr=config.lr, momentum=config.momentum, nesterov=True,
                           weight_decay=config.weight_decay)


def _load_init(config, module):
    """Load ``config.init``'s weights (a zoo name or checkpoint of the same architecture) into ``module``."""
    from accelsim.models.checkpoint import load_checkpoint
    from accelsim.models.zoo import model_path

    path = model_path(config.init)
    state_dict, meta = load_checkpoint(path)
    if meta["arch"] != config.arch:
        raise TrainError(f"init {config.init!r} is a {meta['arch']!r} model, not {config.arch!r}; start from a "
                         f"checkpoint of arch {config.arch!r}")
    try:
        module.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise TrainError(f"init {config.init!r} does not fit architecture {config.arch!r}: {exc}") from None


def _step_function(config, history=()):
    objective_args = dict(act_sparsity=float(config.act_sparsity))
    faults = None
    if config.method in ("randbet", "advbet") and config.fault_model is not None:
        faults = TrainingFaults(parse_fault_model(config.fault_model), config.p_train, config.fault_chip,
                                config.seed)
    # RandBET's start: errors once a batch's clean loss falls below the threshold
    # (a resumed run has started if any finished epoch's mean loss was below it).
    threshold = config.randbet_start_loss
    injecting = [threshold is None or any(entry["train_loss"] < threshold for entry in history)]

    def step(model, x, y, global_step):
        with methods.ActivationRecorder(model.module) as recorder:
            objective = methods.Objective(recorder=recorder, **objective_args)
            if config.method == "randbet" and injecting[0]:
                return methods.randbet_step(model, objective, x, y, faults, global_step, config.randbet_grad_clip)
            if config.method == "advbet":
                return methods.advbet_step(model, objective, x, y, config.adv_flips, config.randbet_grad_clip,
                                           faults, global_step, config.adv_steps)
            if config.method == "randbet":
                result = methods.normal_step(model, objective, x, y)
                injecting[0] = result.loss < threshold
                return result
            if config.method == "saq":
                return methods.saq_step(model, objective, x, y, config.saq_rho)
            return methods.normal_step(model, objective, x, y)

    return step


def _train_epoch(config, model, optimizer, step_fn, x, y, epoch, batches, progress):
    model.module.train()
    order = torch.from_numpy(np.random.default_rng([config.seed, epoch]).permutation(len(x)))
    losses = []
    for b in range(batches):
        index = order[b * config.batch_size:(b + 1) * config.batch_size]
        global_step = epoch * batches + b
        for group in optimizer.param_groups:
            group["lr"] = lr_at(config, global_step, batches)
        result = step_fn(model, x[index], None if y is None else y[index], global_step)
        for p, g in zip(model.parameters.values(), result.grads, strict=True):
            p.grad = g
        optimizer.step()
        if config.clip is not None:
            model.project(config.clip)
        losses.append(result.loss)
        if progress is not None and b + 1 < batches:
            progress(TrainProgress(epoch, config.epochs, b + 1, batches, result.loss))
    return float(np.mean(losses))


@torch.no_grad()
def evaluate_accuracy(forward, module, x, y):
    """Accuracy of ``forward`` on ``(x, y)``, in batches, with ``module`` in inference mode."""
    was_training = module.training
    module.eval()
    try:
        correct = sum(int((forward(xb).argmax(1) == yb).sum())
                      for xb, yb in zip(torch.split(x, _EVAL_BATCH), torch.split(y, _EVAL_BATCH), strict=True))
    finally:
        module.train(was_training)
    return correct / len(y)


@torch.no_grad()
def evaluate_loss(forward, module, x, y=None):
    """Mean cross-entropy of ``forward`` on ``x`` (a causal LM's next-token loss when ``y`` is None).

    Summed in float64 over batches and divided by the number of predictions,
    so it equals the sweep's ``loss`` metric on the whole of ``x``.
    """
    was_training = module.training
    module.eval()
    total, count = 0.0, 0
    try:
        for i, xb in enumerate(torch.split(x, _EVAL_BATCH)):
            yb = None if y is None else y[i * _EVAL_BATCH:(i + 1) * _EVAL_BATCH]
            logits = forward(xb).double()
            n = xb.shape[0] * (xb.shape[1] - 1) if y is None else len(yb)
            total += float(methods.cross_entropy(logits, xb, yb)) * n
            count += n
    finally:
        module.train(was_training)
    return total / count


@torch.no_grad()
def activation_sparsity(module, x):
    """Fraction of ReLU outputs that are exactly zero over the inputs ``x`` (inference mode)."""
    zeros = total = 0
    module.eval()
    with methods.ActivationRecorder(module) as recorder:
        for xb in torch.split(x, _EVAL_BATCH):
            recorder.clear()
            module(xb)
            zeros += sum(int((a == 0).sum()) for a in recorder.outputs)
            total += sum(a.numel() for a in recorder.outputs)
    return zeros / total if total else 0.0


def _finish(config, model, history, out, train_data, test_data):
    state_dict = model.deployed_state_dict()
    if config.checkpoint_dtype == "float16":  # rounded before anything is measured
        state_dict = {k: v.half() if v.is_floating_point() else v for k, v in state_dict.items()}
    deployed = build(config.arch)
    deployed.load_state_dict(state_dict)
    x_test, y_test = test_data
    qm = QuantizedModel.from_torch(deployed, config.quant_scheme, x_test[:_EXAMPLE_INPUTS])
    reference = qm.reference_module()
    x_sharp = train_data[0][:_SHARPNESS_EXAMPLES]
    y_sharp = None if train_data[1] is None else train_data[1][:_SHARPNESS_EXAMPLES]
    meta = _meta(config, out, qm, history, **_clean_metric(qm, deployed, x_test, y_test),
                 sparsity=activation_sparsity(reference, x_test),
                 sharpness=(measure_sharpness(reference, x_sharp, y_sharp, seed=config.seed).to_dict()
                            if config.sharpness else None),
                 n_train=len(train_data[0]), n_test=len(x_test))
    path = None
    if out is not None:
        path = save_checkpoint(out, state_dict, meta)
        resume_path(out).unlink(missing_ok=True)
    return TrainResult(state_dict=state_dict, meta=meta, history=history, path=path)


def _clean_metric(qm, module, x, y):
    """The quantized model's clean metric on the test split, and on its first :data:`SLICE_EXAMPLES`.

    A classifier: ``metric`` ``accuracy`` and ``clean_accuracy``. A language
    model (``y`` None): ``metric`` ``perplexity``, ``clean_loss`` (nats per
    token) and ``clean_perplexity``, with ``clean_accuracy`` None.
    ``clean_metric_slice`` holds the metric on the first examples only, which
    a quick test can check exactly.
    """
    x_slice = x[:SLICE_EXAMPLES]
    if y is None:
        loss = evaluate_loss(qm.forward, module, x)
        slice_value = math.exp(evaluate_loss(qm.forward, module, x_slice))
        measured = {"metric": "perplexity", "clean_accuracy": None, "clean_loss": loss,
                    "clean_perplexity": math.exp(loss)}
    else:
        slice_value = evaluate_accuracy(qm.forward, module, x_slice, y[:SLICE_EXAMPLES])
        measured = {"metric": "accuracy", "clean_accuracy": evaluate_accuracy(qm.forward, module, x, y)}
    slice_metric = {"metric": measured["metric"], "examples": len(x_slice), "value": slice_value}
    return {**measured, "clean_metric_slice": slice_metric}


def _meta(config, out, qm, history, **measured):
    return {
        "schema_version": META_SCHEMA_VERSION,
        "name": Path(out).stem if out is not None else default_name(config),
        "arch": config.arch,
        "dataset": config.dataset_name,
        "bits": config.bits,
        "quant_scheme": qm.scheme.name,
        "scheme": qm.scheme.to_dict(),
        "method": config.method_label,
        "clip": config.clip,
        "p_train": config.p_train,
        "fault_model": config.fault_model,
        "fault_chip": config.fault_chip,
        "adv_flips": config.adv_flips,
        "act_sparsity": config.act_sparsity,
        "epochs": config.epochs,
        "seed": config.seed,
        **measured,
        "history": history,
        "config": config.to_dict(),
        "versions": {"accelsim": __version__, "torch": torch.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }


def _resume(config, out, module, optimizer):
    if out is None or not resume_path(out).exists():
        return 0, []
    path = resume_path(out)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        saved = json.loads(state["config"])
    except Exception as exc:  # a damaged side file: say which and how to proceed
        raise TrainError(f"cannot read the resume file {path} ({type(exc).__name__}: {exc}); delete it to "
                         "start over") from None
    # A key the saved config lacks (added to TrainConfig since) counts as its default.
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    current = config.to_dict()
    changed = sorted(k for k in saved.keys() | current.keys() if saved.get(k, defaults.get(k)) != current.get(k))
    if changed:
        raise TrainError(f"{path} resumes a run with other settings ({', '.join(changed)} differ); rerun "
                         "with the same arguments, or delete it to start over")
    module.load_state_dict(state["module"])
    optimizer.load_state_dict(state["optimizer"])
    return int(state["epoch"]), json.loads(state["history"])


def _save_resume(config, out, epoch, module, optimizer, history):
    path = resume_path(out)
    state = {"config": json.dumps(config.to_dict()), "epoch": epoch, "module": module.state_dict(),
             "optimizer": optimizer.state_dict(), "history": json.dumps(history)}
    partial = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, partial)
        partial.replace(path)
    except OSError as exc:
        raise TrainError(f"cannot write the resume file {path} ({exc.strerror}); choose a writable --out") from None
