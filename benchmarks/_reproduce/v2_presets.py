"""Table 1 (v2): the quantization steps with quantization-aware training per scheme.

v1 quantized one float model five ways, which cannot show what Stutz et al.'s
steps do in training (their rounding and unsigned steps come from training
each scheme). Here ``mnist-simplenet-s`` is trained once per preset, 8 bits,
:data:`EPOCHS` epochs (the zoo's SimpleNet recipe with a shorter schedule than
its 15), and evaluated under random bit flips (the ``uniform`` profile) at the
table's rates.

The paper's "signed asymmetric" quantizer is the ``asymmetric`` preset
(per-layer range [min, max], signed two's-complement codes, truncation), so
no sixth scheme is added.
"""

import time
from pathlib import Path

from accelsim import load_dataset, load_model
from accelsim.quant import PRESETS

from _reproduce.evaluation import RowEvaluator, load_cell, save_cell
from _reproduce.faults import fault_profile
from _reproduce.v2_training import train_missing

__all__ = ["EPOCHS", "RATES", "PresetsQAT"]

RATES = (0.001, 0.005, 0.01, 0.025, 0.05)
#: Training epochs per preset (the third session trained 2, the fifth 4).
EPOCHS = 4


class PresetsQAT:
    """Trains one model per preset and evaluates it under random bit flips.

    Parameters
    ----------
    folder : Path
        ``OUT/v2``.
    key : str
        The v2 settings key.
    chips : int
    test_limit : int
    dataset : str
        accelsim spec of MNIST.
    progress : callable
    """

    def __init__(self, folder, key, chips, test_limit, dataset, progress):
        self.models = Path(folder) / "presets" / "models"
        self.cells_folder = Path(folder) / "cells" / key / "presets"
        self.key = key
        self.chips = tuple(range(chips))
        self.test_limit = test_limit
        self.dataset = dataset
        self._progress = progress

    @staticmethod
    def name(preset):
        return f"qat-{preset}-8b"

    def config(self, preset):
        """The :class:`accelsim.train.TrainConfig` of ``preset``'s model."""
        from accelsim.train import TrainConfig

        return TrainConfig(dataset=self.dataset, arch="mnist-simplenet-s", epochs=EPOCHS, bits=8,
                           scheme=preset)

    def train(self, deadline=None):
        """Train the models not trained yet; False when the deadline stopped it."""
        return train_missing({self.name(p): self.config(p) for p in PRESETS}, self.models, self._progress, deadline)

    def _cell_path(self, preset, rate):
        return self.cells_folder / preset / f"{rate:g}.json"

    def cell(self, preset, rate):
        return load_cell(self._cell_path(preset, rate), self.key, self.chips)

    def compute(self, deadline=None):
        """Evaluate the missing cells; False when the deadline stopped it."""
        x, y = load_dataset(self.dataset, "test", limit=self.test_limit)
        profile = fault_profile("flip")
        for preset in PRESETS:
            checkpoint = self.models / f"{self.name(preset)}.pt"
            if not checkpoint.exists():
                continue
            evaluator = RowEvaluator(load_model(checkpoint), x, y, batch_size=self.test_limit)
            for rate in RATES:
                if self.cell(preset, rate) is not None:
                    continue
                if deadline is not None and time.time() > deadline:
                    return False
                cell = evaluator.cell(profile, rate, self.chips, self.key)
                save_cell(self._cell_path(preset, rate), cell)
                self._progress(f"v2 presets {preset} @ {rate:g}: RErr {100 * cell.rerr_mean:.2f} %")
        return True

    def markdown(self, halfwidth):
        """Table 1 (v2) in markdown; ``halfwidth`` maps per-chip values to a 95% half-width."""
        header = ["preset", "clean Err %"] + [f"RErr % @ {100 * r:g}%" for r in RATES]
        lines = ["**Table 1 (v2): quantization-aware training per preset** (`mnist-simplenet-s`, 8 bits, "
                 f"{EPOCHS} epochs each; random bit flips (`uniform` profile), chips 0..{self.chips[-1]}, ± 95% interval "
                 "over chips; `pending`: not computed)", "",
                 "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for preset in PRESETS:
            cells = [self.cell(preset, rate) for rate in RATES]
            known = [c for c in cells if c is not None]
            clean = f"{100 * known[0].clean_error:.2f}" if known else "pending"
            values = ["pending" if c is None else f"{100 * c.rerr_mean:.2f} ± {100 * halfwidth(c.robust_error):.2f}"
                      for c in cells]
            lines.append(f"| {preset} | {clean} | " + " | ".join(values) + " |")
        return "\n".join(lines) + "\n"
