"""Run a sweep: check the spec, run its units, journal points, write the result files."""

import dataclasses
import datetime
import hashlib
import json
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accelsim._version import __version__
from accelsim.models import model_path
from accelsim.sweep.executors import make_executor
from accelsim.sweep.journal import Journal, point_key
from accelsim.sweep.results import (
    ATTACK_COLUMNS,
    POINT_COLUMNS,
    SUMMARY_COLUMNS,
    operating_points,
    sorted_rows,
    summarize,
    write_csv,
)
from accelsim.sweep.spec import SweepError, SweepSpec
from accelsim.sweep.unit import load_unit_inputs, model_label

__all__ = ["run_sweep", "SweepResult", "SweepProgress", "default_voltages"]

SPEC_FILE = "sweep.json"
_DEFAULT_POINTS = 12
_DEFAULT_LOWEST_BER = 0.1


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
    """A finished sweep: its spec, point rows and summary rows (plain dicts)."""

    spec: SweepSpec
    directory: Path
    rows: list
    summary: list

    def operating_points(self, tolerance_pp=1.0):
        """Per model, the lowest-energy voltage within ``tolerance_pp`` of the reference accuracy."""
        return operating_points(self.summary, [model_label(m, self.spec.bits) for m in self.spec.models], tolerance_pp)


def default_voltages(profile, n=_DEFAULT_POINTS):
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


def _versions():
    import numba
    import torch

    return {"accelsim": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "torch": torch.__version__}


def _prepare(spec):
    """Load what the driver must check before any work; return (spec, fingerprints)."""
    profile = load_unit_inputs(spec, spec.models[0])[0]
    if not spec.voltages_v:
        spec = dataclasses.replace(spec, voltages_v=default_voltages(profile))
    for vdd_v in spec.voltages_v:
        profile.check_voltage(vdd_v)
    models = {}
    for name in spec.models:
        load_unit_inputs(spec, name)
        models[name] = _sha256(model_path(name))
    fingerprints = {"profile": profile.fingerprint(), "models": models}
    return spec, fingerprints


def _open_directory(directory, spec, resume):
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".accelsim-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise SweepError(f"cannot write results to {directory} ({exc.strerror}); choose a writable --out") from None
    spec_file = directory / SPEC_FILE
    has_results = spec_file.exists() or (directory / "journal.jsonl").exists()
    if has_results and not resume:
        raise SweepError(f"{directory} already holds sweep results; pass --resume to continue that sweep "
                         "or choose another --out")
    if resume and spec_file.exists():
        previous = json.loads(spec_file.read_text())["spec"]
        differing = sorted(k for k, v in spec.to_dict().items() if previous.get(k) != _jsonable(v))
        if differing:
            raise SweepError(f"--resume: {directory} holds a sweep with a different spec "
                             f"(differs in {', '.join(differing)}); rerun with the same arguments "
                             "or choose another --out")
    return directory


def _jsonable(value):
    return json.loads(json.dumps(value))


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _write_spec(directory, spec, fingerprints, executor, started, finished=None):
    record = {"spec": spec.to_dict(), "versions": _versions(), "fingerprints": fingerprints,
              "seeds": {"sweep": spec.seed}, "executor": executor, "start_time": started,
              "end_time": finished}
    (directory / SPEC_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def run_sweep(spec, out_dir, executor="local", resume=False, progress=None):
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

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepError, ProfileError, ...
        For anything the user can fix, before any computation starts.
    """
    spec, fingerprints = _prepare(spec)
    directory = _open_directory(out_dir, spec, resume)
    started = _now()
    labels = {name: model_label(name, spec.bits) for name in spec.models}
    wanted = {point_key(labels[m], c, v) for m in spec.models for c in range(spec.chips)
              for v in spec.voltages_v}
    runner = make_executor(executor)
    try:
        _write_spec(directory, spec, fingerprints, runner.name, started)
        with Journal(directory) as journal:
            done = [len(wanted.intersection(journal.rows))]

            def on_row(row):
                journal.append(row)
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
    finally:
        runner.close()
    summary = summarize(rows)
    extra = ATTACK_COLUMNS if spec.attack is not None else ()
    write_csv(directory / "sweep.csv", rows, POINT_COLUMNS + extra)
    write_csv(directory / "summary.csv", summary, SUMMARY_COLUMNS + extra)
    _write_spec(directory, spec, fingerprints, runner.name, started, _now())
    return SweepResult(spec, directory, rows, summary)
