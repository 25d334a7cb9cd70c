"""Table 4 (v2): does training on one chip's fixed faults carry over to other chips?

Stutz et al.'s protocol ("PattBET"): train on the persistent error pattern of
one profiled chip at one rate, then evaluate on that chip at the same and
lower rates and on other chips. A model trained on a fixed pattern does well
on its own chip and does not generalise, unlike RandBET. v1 tested it with
the model clipped at W = 0.05, which alone holds 10% random bit errors on
LeNet, so nothing was left to overfit; v2 trains it both clipped (RandBET's
W = 0.1) and unclipped, on the i.i.d. ``14nm`` profile and on
``14nm-columns`` (weak columns, spatially structured like a measured chip).

Each fault-aware model is ``mnist-simplenet-s`` trained like the zoo's
RandBET model (:data:`EPOCHS` epochs instead of its 8, errors injected once a
batch's clean loss is below 1.75, 8 bits), but with the faults of chip 0 at the voltage of
``TRAIN_RATE`` faulty cells instead of random flips. The zoo's normal and
RandBET SimpleNet models are the references. Checkpoints go to
``OUT/v2/generalisation/models``, cells to ``OUT/v2/cells/<key>/generalisation``.
"""

import time
from dataclasses import dataclass
from pathlib import Path

from accelsim import load_dataset, load_model, load_profile

from _reproduce.evaluation import RowEvaluator, load_cell, save_cell
from _reproduce.v2_training import train_missing

__all__ = ["EPOCHS", "PROFILES", "TRAIN_RATE", "EVAL_RATES", "FaultAware", "Generalisation"]

PROFILES = ("14nm", "14nm-columns")
TRAIN_RATE = 0.025
EVAL_RATES = (0.005, 0.01, 0.025)
TRAIN_CHIP = 0
CLIP_W = 0.1
#: Training epochs of each fault-aware model (the third session trained 1, the fifth 3).
EPOCHS = 3
REFERENCES = ("mnist-simplenet-normal-8b", "mnist-simplenet-randbet-8b")


@dataclass(frozen=True)
class FaultAware:
    """A model trained on chip :data:`TRAIN_CHIP`'s faults of ``profile``, clipped or not."""

    profile: str
    clipped: bool

    @property
    def name(self):
        return f"pattbet-{self.profile}-chip{TRAIN_CHIP}-{'clip' + format(CLIP_W, 'g') if self.clipped else 'noclip'}"

    @property
    def label(self):
        return f"fault-aware, {'clipped W = ' + format(CLIP_W, 'g') if self.clipped else 'unclipped'}"


