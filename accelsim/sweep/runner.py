"""Run a sweep: check the spec, run its units, journal points, write the result files."""

import dataclasses
import datetime
import hashlib
import json
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from accelsim._limits import MAX_CHIPS, MAX_SWEEP_POINTS, MAX_VOLTAGES
from accelsim._safeio import FolderLock, atomic_write, describe_os_error
from accelsim._version import __version__
from accelsim.data import DatasetError
from accelsim.sweep.executors import make_executor
from accelsim.sweep.inputs import check_fit, model_fingerprint, own_dataset
from accelsim.sweep.journal import JOURNAL_NAME, Journal, point_key
from accelsim.sweep.metrics import check_metric
from accelsim.sweep.results import (
    ACTIVATION_COLUMNS,
    ADAPTIVE_COLUMNS,
    ATTACK_COLUMNS,
    POINT_COLUMNS,
    SUMMARY_COLUMNS,
    OperatingPoint,
    operating_points,
    sorted_rows,
    summarize,
    write_csv,
)
from accelsim.sweep.spec import SweepError, SweepSpec
from accelsim.sweep.unit import load_unit_inputs, lowest_weight_v, unit_points

if TYPE_CHECKING:
    from accelsim.sram import Profile

__all__ = ["run_sweep", "SweepResult", "SweepProgress", "SweepOutputError", "default_voltages"]

SPEC_FILE = "sweep.json"
_DEFAULT_POINTS = 12
_DEFAULT_LOWEST_BER = 0.1


class SweepOutputError(SweepError):
    """A result could not be written (disk full, ...); nothing finished is lost, ``--resume`` continues."""


@dataclass(frozen=True)
class SweepProgress:
    """One finished point, for progress reporting."""

    done: int
    total: int
    model: str
    chip: int
    vdd_v: float


@dataclass(frozen=True, eq=False)
class SweepResult:
    """A finished sweep: its spec, point rows and summary rows (plain dicts).

    ``damaged_journal_lines`` counts journal lines that were unreadable on
    resuming (dropped; their points were computed again).
    """

    spec: SweepSpec
    directory: Path
    rows: list
    summary: list
    damaged_journal_lines: int = 0

    def operating_points(self, tolerance_pp: float = 1.0, energy_ref: str | None = None,
                         yield_target: float | None = None) -> list[OperatingPoint]:
        """Per model (and protection), the lowest-energy voltage within ``tolerance_pp`` of the reference.

        Energy savings are relative to ``energy_ref`` (a label; default the
        first model) at nominal voltage. With ``yield_target`` the point's
        yield interval's lower end (Wilson, 95%) must reach it; the yield is
        measured at the spec's tolerance.
        """
        return operating_points(self.summary, list(self.spec.labels), tolerance_pp, energy_ref,
                                yield_target=yield_target)


def default_voltages(profile: "Profile", n: int = _DEFAULT_POINTS) -> tuple[float, ...]:
    """Nominal, then ``n`` voltages from Vmin down to where BER reaches 10% (or the floor)."""
    try:
        low = max(profile.vdd_floor_v, profile.voltage_for_ber(_DEFAULT_LOWEST_BER))
    except ValueError:
        low = profile.vdd_floor_v
    ladder = np.linspace(profile.vdd_min_v, low, n)
    values = {round(float(v), 4) for v in (profile.vdd_nominal_v, *ladder)}
    return tuple(sorted(values, reverse=True))


def _tensor_sha256(*tensors):
    digest = hashlib.sha256()
    for t in tensors:
        array = t.detach().cpu().contiguous().numpy()
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.reshape(-1).view(np.uint8))  # the bytes in place: no copy of the dataset
    return digest.hexdigest()


def _versions():
    import numba
    import torch

    return {"accelsim": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "torch": torch.__version__}


# Versions whose change can change a result's bytes; a resume across them would mix results.
_RESULT_VERSIONS = ("accelsim", "torch", "numpy")


def _check_limits(spec, allow_large):
    if allow_large:
        return
    n_points = len(spec.models) * spec.chips * len(spec.voltages_v)
    if spec.chips > MAX_CHIPS:
        raise SweepError(f"--chips {spec.chips} exceeds the limit of {MAX_CHIPS}; pass --allow-large to lift it")
    if len(spec.voltages_v) > MAX_VOLTAGES:
        raise SweepError(f"{len(spec.voltages_v)} voltages exceed the limit of {MAX_VOLTAGES}; "
                         "pass --allow-large to lift it")
    if n_points > MAX_SWEEP_POINTS:
        raise SweepError(f"{n_points} points (models x chips x voltages) exceed the limit of "
                         f"{MAX_SWEEP_POINTS}; pass --allow-large to lift it")


