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

__all__ = ["Z_95", "CHUNK_IMAGES", "halfwidth", "adaptive_inference", "adaptive_points", "shuffled",
           "reference_accuracy"]

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


class _Tally:
    """One point's paired counts against the clean model, chunk after chunk."""

    def __init__(self, total, clean_right):
        self.total, self.clean_right = total, clean_right
        self.clean_accuracy = float(clean_right.double().mean())
        self.n = self.changed = self.gained = self.broke = 0

    def add(self, result, rows, y, reference, tolerance_pp, halfwidth_pp):
        """Count one chunk's images (``rows`` of the shuffled set); True when the point is settled."""
        if not result.changed_tensors:  # the clean model: exact without running anything
            self.n, self.changed, self.gained, self.broke = self.total, 0, 0, 0
            return True
        right = result.logits.argmax(dim=1) == y[rows]
        clean = self.clean_right[rows]
        self.n += len(right)
        self.changed += int((right != clean).sum())
        self.gained += int((right & ~clean).sum())
        self.broke += int((~right & clean).sum())
        width = halfwidth(self.changed, self.n, self.total)
        accuracy = self.clean_accuracy + (self.gained - self.broke) / self.n
        return (self.n >= self.total or width * 100 <= halfwidth_pp
                or (accuracy + width - reference) * 100 < -tolerance_pp)

    def columns(self, result):
        accuracy = self.clean_accuracy + (self.gained - self.broke) / self.n
        return {"faulty_cells": result.faulty_cells, "flipped_bits": result.flipped_bits,
                "model_ber": float(result.model_ber), "accuracy": accuracy, "error": 1.0 - accuracy,
                # wrong now or wrong when clean: the clean errors plus the images a fault broke
                "robust_error": 1.0 - self.clean_accuracy + self.broke / self.n, "tiled": result.tiled,
                "n_images": self.n, "accuracy_halfwidth": halfwidth(self.changed, self.n, self.total)}


def _chunks(total, batch_size):
    """Ranges of batch indices, about :data:`CHUNK_IMAGES` images each, and their rows."""
    n_batches = -(-total // batch_size)
    per_chunk = max(1, CHUNK_IMAGES // batch_size)
    for start in range(0, n_batches, per_chunk):
        batches = range(start, min(n_batches, start + per_chunk))
        yield batches, slice(start * batch_size, min(total, batches.stop * batch_size))


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
    tally = _Tally(len(y), clean_pred == y)
    for batches, rows in _chunks(len(y), batch_size):
        result = evaluator.run(vdd_v, batches=batches)
        if tally.add(result, rows, y, reference, tolerance_pp, halfwidth_pp):
            break
    return tally.columns(result)


def adaptive_points(points, clean_pred, y, batch_size, reference, tolerance_pp, halfwidth_pp):
    """:func:`adaptive_inference` of every read point, the unsettled points together.

    ``points`` come from :func:`accelsim.engine.multipoint.read_points`
    (evaluators sharing one clean pass, e.g. the chips of one model), read
    once and run chunk after chunk: each chunk of images runs the points not
    yet settled in one :func:`~accelsim.engine.multipoint.iter_read_points`
    pass (their first faulty layer stacked), whose logits are bit for bit a
    point's alone, so each point's columns equal :func:`adaptive_inference`'s.

    Yields
    ------
    (int, dict)
        The point's index and its columns, as each point settles.
    """
    from accelsim.engine.multipoint import iter_read_points

    tallies = [_Tally(len(y), clean_pred == y) for _ in points]
    active = list(range(len(points)))
    for batches, rows in _chunks(len(y), batch_size):
        if not active:
            return
        unsettled = []
        for j, result in iter_read_points([points[i] for i in active], batches):
            i = active[j]
            if tallies[i].add(result, rows, y, reference, tolerance_pp, halfwidth_pp):
                yield i, tallies[i].columns(result)
            else:
                unsettled.append(i)
        active = sorted(unsettled)