class Generalisation:
    """Trains the fault-aware models and evaluates own-chip and other-chip cells.

    Parameters
    ----------
    folder : Path
        ``OUT/v2``.
    key : str
        The v2 settings key (cells of other settings are not reused).
    chips : int
        Other chips per cell: chips ``1..chips``.
    test_limit : int
        First test images.
    dataset : str
        accelsim spec of MNIST.
    progress : callable
    """

    def __init__(self, folder, key, chips, test_limit, dataset, progress):
        self.folder = Path(folder)
        self.key = key
        self.other_chips = tuple(range(TRAIN_CHIP + 1, TRAIN_CHIP + 1 + chips))
        self.test_limit = test_limit
        self.dataset = dataset
        self._progress = progress
        self.fault_aware = tuple(FaultAware(p, c) for p in PROFILES for c in (False, True))

    # -- training ----------------------------------------------------------------
    def _checkpoint(self, model):
        return self.folder / "generalisation" / "models" / f"{model.name}.pt"

    def train_vdd_v(self, profile):
        return round(float(load_profile(profile).voltage_for_ber(TRAIN_RATE)), 4)

    def config(self, model):
        """The :class:`accelsim.train.TrainConfig` of ``model`` (the zoo's RandBET recipe on a fixed chip)."""
        from accelsim.train import TrainConfig

        return TrainConfig(dataset=self.dataset, arch="mnist-simplenet-s", epochs=EPOCHS, bits=8, method="randbet",
                           clip=CLIP_W if model.clipped else None, randbet_start_loss=1.75,
                           fault_model=f"profile:{model.profile}@{self.train_vdd_v(model.profile)}",
                           fault_chip=TRAIN_CHIP)

    def train(self, deadline=None):
        """Train the fault-aware models not trained yet; False when the deadline stopped it."""
        configs = {m.name: self.config(m) for m in self.fault_aware}
        return train_missing(configs, self._checkpoint(self.fault_aware[0]).parent, self._progress, deadline)

    # -- evaluation --------------------------------------------------------------
    def _rows(self):
        """(row name, label, QuantizedModel source) for every row whose model exists."""
        rows = [(name, name.replace("mnist-simplenet-", "zoo ").replace("-8b", ""), name) for name in REFERENCES]
        rows += [(m.name, m.label, self._checkpoint(m)) for m in self.fault_aware if self._checkpoint(m).exists()]
        return rows

    def _cell_path(self, row, profile, chips, rate):
        where = "own" if chips == (TRAIN_CHIP,) else "others"
        return self.folder / "cells" / self.key / "generalisation" / profile / row / where / f"{rate:g}.json"

    def cell(self, row, profile, chips, rate):
        return load_cell(self._cell_path(row, profile, chips, rate), self.key, chips)

    def compute(self, deadline=None):
        """Evaluate the missing cells; False when the deadline stopped it."""
        x, y = load_dataset(self.dataset, "test", limit=self.test_limit)
        for row, _, source in self._rows():
            evaluator = RowEvaluator(load_model(source), x, y, batch_size=self.test_limit)
            for profile_name in self._profiles_of(row):
                profile = load_profile(profile_name)
                for chips in ((TRAIN_CHIP,), self.other_chips):
                    for rate in EVAL_RATES:
                        if self.cell(row, profile_name, chips, rate) is not None:
                            continue
                        if deadline is not None and time.time() > deadline:
                            return False
                        cell = evaluator.cell(profile, rate, chips, self.key)
                        save_cell(self._cell_path(row, profile_name, chips, rate), cell)
                        self._progress(f"v2 generalisation {row} on {profile_name} chips {chips[0]}..{chips[-1]} "
                                       f"@ {rate:g}: RErr {100 * cell.rerr_mean:.2f} %")
        return True

    def _profiles_of(self, row):
        aware = [m.profile for m in self.fault_aware if m.name == row]
        return aware or PROFILES

    # -- table -------------------------------------------------------------------
    def markdown(self, halfwidth):
        """Table 4 (v2) in markdown; ``halfwidth`` maps per-chip values to a 95% half-width."""
        header = (["model", "profile"] + [f"own chip @ {100 * r:g}%" for r in EVAL_RATES]
                  + [f"other chips @ {100 * r:g}%" for r in EVAL_RATES])
        lines = [f"**Table 4 (v2): training on one chip's faults, evaluated on that chip and on others** "
                 f"(`mnist-simplenet-s`, 8 bits; fault-aware models trained on chip {TRAIN_CHIP}'s faults at "
                 f"{100 * TRAIN_RATE:g}% faulty cells, {EPOCHS} epoch{'s' * (EPOCHS != 1)}, errors once the clean loss is below 1.75; "
                 f"RErr % on chip {TRAIN_CHIP} and, ± 95% interval, over chips {self.other_chips[0]}.."
                 f"{self.other_chips[-1]}; rates are faulty cells `profile_ber`; `pending`: not computed)", "",
                 "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        rows = {name: label for name, label, _ in self._rows()}
        for model in self.fault_aware:
            rows.setdefault(model.name, model.label)
        for row, label in rows.items():
            for profile in self._profiles_of(row):
                values = []
                for chips in ((TRAIN_CHIP,), self.other_chips):
                    for rate in EVAL_RATES:
                        cell = self.cell(row, profile, chips, rate)
                        if cell is None:
                            values.append("pending")
                        elif len(chips) == 1:
                            values.append(f"{100 * cell.rerr_mean:.2f}")
                        else:
                            values.append(f"{100 * cell.rerr_mean:.2f} ± {100 * halfwidth(cell.robust_error):.2f}")
                lines.append(f"| {label} | `{profile}` | " + " | ".join(values) + " |")
        return "\n".join(lines) + "\n"