def _default_dataset(spec):
    """The spec with its dataset filled in: the first model's own dataset when none is given."""
    if spec.dataset is not None:
        return spec
    own = own_dataset(spec.models[0])
    if own is None:
        raise SweepError(f"model {spec.labels[0]} does not say which dataset it was trained on; "
                         "pass --dataset (or dataset= from Python)")
    return dataclasses.replace(spec, dataset=own)


def _dataset_label(dataset):
    """A dataset's name for messages and titles: no folder, no path."""
    from accelsim.data import dataset_name

    return dataset_name(dataset) if isinstance(dataset, str) else dataset.name


def _prepare(spec, allow_large=False):
    """Load and check everything before anything is written; return (spec, fingerprints).

    Every model is loaded and run on two examples of the dataset, so a model
    and dataset that do not fit end in one line (a ``SweepError``) before any
    computation.
    """
    _check_limits(spec, allow_large)  # chips and explicit voltages, before any loading
    defaulted = spec.dataset is None
    spec = _default_dataset(spec)
    try:
        profile, _, (x, y) = load_unit_inputs(spec, 0)
    except DatasetError as exc:
        if not defaulted:
            raise
        raise DatasetError(f"no --dataset given, so {spec.labels[0]}'s own dataset {spec.dataset!r}: {exc}") from None
    check_metric(spec.metric, y is not None)
    if len(x) == 0:
        raise SweepError(f"dataset {_dataset_label(spec.dataset)!r} has no test examples; "
                         "a sweep needs at least one")
    if not spec.voltages_v:
        spec = dataclasses.replace(spec, voltages_v=default_voltages(profile))
        _check_limits(spec, allow_large)
    for vdd_v in spec.voltages_v:
        profile.check_voltage(vdd_v)
    models, batch_sizes = {}, []
    for i, (item, label) in enumerate(zip(spec.models, spec.labels, strict=True)):
        qm = load_unit_inputs(spec, i)[1]
        check_fit(label, qm, x, y, _dataset_label(spec.dataset), own_dataset(item))
        for protection in spec.protections:  # e.g. msb:K wider than the words: before any work
            qm.check_protection(protection, spec.on_detect)
        _check_memory_budget(spec, qm, profile)
        if spec.bank_voltages or spec.accelerator is not None:
            from accelsim.sweep.unit import sweep_banks

            # Too many banks for the model's layers, or an accelerator's bank tables that
            # name an unknown layer or leave one out: before any work.
            sweep_banks(spec, qm)
        models[label] = model_fingerprint(item)
        batch_sizes.append(qm.batch_size_for(x))
    if spec.batch_size is None:
        # Chosen once here and recorded, so every executor runs the same batches.
        spec = dataclasses.replace(spec, batch_size=min(batch_sizes))
    for vector in spec.bank_voltages:
        for vdd_v in vector:
            profile.check_voltage(vdd_v)
    versions = _versions()
    fingerprints = {"profile": profile.fingerprint(), "models": models,
                    "dataset": _tensor_sha256(*(t for t in (x, y) if t is not None)),
                    "code": {k: versions[k] for k in _RESULT_VERSIONS}}
    return spec, fingerprints


# The files a sweep (and the CLI after it) writes: what --overwrite removes, and nothing else.
_RESULT_FILES = (JOURNAL_NAME, SPEC_FILE, "sweep.csv", "summary.csv", "report.html",
                 *(f"{name}.{ext}" for name in ("energy_accuracy", "accuracy_voltage", "error_ber", "ber_voltage")
                   for ext in ("png", "pdf", "svg")))


def _check_memory_budget(spec, qm, profile):
    """Refuse, before any work, a sweep whose chip placement would not fit in the machine's memory.

    A chip is placed down to the sweep's lowest voltage, one at a time for a
    large model; the estimate is that placement's (see
    :func:`accelsim.sram._budget.check_placement_budget`), per protection.
    """
    if profile.kind != "generated":
        return  # a measured chip's faulty cells are the profile's own
    from accelsim.sram._budget import check_placement_budget
    from accelsim.sram.protection import parse_protection, stored_stream_bits

    lowest_v = lowest_weight_v(spec)
    for protection in spec.protections:
        n_bits = stored_stream_bits(len(qm.words), qm.bits, protection)
        # A codeword stream is stored one bit per byte; the data words exist already.
        extra_bytes = n_bits if parse_protection(protection).kind in ("parity", "secded") else 0
        check_placement_budget(profile, n_bits, lowest_v, extra_bytes)


