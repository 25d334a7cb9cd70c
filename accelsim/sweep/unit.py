"""One unit of sweep work: one (model, profile, chip) with all its voltages.

A unit runs wherever an executor puts it. It loads the profile, model and
data itself from the spec (cached per process), so nothing large is pickled.
Voltages run from high to low; a voltage that adds no faulty cell to the
model's footprint reuses the previous point's inference columns (the faulty
set is nested, so the read is the same), and every faulty read re-runs only
the layers from the first faulty one on.
"""

import math
import os
from functools import lru_cache
from pathlib import Path

import torch

from accelsim._errors import UserInputError
from accelsim.accel import default_accelerator
from accelsim.data import load_dataset
from accelsim.engine import sparse
from accelsim.engine.sparse import release_freed_memory
from accelsim.models import load_model, model_path
from accelsim.sram import load_profile
from accelsim.sram._lookup import resolve_profile
from accelsim.sweep import metrics
from accelsim.sweep.inputs import ENTRY_PATTERN, TensorData, build_model
from accelsim.sweep.spec import DEFAULT_MODULE_SCHEME, SweepError

__all__ = ["run_unit", "run_chips", "release_model", "lowest_weight_v", "model_label", "load_unit_inputs",
           "unit_points", "model_banks", "bank_label", "spec_accelerator", "sweep_banks", "CHIPS_PER_PASS"]

_INFERENCE_COLUMNS = ("faulty_cells", "flipped_bits", "model_ber", "accuracy", "error",
                      "robust_error", "tiled", "corrected_words", "detected_words",
                      "miscorrected_words", "residual_flipped_bits", "metric", "metric_value", "n_images")
_ADAPTIVE_COLUMNS = ("accuracy_halfwidth",)
_MIN_CACHE_BYTES = 16 * 2**20
# Chips of one model whose faulty points share passes (run_chips): the points
# whose first faulty layer is the same convolution read its input once.
CHIPS_PER_PASS = 8


def model_label(name_or_path, bits=None):
    """The ``model`` column: a zoo name, or a checkpoint path's stem; ``@Nb`` when re-quantized."""
    path = Path(name_or_path)
    label = path.stem if path.suffix == ".pt" else str(name_or_path)
    return label if bits is None else f"{label}@{bits}b"


def _file_stamp(path):
    """Identity of a file's current content for the caches below (a retrained file reloads)."""
    status = os.stat(path)
    return (os.fspath(path), status.st_mtime_ns, status.st_size)


def _profile(name):
    with resolve_profile(name) as (path, _):
        stamp = _file_stamp(path)
    return _cached_profile(name, stamp)


@lru_cache(maxsize=4)
def _cached_profile(name, stamp):
    return load_profile(name)


@lru_cache(maxsize=4)
def _dataset(spec, limit):
    x, y = load_dataset(spec, split="test")
    if limit is None:
        return x, y
    return x[:limit], (None if y is None else y[:limit])  # text has no labels


def _model(name, bits, scheme=None):
    return _cached_model(name, bits, scheme, _file_stamp(model_path(name)))


@lru_cache(maxsize=8)
def _cached_model(name, bits, scheme, stamp):
    return load_model(name, bits=bits, scheme=scheme)


def _data(dataset, limit):
    if isinstance(dataset, TensorData):
        x, y = dataset.x, dataset.y
        return (x, y) if limit is None else _limited(dataset, limit)
    if dataset is None:
        raise SweepError("the spec names no dataset; pass dataset= (--dataset) or a model whose checkpoint "
                         "says which dataset it was trained on")
    return _dataset(dataset, limit)


@lru_cache(maxsize=4)
def _limited(dataset, limit):
    return dataset.x[:limit], dataset.y[:limit]


