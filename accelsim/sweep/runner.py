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
from accelsim.models import model_path
from accelsim.sweep.executors import make_executor
from accelsim.sweep.journal import JOURNAL_NAME, Journal, point_key
from accelsim.sweep.results import (
    POINT_COLUMNS,
    SUMMARY_COLUMNS,
    OperatingPoint,
    operating_points,
    sorted_rows,
    summarize,
    write_csv,
)
from accelsim.sweep.spec import SweepError, SweepSpec
from accelsim.sweep.unit import load_unit_inputs, model_label

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

    def operating_points(self, tolerance_pp: float = 1.0) -> list[OperatingPoint]:
        """Per model, the lowest-energy voltage within ``tolerance_pp`` of the reference accuracy."""
        return operating_points(self.summary, [model_label(m, self.spec.bits) for m in self.spec.models], tolerance_pp)


def default_voltages(profile: "Profile", n: int = _DEFAULT_POINTS) -> tuple[float, ...]:
    """Nominal, then ``n`` voltages from Vmin down to where BER reaches 10% (or the floor)."""
    try:
        low = max(profile.vdd_floor_v, profile.voltage_for_ber(_DEFAULT_LOWEST_BER))
    except ValueError:
        low = profile.vdd_floor_v
    ladder = np.linspace(profile.vdd_min_v, low, n)
    values = {round(float(v), 4) for v in (profile.vdd_nominal_v, *ladder)}
    return tuple(sorted(values, reverse=True))


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tensor_sha256(*tensors):
    digest = hashlib.sha256()
    for t in tensors:
        array = t.detach().cpu().contiguous().numpy()
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
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


def _check_labels(spec):
    seen = {}
    for name in spec.models:
        label = model_label(name, spec.bits)
        if label in seen:
            raise SweepError(f"--model {seen[label]!r} and --model {name!r} would share the label "
                             f"{label!r} in sweep.csv; rename one checkpoint file")
        seen[label] = name


def _prepare(spec, allow_large=False):
    """Load and check everything before anything is written; return (spec, fingerprints)."""
    _check_limits(spec, allow_large)  # chips and explicit voltages, before any loading
    _check_labels(spec)
    profile, _, (x, y) = load_unit_inputs(spec, spec.models[0])
    if len(y) == 0:
        raise SweepError(f"--dataset {spec.dataset!r} has no test examples; a sweep needs at least one")
    if not spec.voltages_v:
        spec = dataclasses.replace(spec, voltages_v=default_voltages(profile))
        _check_limits(spec, allow_large)
    for vdd_v in spec.voltages_v:
        profile.check_voltage(vdd_v)
    models = {}
    for name in spec.models:
        load_unit_inputs(spec, name)
        models[name] = _sha256(model_path(name))
    versions = _versions()
    fingerprints = {"profile": profile.fingerprint(), "models": models, "dataset": _tensor_sha256(x, y),
                    "code": {k: versions[k] for k in _RESULT_VERSIONS}}
    return spec, fingerprints


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
    changes += [f"checkpoint {name}" for name, sha in current["models"].items() if old_models.get(name) != sha]
    if "dataset" in previous and previous["dataset"] != current["dataset"]:
        changes.append("the dataset's test examples")
    old_code = previous.get("code") or {}
    changes += [f"{k} version {old_code[k]} -> {v}" for k, v in current["code"].items()
                if k in old_code and old_code[k] != v]
    return changes


def _open_directory(directory, spec, fingerprints, resume):
    """Create (or check) the results folder; return (directory, previous record or None)."""
    spec_file = directory / SPEC_FILE
    has_results = spec_file.exists() or spec_file.is_symlink() or (directory / JOURNAL_NAME).exists()
    if has_results and not resume:
        raise SweepError(f"{directory} already holds sweep results; pass --resume to continue that sweep "
                         "or choose another --out")
    if not has_results:
        return None
    if not spec_file.exists() or spec_file.is_symlink():
        raise SweepError(f"--resume: {directory} has a journal but no sweep.json, so its rows cannot be "
                         "checked against this sweep; choose another --out")
    previous = _read_record(spec_file)
    differing = sorted(k for k, v in spec.to_dict().items() if previous["spec"].get(k) != _jsonable(v))
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


def run_sweep(spec: SweepSpec, out_dir: str | os.PathLike, executor: str = "local", resume: bool = False,
              progress: Callable[[SweepProgress], None] | None = None, *,
              allow_large: bool = False) -> SweepResult:
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
    spec, fingerprints = _prepare(spec, allow_large)
    runner = make_executor(executor)
    try:
        directory, lock = _make_directory(out_dir)
        with lock:
            previous = _open_directory(directory, spec, fingerprints, resume)
            return _run_locked(spec, directory, fingerprints, runner, previous, progress)
    finally:
        runner.close()


def _run_locked(spec, directory, fingerprints, runner, previous, progress):
    now = _now()
    record = {"spec": spec.to_dict(), "versions": _versions(), "fingerprints": fingerprints,
              "seeds": {"sweep": spec.seed}, "executor": runner.name,
              "start_time": previous.get("start_time", now) if previous else now,
              "resumes": [*(previous.get("resumes") or []), now] if previous else [],
              "end_time": None}
    labels = {name: model_label(name, spec.bits) for name in spec.models}
    wanted = {point_key(labels[m], c, v) for m in spec.models for c in range(spec.chips)
              for v in spec.voltages_v}
    try:
        _write_spec(directory, record)
        journal = Journal(directory, POINT_COLUMNS)
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
        for model in spec.models:
            for chip in range(spec.chips):
                rows = {v: finished[point_key(labels[model], chip, v)] for v in spec.voltages_v
                        if point_key(labels[model], chip, v) in finished}
                if len(rows) < len(spec.voltages_v):
                    units.append((model, chip, rows))
        runner.map_units(spec, units, on_row)
        rows = sorted_rows(r for k, r in journal.rows.items() if k in wanted)
    summary = summarize(rows)
    try:
        write_csv(directory / "sweep.csv", rows, POINT_COLUMNS)
        write_csv(directory / "summary.csv", summary, SUMMARY_COLUMNS)
        _write_spec(directory, {**record, "end_time": _now()})
    except OSError as exc:
        raise _output_error(directory, exc) from None
    return SweepResult(spec, directory, rows, summary, journal.damaged)