def _clear_results(directory):
    for name in _RESULT_FILES:
        (directory / name).unlink(missing_ok=True)


def _read_record(spec_file):
    """The previous sweep.json, or a SweepError saying why it cannot be used."""
    try:
        record = json.loads(spec_file.read_bytes())
        if not isinstance(record, dict) or not isinstance(record.get("spec"), dict):
            raise ValueError("no spec")
        return record
    except (OSError, ValueError, UnicodeDecodeError):
        raise SweepError(f"--resume: {spec_file} is damaged, so the journal cannot be checked against "
                         "this sweep; choose another --out") from None


def _fingerprint_changes(previous, current):
    """Names of what changed between two fingerprint records (empty: nothing)."""
    changes = []
    if previous.get("profile") != current["profile"]:
        changes.append("the profile file")
    old_models = previous.get("models") or {}
    changes += [f"model {name}" for name, sha in current["models"].items() if old_models.get(name) != sha]
    if "dataset" in previous and previous["dataset"] != current["dataset"]:
        changes.append("the dataset's test examples")
    old_code = previous.get("code") or {}
    changes += [f"{k} version {old_code[k]} -> {v}" for k, v in current["code"].items()
                if k in old_code and old_code[k] != v]
    return changes


# Fields that choose how rows are computed, not what they hold: rows are byte-identical across
# batch sizes (tests/sweep), except --adaptive's chunks, which follow the batch. (Torch's own
# thread count can change float summation order, so it is not among them.)
_EXECUTION_ONLY = ("batch_size",)


def _spec_differences(previous, spec):
    """Sorted names of the spec fields in which ``previous`` (a sweep.json spec) differs from ``spec``.

    A field that an older accelsim did not record yet counts as its default, which
    is what that version ran; the fingerprints then say whether its models,
    profile or data still match.
    """
    from accelsim.sweep.spec import SweepSpec

    current, defaults = spec.to_dict(), SweepSpec().to_dict()
    ignored = () if spec.adaptive else _EXECUTION_ONLY
    return sorted(k for k, v in current.items()
                  if k not in ignored and previous.get(k, _jsonable(defaults.get(k))) != _jsonable(v))


def _open_directory(directory, spec, fingerprints, resume, overwrite=False):
    """Create (or check) the results folder; return (directory, previous record or None)."""
    spec_file = directory / SPEC_FILE
    has_results = spec_file.exists() or spec_file.is_symlink() or (directory / JOURNAL_NAME).exists()
    if has_results and overwrite:
        _clear_results(directory)
        has_results = False
    if has_results and not resume:
        raise SweepError(f"{directory} already holds sweep results; pass --resume to continue that sweep, "
                         "--overwrite to replace it, or choose another --out")
    if not has_results:
        return None
    if not spec_file.exists() or spec_file.is_symlink():
        raise SweepError(f"--resume: {directory} has a journal but no sweep.json, so its rows cannot be "
                         "checked against this sweep; choose another --out")
    previous = _read_record(spec_file)
    differing = _spec_differences(previous["spec"], spec)
    if differing:
        raise SweepError(f"--resume: {directory} holds a sweep with a different spec "
                         f"(differs in {', '.join(differing)}); rerun with the same arguments "
                         "or choose another --out")
    changes = _fingerprint_changes(previous.get("fingerprints") or {}, fingerprints)
    if changes:
        raise SweepError(f"--resume: {', '.join(changes)} changed since {directory} was started; resuming "
                         "would mix results of both, so choose another --out (or restore the files)")
    return previous