def load_unit_inputs(spec, model):
    """``(profile, QuantizedModel, (x, y))`` of one unit, cached per process.

    ``model`` is an entry of ``spec.models`` or its index. Profile and model
    are reloaded when their file changes (a retrained checkpoint), so caching
    never serves stale results.
    """
    if isinstance(model, int) and not isinstance(model, bool):
        model = spec.models[model]
    data = _data(spec.dataset, spec.limit)
    if isinstance(model, str) and not ENTRY_PATTERN.match(model):
        qm = _model(model, spec.bits, spec.scheme)
    else:
        stamp = None
        if isinstance(model, str):
            ckpt = ENTRY_PATTERN.match(model)["ckpt"]
            stamp = _file_stamp(ckpt) if ckpt and os.path.isfile(ckpt) else None
        qm = build_model(model, spec.scheme or DEFAULT_MODULE_SCHEME, spec.bits, data, stamp)
    if spec.act_quant_bits is not None:
        qm = _act_model(qm, data[0], spec.act_quant_bits)
    return _profile(spec.profile), qm, data


@lru_cache(maxsize=8)
def _act_model(qm, x, bits):
    """``qm`` with activations quantized to ``bits`` bits (``--activations``/``--act-bits``), calibrated on ``x``."""
    from accelsim.engine.activations import with_act_quant

    if qm.act_quant is not None:
        if qm.act_quant.bits != bits:
            raise SweepError(f"--activations/--act-bits {bits}: the model already quantizes its activations to "
                             f"{qm.act_quant.bits} bits")
        return qm
    return with_act_quant(qm, x, bits)


def release_model(spec, model):
    """Drop what a unit of ``model`` cached to run (clean pass, placed chips); results do not change."""
    load_unit_inputs(spec, model)[1].release_caches()
    release_freed_memory()


def spec_accelerator(spec):
    """The :class:`~accelsim.accel.Accelerator` of a sweep (``--accelerator``; default: ``edge``)."""
    if spec.accelerator is None:
        return default_accelerator()
    return _cached_accelerator(spec.accelerator, _file_stamp(spec.accelerator)
                               if os.path.isfile(spec.accelerator) else None)


@lru_cache(maxsize=4)
def _cached_accelerator(name, stamp):
    from accelsim.accel import AcceleratorError, load_accelerator

    try:
        return load_accelerator(name)
    except AcceleratorError as exc:
        raise AcceleratorError(f"--accelerator {name}: {exc}") from None


class _Energy:
    """Energy per inference of one model, and its references at nominal and Vmin.

    With an accelerator whose weight SRAM is split into ``[[weight_banks]]``,
    a uniform voltage is every bank at that voltage.
    """

    def __init__(self, qm, profile, x, accelerator=None):
        self._accelerator = default_accelerator() if accelerator is None else accelerator
        self._workloads = qm.workloads(x)
        self._profile = profile
        self.nominal = self.at(profile.vdd_nominal_v)
        self.vmin = self.at(profile.vdd_min_v)

    def at(self, vdd_v):
        if self._accelerator.weight_banks:
            from accelsim.accel.banks import banked_energy

            return banked_energy(self._accelerator, self._workloads, self._profile.energy,
                                 [vdd_v] * len(self._accelerator.weight_banks), self._profile.vdd_nominal_v)
        return self._accelerator.energy(self._workloads, self._profile.energy, vdd_v,
                                        self._profile.vdd_nominal_v)

    def columns(self, vdd_v, protection="none"):
        if protection != "none":
            return self._protected_columns(vdd_v, protection)
        e = self.at(vdd_v)
        return {"energy_j": float(e.total_j), "weight_mem_energy_j": float(e.weight_mem_j),
                "energy_rel": float(e.total_j / self.nominal.total_j),
                "energy_rel_vmin": float(e.weight_mem_j / self.vmin.weight_mem_j)}

    def _protected_columns(self, vdd_v, protection):
        from accelsim.accel.banks import banked_energy

        n = max(1, len(self._accelerator.weight_banks))
        e = banked_energy(self._accelerator, self._workloads, self._profile.energy, [vdd_v] * n,
                          self._profile.vdd_nominal_v, protections=[protection] * n)
        return {"energy_j": float(e.total_j), "weight_mem_energy_j": float(e.weight_mem_j),
                "energy_rel": float(e.total_j / self.nominal.total_j),
                "energy_rel_vmin": float(e.weight_mem_j / self.vmin.weight_mem_j)}


