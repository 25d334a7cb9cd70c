"""One unit of sweep work: one (model, profile, chip) with all its voltages.

A unit runs wherever an executor puts it. It loads the profile, model and
data itself from the spec (cached per process), so nothing large is pickled.
Voltages run from high to low; a voltage that adds no faulty cell to the
model's footprint reuses the previous point's inference columns (the faulty
set is nested, so the read is the same), and every faulty read re-runs only
the layers from the first faulty one on.
"""

import os
from functools import lru_cache
from pathlib import Path

import torch

from accelsim.accel import default_accelerator
from accelsim.data import load_dataset
from accelsim.models import load_model, model_path
from accelsim.sram import load_profile
from accelsim.sram._lookup import resolve_profile

__all__ = ["run_unit", "model_label", "load_unit_inputs"]

_INFERENCE_COLUMNS = ("faulty_cells", "flipped_bits", "model_ber", "accuracy", "error",
                      "robust_error", "tiled")


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
    return (x, y) if limit is None else (x[:limit], y[:limit])


def _model(name, bits):
    return _cached_model(name, bits, _file_stamp(model_path(name)))


@lru_cache(maxsize=8)
def _cached_model(name, bits, stamp):
    return load_model(name, bits=bits)


def load_unit_inputs(spec, model_name):
    """``(profile, QuantizedModel, (x, y))`` of one unit, cached per process.

    Profile and model are reloaded when their file changes (a retrained
    checkpoint), so caching never serves stale results.
    """
    return _profile(spec.profile), _model(model_name, spec.bits), _dataset(spec.dataset, spec.limit)


class _Energy:
    """Energy per inference of one model, and its references at nominal and Vmin."""

    def __init__(self, qm, profile, x):
        self._accelerator = default_accelerator()
        self._workloads = qm.workloads(x)
        self._profile = profile
        self.nominal = self.at(profile.vdd_nominal_v)
        self.vmin = self.at(profile.vdd_min_v)

    def at(self, vdd_v):
        return self._accelerator.energy(self._workloads, self._profile.energy, vdd_v,
                                        self._profile.vdd_nominal_v)

    def columns(self, vdd_v):
        e = self.at(vdd_v)
        return {"energy_j": float(e.total_j), "weight_mem_energy_j": float(e.weight_mem_j),
                "energy_rel": float(e.total_j / self.nominal.total_j),
                "energy_rel_vmin": float(e.weight_mem_j / self.vmin.weight_mem_j)}


def _inference_columns(result, clean_pred, y):
    pred = result.logits.argmax(dim=1)
    wrong = pred != y
    accuracy = float((~wrong).double().mean())
    return {"faulty_cells": result.faulty_cells, "flipped_bits": result.flipped_bits,
            "model_ber": float(result.model_ber), "accuracy": accuracy,
            "error": float(wrong.double().mean()),
            "robust_error": float((wrong | (clean_pred != y)).double().mean()),
            "tiled": result.tiled}


def run_unit(spec, model_name, chip, done_rows, on_row):
    """Compute every voltage of (model, chip) not already in ``done_rows``.

    Parameters
    ----------
    spec : SweepSpec
    model_name : str
    chip : int
    done_rows : dict
        Finished rows of this unit by ``vdd_v`` (from the journal).
    on_row : callable
        Called with each new row (a dict of the point columns) as it finishes.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(spec.torch_threads)  # alike in every executor, so results agree
    try:
        _run_voltages(spec, model_name, chip, done_rows, on_row)
    finally:
        torch.set_num_threads(threads)


def _point_columns(spec, model_name, qm, profile, chip, vdd_v):
    """The columns that describe a point (model, profile, voltage), not its inference."""
    return {"model": model_label(model_name, spec.bits), "method": qm.meta.get("method", "unknown"),
            "bits": qm.bits, "quant_scheme": qm.meta.get("quant_scheme", qm.scheme.name),
            "profile": profile.name, "chip": int(chip), "vdd_v": float(vdd_v),
            "vdd_rel": float(vdd_v / profile.vdd_nominal_v),
            "profile_ber": float(profile.ber(vdd_v, chip=chip))}


def _run_voltages(spec, model_name, chip, done_rows, on_row):
    profile, qm, (x, y) = load_unit_inputs(spec, model_name)
    evaluator = qm.evaluator(x, profile, chip=chip, seed=spec.seed, batch_size=spec.batch_size)
    energy = _Energy(qm, profile, x)
    clean_pred = evaluator.clean_logits.argmax(dim=1)
    clean_accuracy = float((clean_pred == y).double().mean())
    previous = None
    for vdd_v in spec.voltages_v:
        row = done_rows.get(vdd_v)
        if row is None:
            faulty = evaluator.faulty_cells(vdd_v)
            if previous is not None and previous["faulty_cells"] == faulty:
                inference = {c: previous[c] for c in _INFERENCE_COLUMNS}
            else:
                inference = _inference_columns(evaluator.run(vdd_v), clean_pred, y)
            if spec.attack is not None:  # worst case on top of the same read (issue 14)
                from accelsim.sweep.attack import attack_columns

                inference.update(attack_columns(spec, qm, profile, chip, vdd_v, x, y, previous, faulty))
            row = {**_point_columns(spec, model_name, qm, profile, chip, vdd_v), **inference,
                   **energy.columns(vdd_v), "clean_accuracy": clean_accuracy}
            on_row(row)
        previous = row