def _make_directory(out_dir):
    directory = Path(out_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = FolderLock(directory)
    except OSError as exc:
        raise SweepError(f"cannot write results to {directory} ({describe_os_error(exc)}); "
                         "choose a writable --out") from None
    for leftover in directory.glob(".*.tmp"):
        # Temporary files of a write that a kill interrupted (we hold the lock: nobody else writes).
        try:
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink()
        except OSError:
            pass
    return directory, lock


def _jsonable(value):
    return json.loads(json.dumps(value))


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _write_spec(directory, record):
    atomic_write(directory / SPEC_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")


def _output_error(directory, exc):
    return SweepOutputError(
        f"cannot write to {directory}: {describe_os_error(exc)}; every point finished so far is kept in "
        f"{JOURNAL_NAME}: fix that and rerun the same command with --resume")


def _reference_accuracy(rows, reference_model):
    """The first model's clean quantized accuracy (the reference of tolerance and yield)."""
    return next((float(r["clean_accuracy"]) for r in rows if r["model"] == reference_model), None)


def run_sweep(spec: SweepSpec, out_dir: str | os.PathLike, executor: str = "local", resume: bool = False,
              progress: Callable[[SweepProgress], None] | None = None, *,
              allow_large: bool = False, overwrite: bool = False) -> SweepResult:
    """Run ``spec``, writing results into ``out_dir`` as points finish.

    Parameters
    ----------
    spec : SweepSpec
    out_dir : str or Path
        Receives ``journal.jsonl`` (per point, flushed), then ``sweep.csv``,
        ``summary.csv`` and ``sweep.json``.
    executor : str
        ``local``, ``dask`` (a local Dask cluster) or ``dask:ADDRESS``.
    resume : bool
        Continue the sweep already in ``out_dir`` (same spec), computing only
        the points its journal lacks.
    progress : callable, optional
        Called with a :class:`SweepProgress` after every finished point.
    allow_large : bool
        Lift the limits on chips, voltages and points (``accelsim._limits``).
    overwrite : bool
        Replace the results already in ``out_dir`` (only the files a sweep
        writes are removed).

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepError, ProfileError, ...
        For anything the user can fix, before anything is written: limits,
        labels, inputs, voltages and, with ``resume``, the stored spec and
        fingerprints (profile, each checkpoint, the dataset, code versions).
    SweepOutputError
        Writing a result failed (disk full, ...); finished points stay in the
        journal and ``resume=True`` continues.
    FolderBusyError
        Another process is writing to ``out_dir``.
    """
    if resume and overwrite:
        raise SweepError("--resume continues the sweep in --out and --overwrite discards it: pass one of them")
    spec, fingerprints = _prepare(spec, allow_large)
    runner = make_executor(executor)
    try:
        directory, lock = _make_directory(out_dir)
        with lock:
            previous = _open_directory(directory, spec, fingerprints, resume, overwrite)
            return _run_locked(spec, directory, fingerprints, runner, previous, progress)
    finally:
        runner.close()


def _run_locked(spec, directory, fingerprints, runner, previous, progress):
    now = _now()
    n_images = len(load_unit_inputs(spec, 0)[2][0])  # cached: the driver loaded it in _prepare
    record = {"spec": spec.to_dict(), "labels": list(spec.labels), "n_images": n_images,
              "versions": _versions(), "fingerprints": fingerprints,
              "seeds": {"sweep": spec.seed}, "executor": runner.name,
              "start_time": previous.get("start_time", now) if previous else now,
              "resumes": [*(previous.get("resumes") or []), now] if previous else [],
              "end_time": None}
    labels = spec.labels
    points = unit_points(spec)
    wanted = {point_key(label, c, v, p, b) for label in labels for c in range(spec.chips)
              for (p, v, b) in points}
    try:
        _write_spec(directory, record)
        journal = Journal(directory, POINT_COLUMNS + (ACTIVATION_COLUMNS if spec.activations is not None else ()))
    except OSError as exc:
        raise _output_error(directory, exc) from None
    with journal:
        done = [len(wanted.intersection(journal.rows))]

        def on_row(row):
            try:
                journal.append(row)
            except OSError as exc:
                raise _output_error(directory, exc) from None
            done[0] += 1
            if progress is not None:
                progress(SweepProgress(done[0], len(wanted), row["model"], row["chip"], row["vdd_v"]))

        finished = journal.rows
        units = []
        for model, label in zip(spec.models, labels, strict=True):
            for chip in range(spec.chips):
                rows = {(p, v, b): finished[point_key(label, chip, v, p, b)] for (p, v, b) in points
                        if point_key(label, chip, v, p, b) in finished}
                if len(rows) < len(points):
                    units.append((model, chip, rows))
        runner.map_units(spec, units, on_row)
        rows = sorted_rows(r for k, r in journal.rows.items() if k in wanted)
    summary = summarize(rows, tolerance_pp=spec.tolerance_pp, reference=_reference_accuracy(rows, labels[0]))
    try:
        attack = ATTACK_COLUMNS if spec.attack is not None else ()
        act = ACTIVATION_COLUMNS if spec.activations is not None else ()
        write_csv(directory / "sweep.csv", rows,
                  POINT_COLUMNS + (ADAPTIVE_COLUMNS if spec.adaptive else ()) + attack + act)
        write_csv(directory / "summary.csv", summary, SUMMARY_COLUMNS + attack + act)
        _write_spec(directory, {**record, "end_time": _now()})
    except OSError as exc:
        raise _output_error(directory, exc) from None
    return SweepResult(spec, directory, rows, summary, journal.damaged)
