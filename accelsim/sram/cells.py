"""Sparse tables of faulty cells: the currency between profiles and memory."""

from dataclasses import dataclass

import numpy as np

__all__ = ["CellTable", "SA0", "SA1", "FLIP", "FAULT_KIND_NAMES"]

SA0, SA1, FLIP = 0, 1, 2
FAULT_KIND_NAMES = {SA0: "stuck-at-0", SA1: "stuck-at-1", FLIP: "flip"}


@dataclass(frozen=True, eq=False)
class CellTable:
    """Cells that fail at or above a profile's floor voltage.

    Attributes
    ----------
    cell_index : ndarray of int64
        Flat index into ``arrays x rows x cols``, strictly increasing.
    v_fail_v : ndarray of float64
        Fail voltage in volts: the cell is faulty at a supply ``V <= v_fail_v``.
    fault_kind : ndarray of uint8
        0 stuck-at-0, 1 stuck-at-1, 2 flip.
    p_error : ndarray of float64
        Probability in (0, 1] that a faulty cell errs in a run (1: always).
    """

    cell_index: np.ndarray
    v_fail_v: np.ndarray
    fault_kind: np.ndarray
    p_error: np.ndarray

    def __post_init__(self):
        n = len(self.cell_index)
        for name, dtype in (("cell_index", np.int64), ("v_fail_v", np.float64),
                            ("fault_kind", np.uint8), ("p_error", np.float64)):
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.ndim != 1:
                raise TypeError(f"CellTable.{name} must be a 1-D {np.dtype(dtype).name} array")
            if len(arr) != n:
                raise ValueError(f"CellTable.{name} has {len(arr)} entries, cell_index has {n}")

    def __len__(self):
        return len(self.cell_index)

    @classmethod
    def empty(cls):
        return cls(np.empty(0, np.int64), np.empty(0, np.float64),
                   np.empty(0, np.uint8), np.empty(0, np.float64))
