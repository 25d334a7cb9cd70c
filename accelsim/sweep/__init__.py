"""Voltage sweeps: energy against accuracy for models on one SRAM profile.

``run_sweep(SweepSpec(...), out_dir)`` walks each model and chip from high to
low voltage and returns plain data (:class:`SweepResult`); the files it
writes are described in docs/file-formats.md ("Sweep results"). The package itself is
callable: ``accelsim.sweep(spec, out_dir)`` is ``run_sweep(spec, out_dir)``.
"""

import sys

from accelsim.sweep.results import OperatingPoint, operating_points, read_csv, summarize
from accelsim.sweep.runner import (
    SweepProgress,
    SweepResult,
    default_voltages,
    run_sweep,
)
from accelsim.sweep.spec import SweepError, SweepSpec, parse_voltages

__all__ = [
    "SweepSpec", "SweepError", "SweepResult", "SweepProgress", "OperatingPoint",
    "run_sweep", "parse_voltages", "default_voltages", "summarize", "operating_points", "read_csv",
]


class _SweepModule(type(sys.modules[__name__])):
    """Makes ``accelsim.sweep(spec, out_dir)`` a shorthand for :func:`run_sweep`."""

    def __call__(self, spec, out_dir, executor="local", resume=False, progress=None, overwrite=False):
        return run_sweep(spec, out_dir, executor=executor, resume=resume, progress=progress, overwrite=overwrite)


sys.modules[__name__].__class__ = _SweepModule