def _clean_prediction(clean_logits, x, y):
    """The clean model's predicted classes (None for a language model) and its accuracy (NaN without labels)."""
    if y is None or clean_logits.ndim != 2:
        return None, (math.nan if y is None else metrics.metric_value("accuracy", clean_logits, x, y))
    clean_pred = clean_logits.argmax(dim=1)
    return clean_pred, float((clean_pred == y).double().mean())


def _inference_columns(result, clean_pred, y, metric, x, clean_logits):
    columns = {"faulty_cells": result.faulty_cells, "flipped_bits": result.flipped_bits,
               "model_ber": float(result.model_ber), "tiled": result.tiled, "metric": metric,
               "metric_value": metrics.metric_value(metric, result.logits, x, y),
               "corrected_words": int(result.corrected_words), "detected_words": int(result.detected_words),
               "miscorrected_words": int(result.miscorrected_words),
               "residual_flipped_bits": int(result.residual_flipped_bits), "n_images": len(x)}
    if y is None or result.logits.ndim != 2:  # a language model: top-1 of its next tokens
        if y is None:
            return {**columns, "accuracy": math.nan, "error": math.nan, "robust_error": math.nan}
        accuracy = metrics.metric_value("accuracy", result.logits, x, y)
        return {**columns, "accuracy": accuracy, "error": 1 - accuracy,
                "robust_error": metrics.robust_error("accuracy", result.logits, clean_logits, x, y)}
    pred = result.logits.argmax(dim=1)
    wrong = pred != y
    accuracy = float((~wrong).double().mean())
    return {**columns, "accuracy": accuracy,
            "error": float(wrong.double().mean()),
            "robust_error": float((wrong | (clean_pred != y)).double().mean())}


def _unprotected(inference):
    """An adaptive point's columns completed as an unprotected accuracy point (the only kind it runs)."""
    return {**inference, "corrected_words": 0, "detected_words": 0, "miscorrected_words": 0,
            "residual_flipped_bits": inference["flipped_bits"], "metric": "accuracy",
            "metric_value": inference["accuracy"]}


def run_unit(spec, model_name, chip, done_rows, on_row, batch_threads=None):
    """Compute every voltage of (model, chip) not already in ``done_rows``.

    Parameters
    ----------
    spec : SweepSpec
    model_name : str
    chip : int
    done_rows : dict
        Finished rows of this unit by ``(protection, vdd_v, bank_vdd_v)`` (from the journal).
    on_row : callable
        Called with each new row (a dict of the point columns) as soon as
        its point finishes.
    batch_threads : int, optional
        Threads running batches side by side (default: the environment
        variable ``ACCELSIM_BATCH_THREADS``, else the cores this process may
        use). Results are bit-identical for any number.
    """
    run_chips(spec, model_name, [chip], [done_rows], on_row, batch_threads)


def run_chips(spec, model_name, chips, done_rows, on_row, batch_threads=None):
    """:func:`run_unit` for several chips of one model, their faulty points in shared passes.

    The unprotected full-set points of every chip run in one
    :func:`accelsim.engine.multipoint.iter_points` (the first faulty
    convolution of points of different chips, stacked, reads its input
    once); rows are those of :func:`run_unit` chip by chip, byte for byte.
    Each row reaches ``on_row`` as soon as its point finishes (points
    stacked in one layer call finish together), so a kill loses only the
    points in progress. ``done_rows`` holds one dict per chip. Adaptive
    sweeps run each chunk of images for the unsettled points of every chip
    together; attack sweeps run chip by chip.
    """
    from accelsim.engine import _batching

    chips, done_rows = list(chips), list(done_rows)
    if len(chips) != len(done_rows):
        raise ValueError(f"run_chips got {len(chips)} chips and {len(done_rows)} done-row sets")
    threads = torch.get_num_threads()
    torch.set_num_threads(spec.torch_threads)  # alike in every executor, so results agree
    try:
        threads_wanted = batch_threads or int(os.environ.get("ACCELSIM_BATCH_THREADS", 0)) or \
            _batching.available_cores()
        batch_size = _execution_batch(spec, threads_wanted)
        with _batching.batch_threads(threads_wanted):
            streamed = _shared_pass(spec, model_name, chips, done_rows, on_row, batch_size)
            for chip, done in zip(chips, done_rows, strict=True):
                _run_voltages(spec, model_name, chip, done, on_row, batch_size, skip_unprotected=streamed)
    finally:
        torch.set_num_threads(threads)


