"""Settled points stop early: a point's images in chunks, until its accuracy is known.

With ``SweepSpec.adaptive``, the test set is shuffled once (seeded by the
sweep's seed) and each faulty point evaluates it in chunks of about 512
images. After each chunk the point's accuracy on the *whole* test set is
estimated with the clean model as a control variate: the clean quantized
model's accuracy on the whole set is known exactly (one clean pass per
model), and a faulty chip changes the correctness of few images, so

    accuracy ~= clean_accuracy + mean over the chunk images of (faulty_i - clean_i)

where ``faulty_i, clean_i`` are 1 when image ``i`` is classified correctly.
Images are a simple random sample without replacement, so the estimate is
unbiased for the full-set value and its 95% half-width is
``1.96 * sqrt(s2 / n * (N - n) / (N - 1))`` with the finite-population
correction; ``s2`` bounds the variance of ``faulty_i - clean_i`` by the
share of images whose correctness changed, smoothed as ``(k + 2) / (n + 4)``
so that a chunk without any change does not claim zero width.

A point stops when the half-width is at most ``halfwidth_pp`` points, or
when its accuracy is certainly below the reference's by more than
``tolerance_pp`` (upper end of its interval below ``reference - tolerance``);
otherwise it runs to the full set (half-width 0). Points whose read changes
no weight are the clean model: exact, no image is run.
"""

import math
from functools import lru_cache

import torch

__all__ = ["Z_95", "CHUNK_IMAGES", "halfwidth", "adaptive_inference", "shuffled", "reference_accuracy"]

Z_95 = 1.959963984540054
CHUNK_IMAGES = 512


def halfwidth(changed, n, total):
    """95% half-width (a fraction) of the paired estimate after ``n`` of ``total`` images.

    ``changed`` images of the ``n`` changed correctness against the clean model.
    """
    if n >= total:
        return 0.0
    second_moment = (changed + 2) / (n + 4)
    return Z_95 * math.sqrt(second_moment / n * (total - n) / (total - 1))


def shuffled(x, y, seed):
    """The test set in a random order drawn from ``seed`` (the order chunks take images)."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(int(seed)))
    return x[order], y[order]


@lru_cache(maxsize=4)
def _reference_accuracy(qm, x, y, batch_size):
    with torch.inference_mode():
        logits = torch.cat([qm.forward(batch) for batch in torch.split(x, batch_size)])
    return float((logits.argmax(dim=1) == y).double().mean())


def reference_accuracy(qm, x, y, batch_size):
    """Clean quantized accuracy of the reference model (cached per process, no activation cache)."""
    return _reference_accuracy(qm, x, y, batch_size)


def adaptive_inference(evaluator, vdd_v, clean_pred, y, batch_size, reference, tolerance_pp, halfwidth_pp):
    """The inference columns of one point, from as few chunks of images as settle it.

    Parameters
    ----------
    evaluator : accelsim.engine.Evaluator
        On the shuffled inputs, batches of ``batch_size``.
    vdd_v : float
    clean_pred, y : Tensor
        Clean predictions and labels of the shuffled inputs.
    batch_size : int
    reference : float
        Accuracy of the reference (the sweep's first model, clean).
    tolerance_pp, halfwidth_pp : float
        In percentage points.

    Returns
    -------
    dict
        ``faulty_cells, flipped_bits, model_ber, accuracy, error, robust_error,
        tiled, n_images, accuracy_halfwidth`` (accuracies as fractions).
    """
    total = len(y)
    n_batches = -(-total // batch_size)
    per_chunk = max(1, CHUNK_IMAGES // batch_size)
    clean_right = clean_pred == y
    clean_accuracy = float(clean_right.double().mean())
    clean_error = 1.0 - clean_accuracy
    n = changed = gained = broke = 0
    result = None
    for start in range(0, n_batches, per_chunk):
        batches = range(start, min(n_batches, start + per_chunk))
        result = evaluator.run(vdd_v, batches=batches)
        if not result.changed_tensors:  # the clean model: exact without running anything
            n, changed, gained, broke = total, 0, 0, 0
            break
        rows = slice(start * batch_size, min(total, batches.stop * batch_size))
        right = result.logits.argmax(dim=1) == y[rows]
        clean = clean_right[rows]
        n += len(right)
        changed += int((right != clean).sum())
        gained += int((right & ~clean).sum())
        broke += int((~right & clean).sum())
        width = halfwidth(changed, n, total)
        accuracy = clean_accuracy + (gained - broke) / n
        if width * 100 <= halfwidth_pp or (accuracy + width - reference) * 100 < -tolerance_pp:
            break
    accuracy = clean_accuracy + (gained - broke) / n
    return {"faulty_cells": result.faulty_cells, "flipped_bits": result.flipped_bits,
            "model_ber": float(result.model_ber), "accuracy": accuracy, "error": 1.0 - accuracy,
            # wrong now or wrong when clean: the clean errors plus the images a fault broke
            "robust_error": clean_error + broke / n, "tiled": result.tiled,
            "n_images": n, "accuracy_halfwidth": halfwidth(changed, n, total)}
