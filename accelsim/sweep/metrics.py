"""The quality of one inference pass: accuracy, top-5, loss or perplexity.

A classifier's logits are ``N x C`` with integer labels ``y``. A causal
language model's logits are next-token logits ``N x T x V``: position ``t``
predicts token ``t + 1`` of the same window, so a text dataset needs no
labels (``y is None``) for ``loss`` (mean cross-entropy in nats per token)
and ``perplexity`` (``exp(loss)``); ``accuracy`` and ``top5`` need labels.
Non-finite logits (a flipped floating-point exponent) propagate: the loss
becomes inf or NaN, as the hardware's would.

The robust version of a metric counts an example as wrong when it is wrong
under faults *or* in the clean model (Stutz et al.'s robust error); it is
defined for ``accuracy`` and ``top5`` (``robust_error``), not for the loss.
"""

import math

import torch.nn.functional as F

from accelsim._errors import UserInputError

__all__ = ["METRICS", "MetricError", "check_metric", "metric_value", "robust_error", "correct"]

METRICS = ("accuracy", "top5", "loss", "perplexity")
_NEEDS_LABELS = ("accuracy", "top5")


class MetricError(UserInputError):
    """A metric that does not exist or does not fit the data."""


def check_metric(metric, has_labels=True, where="--metric"):
    """Return ``metric`` if it is known and fits a dataset with or without labels."""
    if metric not in METRICS:
        raise MetricError(f"{where} = {metric!r}: expected one of {', '.join(METRICS)}")
    if metric in _NEEDS_LABELS and not has_labels:
        raise MetricError(f"{where} = {metric!r} needs labels, and this dataset has none (a language model's "
                          "text); use --metric loss or --metric perplexity")
    return metric


def _pairs(logits, x, y):
    """(N x classes logits, N targets) for a classifier or a causal language model."""
    if logits.ndim == 3:
        if y is None:
            return logits[:, :-1].reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1)
        return logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
    if y is None:
        raise MetricError("a classifier's logits need labels; this dataset has none")
    return logits, y


def correct(metric, logits, x, y):
    """Per-prediction bool tensor: label is the top-1 (``accuracy``) or in the top 5 (``top5``)."""
    check_metric(metric, y is not None)
    scores, targets = _pairs(logits, x, y)
    if metric == "accuracy":
        return scores.argmax(dim=1) == targets
    k = min(5, scores.shape[1])
    return (scores.topk(k, dim=1).indices == targets[:, None]).any(dim=1)


def metric_value(metric, logits, x, y):
    """The value of ``metric`` for ``logits`` of inputs ``x`` (labels ``y``, or None for text).

    Returns
    -------
    float
        Accuracy or top-5 accuracy in [0, 1]; loss in nats per prediction;
        perplexity ``exp(loss)`` (inf or NaN when faults made logits so).
    """
    check_metric(metric, y is not None)
    if metric in _NEEDS_LABELS:
        return float(correct(metric, logits, x, y).double().mean())
    scores, targets = _pairs(logits, x, y)
    loss = float(F.cross_entropy(scores.double(), targets))
    return loss if metric == "loss" else (math.exp(loss) if loss < 709 else math.inf)


def robust_error(metric, logits, clean_logits, x, y):
    """Share of predictions wrong under faults or in the clean model (``accuracy``, ``top5`` only)."""
    if metric not in _NEEDS_LABELS:
        raise MetricError(f"the robust error is defined for accuracy and top5, not {metric!r}")
    wrong = ~correct(metric, logits, x, y) | ~correct(metric, clean_logits, x, y)
    return float(wrong.double().mean())