def _execution_batch(spec, threads):
    """Images per batch that a unit executes: the spec's batch shared among the batch threads.

    The threads share the last-level cache that the spec's batch was sized
    for (:func:`accelsim.engine._batching.auto_batch_size`), and each holds a
    batch's activations at once: splitting the batch keeps both the cache
    footprint and the working set of a pass those of one batch. Per-example
    logits do not depend on the batch they ran in, so rows are unchanged.
    Adaptive sweeps keep the spec's batch: their chunks are batches.
    """
    if spec.adaptive or threads <= 1 or spec.batch_size is None:
        return spec.batch_size
    return max(1, spec.batch_size // threads)


def _shared_pass(spec, model_name, chips, done_rows, on_row, batch_size):
    """The unprotected full-set rows of every chip, from one shared pass; False if they do not apply.

    Points whose first faulty layer is the same convolution share it
    (:func:`accelsim.engine.multipoint.iter_points`); logits are
    bit-identical to one point at a time. A voltage that adds no faulty cell
    to the previous one's takes that point's inference columns (the faulty
    set is nested, so the read is the same) and is reported with it.
    With ``spec.adaptive`` the points run chunk by chunk, the unsettled ones
    of every chip together (:func:`accelsim.sweep.adaptive.adaptive_points`).
    """
    if spec.attack is not None or "none" not in spec.protections:
        return False
    profile, qm, (x, y) = load_unit_inputs(spec, model_name)
    if y is None or qm.forward(x[:1]).ndim != 2:  # a language model: no classes to compare
        return False
    if sparse.is_large(qm):  # one chip's placement in memory at a time, not CHIPS_PER_PASS
        return False
    energy = _Energy(qm, profile, x, spec_accelerator(spec))
    columns = _INFERENCE_COLUMNS + (_ADAPTIVE_COLUMNS if spec.adaptive else ())
    if spec.adaptive:
        x, y = _shuffled(x, y, spec.seed)
    release_freed_memory()  # what loading and checking left behind, before the passes
    qm.memory(profile, spec.seed).plan_voltages(lowest_weight_v(spec))
    evaluators = [qm.evaluator(x, profile, chip=chip, seed=spec.seed, batch_size=batch_size,
                               cache_bytes=_cache_budget(x), execution=spec.execution) for chip in chips]

    def emit(chip, vdd_v, inference):
        row = {**_point_columns(spec, model_name, qm, profile, chip, vdd_v), **inference,
               **energy.columns(vdd_v, "none"), "clean_accuracy": clean_accuracy,
               "protection": "none", "bank_vdd_v": ""}
        if spec.activations is not None:  # uniform points: the activation SRAM at nominal
            row["act_vdd_v"] = float(profile.vdd_nominal_v)
        on_row(row)
        return row

    wanted, followers, journalled = [], {}, []
    for k, (evaluator, done) in enumerate(zip(evaluators, done_rows, strict=True)):
        done = {v: r for (p, v, b), r in done.items() if p == "none" and not b}
        previous, source = None, None  # the previous point's faulty cells, and its row or wanted index
        for vdd_v in spec.voltages_v:
            row = done.get(vdd_v)
            if row is not None:
                previous, source = row["faulty_cells"], row
                continue
            faulty = evaluator.faulty_cells(vdd_v)
            if previous is not None and previous == faulty:
                if isinstance(source, dict):  # the same read as a journalled row: nothing to run
                    journalled.append((evaluator.chip, vdd_v, source))
                else:
                    followers[source].append(vdd_v)
            else:
                source = len(wanted)
                wanted.append((k, vdd_v))
                followers[source] = []
            previous = faulty
    clean_accuracy, results = _shared_results(spec, [evaluators[k] for k, _ in wanted], [v for _, v in wanted],
                                              evaluators[0], x, y)
    for chip, vdd_v, source in journalled:
        emit(chip, vdd_v, {c: source[c] for c in columns})
    for i, inference in results:
        k, vdd_v = wanted[i]
        chip = evaluators[k].chip
        row = emit(chip, vdd_v, inference)
        for follower_v in followers.pop(i):
            row = emit(chip, follower_v, {c: row[c] for c in columns})
    return True


def _shared_results(spec, evaluators, voltages, clean_evaluator, x, y):
    """The clean accuracy, and ``(i, inference columns)`` of point ``i`` as each finishes.

    ``evaluators`` share the clean pass of ``clean_evaluator``. The reads
    happen first, so that the clean pass then caches only the activations
    the points start from.
    """
    from accelsim.engine.multipoint import iter_read_points, read_points

    points = read_points(evaluators, voltages)
    clean_logits = clean_evaluator.clean_logits
    clean_pred, clean_accuracy = _clean_prediction(clean_logits, x, y)
    if not points:  # every point journalled or following another
        return clean_accuracy, iter(())
    if spec.adaptive:
        return clean_accuracy, _adaptive_results(spec, points, clean_pred, y)
    return clean_accuracy, ((i, _inference_columns(result, clean_pred, y, spec.metric, x, clean_logits))
                            for i, result in iter_read_points(points))


def _adaptive_results(spec, points, clean_pred, y):
    from accelsim.sweep import adaptive

    _, reference_qm, (x_test, y_test) = load_unit_inputs(spec, 0)
    reference = adaptive.reference_accuracy(reference_qm, x_test, y_test, spec.batch_size)
    for i, inference in adaptive.adaptive_points(points, clean_pred, y, spec.batch_size, reference,
                                                 spec.tolerance_pp, spec.halfwidth_pp):
        yield i, _unprotected(inference)


def _point_columns(spec, model_name, qm, profile, chip, vdd_v):
    """The columns that describe a point (model, profile, voltage), not its inference."""
    return {"model": spec.label_of(model_name), "method": qm.meta.get("method", "unknown"),
            "bits": qm.bits, "quant_scheme": qm.meta.get("quant_scheme", qm.scheme.name),
            "profile": profile.name, "chip": int(chip), "vdd_v": float(vdd_v),
            "vdd_rel": float(vdd_v / profile.vdd_nominal_v),
            "profile_ber": float(profile.ber(vdd_v, chip=chip))}


def bank_label(vector, act_vdd_v=None):
    """The ``bank_vdd_v`` column of a ``--bank-voltages`` point (``"0.7;0.6"``; empty: uniform).

    With the activation SRAM on the point's domain (``--activations``), its
    supply follows as ``act=V`` (``"0.7;0.6;act=0.65"``), so points that
    differ only there stay distinct rows.
    """
    label = ";".join(repr(float(v)) for v in vector)
    return label if act_vdd_v is None else f"{label};act={float(act_vdd_v)!r}"


def spec_bank_label(spec, vector):
    """:func:`bank_label` of one of ``spec.bank_voltages`` (the activation SRAM's supply last)."""
    return bank_label(spec.weight_vector(vector), spec.act_vdd_v(vector))


def unit_points(spec):
    """Every ``(protection, vdd_v, bank_vdd_v)`` a unit computes, in order."""
    points = [(p, v, "") for p in spec.protections for v in spec.voltages_v]
    points += [(p, min(spec.weight_vector(vector)), spec_bank_label(spec, vector)) for p in spec.protections
               for vector in spec.bank_voltages]
    return points


def lowest_weight_v(spec):
    """The lowest supply any weight bank sees in the sweep (where chips are placed down to)."""
    return min((*spec.voltages_v, *(v for vector in spec.bank_voltages for v in spec.weight_vector(vector))))


def model_banks(qm, n_banks, x=None, capacity_bits=None):
    """``n_banks`` banks of contiguous layers of ``qm``, balanced by stored bits.

    ``capacity_bits``: the weight SRAM shared among them (default: the edge preset's).
    """
    from accelsim.accel.banks import split_layers

    workloads = qm.workloads(x)
    try:
        return split_layers([(w.name, w.n_weights * w.weight_bits) for w in workloads], n_banks,
                            capacity_bits or default_accelerator().weight_memory.capacity_bits)
    except UserInputError as exc:
        raise SweepError(f"--bank-voltages: {n_banks} voltages per point need {n_banks} banks; "
                         f"{exc}") from None


def sweep_banks(spec, qm, x=None):
    """The weight banks of a sweep's ``--bank-voltages`` points for ``qm``.

    The ``[[weight_banks]]`` of ``--accelerator`` when it has them (every
    layer with weights in exactly one bank, one voltage per bank), else
    :func:`model_banks` (as many contiguous banks as voltages per point).

    Raises
    ------
    AcceleratorError
        If a bank names a layer the model lacks or a layer is in no bank.
    SweepError
        If the points give another number of voltages than there are banks.
    """
    accelerator = spec_accelerator(spec)
    n = len(spec.weight_vector(spec.bank_voltages[0])) if spec.bank_voltages else None
    if not accelerator.weight_banks:
        return None if n is None else model_banks(qm, n, x, accelerator.weight_memory.capacity_bits)
    from accelsim.accel import AcceleratorError
    from accelsim.accel.banks import bank_assignment

    banks = accelerator.weight_banks
    try:
        bank_assignment(banks, [w.name for w in qm.workloads(x)], word_bits=qm.bits)
    except AcceleratorError as exc:
        raise AcceleratorError(f"--accelerator {spec.accelerator}: {exc}") from None
    if n is not None and n != len(banks):
        act = (" and then the activation SRAM's (--activations)" if spec.activations is not None else "")
        raise SweepError(f"--bank-voltages gives {n} weight bank voltage(s) per point but --accelerator "
                         f"{spec.accelerator} has {len(banks)} weight banks "
                         f"({', '.join(b.name for b in banks)}); give one voltage per bank{act}")
    return banks


def _run_banked(spec, model_name, qm, profile, chip, x, y, energy, done_rows, on_row):
    from accelsim.accel.banks import banked_energy
    from accelsim.engine.banked import BankedEvaluator

    banks = sweep_banks(spec, qm, x)
    nominal = energy.nominal
    for protection in spec.protections:
        evaluator = None
        for point in spec.bank_voltages:
            vector, act = spec.weight_vector(point), spec.act_vdd_v(point)
            label = bank_label(vector, act)
            if (protection, min(vector), label) in done_rows:
                continue
            if evaluator is None:
                evaluator = BankedEvaluator(qm, x, profile, [b.layers for b in banks],
                                            [protection] * len(banks), chip=chip, seed=spec.seed,
                                            on_detect=spec.on_detect, batch_size=spec.batch_size,
                                            bank_bits=[b.bits for b in banks])
                clean_logits = evaluator.clean_logits
                clean_pred, clean_accuracy = _clean_prediction(clean_logits, x, y)
            result = evaluator.run(vector, act).run_result(protection)
            e = banked_energy(energy._accelerator, energy._workloads, profile.energy, vector,
                              profile.vdd_nominal_v, banks=banks, protections=[protection] * len(banks),
                              act_vdd_v=act)
            row = {**_point_columns(spec, model_name, qm, profile, chip, min(vector)),
                   **_inference_columns(result, clean_pred, y, spec.metric, x, clean_logits),
                   "energy_j": float(e.total_j), "weight_mem_energy_j": float(e.weight_mem_j),
                   "energy_rel": float(e.total_j / nominal.total_j),
                   "energy_rel_vmin": float(e.weight_mem_j / energy.vmin.weight_mem_j),
                   "clean_accuracy": clean_accuracy, "protection": protection, "bank_vdd_v": label}
            if act is not None:
                row["act_vdd_v"] = act
            on_row(row)


def _cache_budget(x):
    return max(x.numel() * x.element_size(), _MIN_CACHE_BYTES)


@lru_cache(maxsize=2)
def _shuffled(x, y, seed):
    from accelsim.sweep.adaptive import shuffled

    return shuffled(x, y, seed)


def _run_voltages(spec, model_name, chip, done_rows, on_row, batch_size, skip_unprotected=False):
    """Every point of one chip not in ``done_rows``, one at a time.

    With ``skip_unprotected`` the unprotected uniform-voltage points are left
    out (:func:`_shared_pass` reported them).
    """
    if skip_unprotected and spec.protections == ("none",) and not spec.bank_voltages:
        return
    profile, qm, (x, y) = load_unit_inputs(spec, model_name)
    # Place the chip only down to the lowest voltage of the sweep (not the floor).
    lowest_v = lowest_weight_v(spec)
    energy = _Energy(qm, profile, x, spec_accelerator(spec))
    columns = _INFERENCE_COLUMNS
    if spec.adaptive:
        from accelsim.sweep import adaptive

        reference_qm = load_unit_inputs(spec, 0)[1]
        reference = adaptive.reference_accuracy(reference_qm, x, y, spec.batch_size)
        x, y = _shuffled(x, y, spec.seed)
        columns += _ADAPTIVE_COLUMNS
    for protection in spec.protections:
        if protection == "none" and skip_unprotected:
            continue
        if protection == "none":
            qm.memory(profile, spec.seed).plan_voltages(lowest_v)
        # Clean activations are cached up to the size of the inputs themselves, so
        # a sweep's peak memory stays close to a plain evaluation's.
        evaluator = qm.evaluator(x, profile, chip=chip, seed=spec.seed, batch_size=batch_size,
                                 cache_bytes=_cache_budget(x), protection=protection, on_detect=spec.on_detect,
                                 execution=spec.execution)
        clean_logits = evaluator.clean_logits
        clean_pred, clean_accuracy = _clean_prediction(clean_logits, x, y)
        done = {v: r for (p, v, b), r in done_rows.items() if p == protection and not b}
        previous = None
        for vdd_v in spec.voltages_v:
            row = done.get(vdd_v)
            if row is None:
                faulty = evaluator.faulty_cells(vdd_v)
                if previous is not None and previous["faulty_cells"] == faulty:
                    inference = {c: previous[c] for c in columns}
                elif spec.adaptive:
                    inference = _unprotected(adaptive.adaptive_inference(
                        evaluator, vdd_v, clean_pred, y, spec.batch_size, reference, spec.tolerance_pp,
                        spec.halfwidth_pp))
                else:
                    inference = _inference_columns(evaluator.run(vdd_v), clean_pred, y, spec.metric, x,
                                                   clean_logits)
                if spec.attack is not None:  # worst case on top of the same read (issue 14)
                    from accelsim.sweep.attack import attack_columns

                    inference.update(attack_columns(spec, qm, profile, chip, vdd_v, x, y, previous, faulty,
                                                  protection))
                row = {**_point_columns(spec, model_name, qm, profile, chip, vdd_v), **inference,
                       **energy.columns(vdd_v, protection), "clean_accuracy": clean_accuracy,
                       "protection": protection, "bank_vdd_v": ""}
                if spec.activations is not None:  # uniform points: the activation SRAM at nominal
                    row["act_vdd_v"] = float(profile.vdd_nominal_v)
                on_row(row)
            previous = row
    if spec.bank_voltages:
        _run_banked(spec, model_name, qm, profile, chip, x, y, energy, done_rows, on_row)
