"""Table cells: robust error of one quantized model at one rate, over chips, cached on disk.

A cell reads the model's weights out of a fault profile's memory at the
voltage of the rate, on each chip, and runs the test set. Robust error (RErr,
Stutz et al.) counts an example as an error when the faulty or the clean
quantized model misclassifies it. Every finished cell is written to its own
JSON file, so an interrupted run redoes at most one cell.
"""

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = ["CellResult", "RowEvaluator", "load_cell", "save_cell"]

CELL_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class CellResult:
    """Per-chip results of one table cell.

    Attributes
    ----------
    rate : float
        Population bit error rate of the profile at ``vdd_v``.
    vdd_v : float
        Supply voltage of the weight SRAM, in volts.
    chips : tuple of int
    robust_error, error, model_ber : tuple of float
        Per chip: robust error, plain test error, and the share of stored
        bits whose read value differs from the written one.
    clean_error : float
        Test error of the fault-free quantized model.
    key : str
        Fingerprint of the settings the cell was computed under.
    """

    rate: float
    vdd_v: float
    chips: tuple
    robust_error: tuple
    error: tuple
    model_ber: tuple
    clean_error: float
    key: str

    def __post_init__(self):
        for name in ("chips", "robust_error", "error", "model_ber"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        lengths = {len(self.chips), len(self.robust_error), len(self.error), len(self.model_ber)}
        if len(lengths) != 1 or not self.chips:
            raise ValueError(f"CellResult: chips and per-chip columns differ in length ({sorted(lengths)})")

    @property
    def rerr_mean(self):
        """Mean robust error over chips."""
        return float(np.mean(self.robust_error))

    @property
    def rerr_std(self):
        """Standard deviation of the robust error over chips (0 for one chip)."""
        return float(np.std(self.robust_error, ddof=1)) if len(self.chips) > 1 else 0.0

    @property
    def rerr_ci95(self):
        """Half-width of the 95% interval of the mean robust error over chips (Student t)."""
        from _reproduce.v2 import ci95_halfwidth

        return ci95_halfwidth(self.robust_error)

    def to_dict(self):
        """JSON-ready dict with a schema version."""
        return {"schema_version": CELL_SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        if data.pop("schema_version", None) != CELL_SCHEMA_VERSION:
            raise ValueError(f"cached cell has schema_version other than {CELL_SCHEMA_VERSION}")
        return cls(**data)


def load_cell(path, key, chips):
    """The cached cell at ``path`` if it was computed under ``key`` on ``chips``, else None."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        cell = CellResult.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError):
        return None  # a damaged or outdated cache file is recomputed, not trusted
    return cell if cell.key == key and cell.chips == tuple(chips) else None


def save_cell(path, cell):
    """Write ``cell`` to ``path`` atomically (a crash leaves the old file or none)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(cell.to_dict(), indent=1) + "\n")
    tmp.replace(path)


class RowEvaluator:
    """Evaluates one quantized model on fixed test data, cell by cell.

    Parameters
    ----------
    qm : accelsim.engine.QuantizedModel
    x, y : torch.Tensor
        Test inputs and labels.
    batch_size : int
    """

    def __init__(self, qm, x, y, batch_size=2048):
        self._qm = qm
        self._x = x
        self._y = y
        self._batch_size = batch_size
        self._clean_wrong = None

    @property
    def clean_wrong(self):
        """Mask of the test examples the fault-free quantized model misclassifies."""
        if self._clean_wrong is None:
            logits = self._qm.clean_run(self._x, self._batch_size).logits
            self._clean_wrong = (logits.argmax(dim=1) != self._y).numpy()
        return self._clean_wrong

    @property
    def clean_error(self):
        """Test error of the fault-free quantized model."""
        return float(self.clean_wrong.mean())

    def cell(self, profile, rate, chips, key):
        """Evaluate the model at ``profile``'s voltage of ``rate`` on each of ``chips``.

        Returns
        -------
        CellResult
        """
        vdd_v = float(profile.voltage_for_ber(rate))
        if not math.isfinite(vdd_v):
            raise ValueError(f"profile {profile.name} has no voltage of bit error rate {rate}")
        robust, plain, ber = [], [], []
        for chip in chips:
            evaluator = self._qm.evaluator(self._x, profile, chip=chip, batch_size=self._batch_size)
            result = evaluator.run(vdd_v)
            wrong = (result.logits.argmax(dim=1) != self._y).numpy()
            robust.append(float((wrong | self.clean_wrong).mean()))
            plain.append(float(wrong.mean()))
            ber.append(float(result.model_ber))
        return CellResult(rate=float(rate), vdd_v=vdd_v, chips=tuple(chips), robust_error=tuple(robust),
                          error=tuple(plain), model_ber=tuple(ber), clean_error=self.clean_error, key=key)
