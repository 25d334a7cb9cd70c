"""Reproduction v2: the zoo's SimpleNet models on the 14 nm profiles, with 95% intervals.

One grid of cells per model: robust error over chips at the voltages of the
14 nm profile's bit error rates (``RATES``) and at its Vmin. From the same
cells come

- Table 2 on SimpleNet: RErr (mean and 95% interval over chips) per rate,
  with ``≈`` where a robust method's interval overlaps normal training's;
- the headline: the lowest grid voltage whose mean accuracy over chips stays
  within the tolerance of the clean accuracy (1 point at 8 bits, 2.5 at 4),
  and the weight SRAM energy saved there against Vmin (edge accelerator,
  14 nm), next to Stutz et al.'s 20% (8 bits) and 30% (4 bits);
- Table 3 (v2): sharpness of the same models measured scale-invariantly
  (the adaptive Hessian trace ``sum_i w_i^2 H_ii``) beside the measures of
  :mod:`accelsim.train.sharpness`, next to their RErr at 1%;
- the profiled-chip set (``14nm``, ``14nm-columns``, ``14nm-chip1..3``): RErr
  of the MNIST 8-bit models at the voltage of 1% faulty cells on each;
- the fault statistics of the shipped 14 nm profiles, with the faulty-cell
  rate (``profile_ber``, the tables' rate) beside the flipped-bit rate of the
  stored model (``model_ber``).

A model stops descending once its mean RErr passes ``STOP_RERR`` (its lower
cells would only repeat chance-level errors). Cells are cached as JSON in
``OUT/v2/cells``; a rerun computes only the missing ones.
"""

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accelsim import load_dataset, load_profile
from accelsim.accel import default_accelerator
from accelsim.models import load_model, model_path
from accelsim.sram import FLIP, SA0, SA1

from _reproduce.evaluation import RowEvaluator, load_cell, save_cell
from _reproduce.v2_generalisation import Generalisation
from _reproduce.v2_presets import PresetsQAT

__all__ = ["V2Settings", "V2Run", "MODELS", "ci95_halfwidth"]

#: Faulty-cell rates (profile_ber of the 14 nm profile) of the grid, below Vmin.
RATES = (1e-4, 1e-3, 0.0025, 0.005, 0.01, 0.025, 0.05)
STOP_RERR = 0.5
TOLERANCE_POINTS = {8: 1.0, 4: 2.5}
PAPER_SAVING = {8: 0.20, 4: 0.30}
#: Zoo models of the v2 tables, in row order: (name, dataset folder name).
MODELS = (
    "mnist-simplenet-normal-8b", "mnist-simplenet-clipping-8b", "mnist-simplenet-clipping0.1-8b",
    "mnist-simplenet-clipping0.025-8b", "mnist-simplenet-randbet-8b",
    "mnist-simplenet-normal-4b", "mnist-simplenet-clipping-4b", "mnist-simplenet-clipping0.1-4b",
    "mnist-simplenet-clipping0.025-4b", "mnist-simplenet-randbet-4b",
    "fashion-mnist-simplenet-normal-8b", "fashion-mnist-simplenet-clipping-8b", "fashion-mnist-simplenet-randbet-8b",
)
#: Profiles of the profiled-chip table and the rate (faulty cells) they are compared at.
CHIP_SET = ("14nm", "14nm-columns", "14nm-chip1", "14nm-chip2", "14nm-chip3")
CHIP_SET_RATE = 0.01
CHIP_SET_MODELS = ("mnist-simplenet-normal-8b", "mnist-simplenet-clipping-8b", "mnist-simplenet-randbet-8b")
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
_DATASET_FOLDERS = {"mnist": "mnist", "fashion-mnist": "fashion-mnist"}


def ci95_halfwidth(values):
    """Half-width of the 95% interval of the mean of ``values`` (Student t; 0 for one value)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return 0.0
    from scipy.stats import t

    return float(t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))


@dataclass(frozen=True)
class V2Settings:
    """Chips per cell, test examples, profile of the grid."""

    chips: int = 20
    test_limit: int = 500
    profile: str = "14nm"

    def key(self):
        return f"v2-{self.profile}-{self.chips}-{self.test_limit}"


class V2Run:
    """The v2 cells and tables in ``out/v2``."""

    def __init__(self, out, settings, progress):
        self.folder = Path(out) / "v2"
        self.settings = settings
        self._progress = progress
        self.profile = load_profile(settings.profile)
        self.accelerator = default_accelerator()
        trained_tables = (self.folder, settings.key(), settings.chips, settings.test_limit, _dataset_spec("mnist"),
                          progress)
        #: Tables whose models v2 trains itself, by the name ``compute`` knows them by.
        self.trained = {"presets": PresetsQAT(*trained_tables), "generalisation": Generalisation(*trained_tables)}

    def available(self):
        """The models of :data:`MODELS` whose checkpoint is in the zoo."""
        names = []
        for name in MODELS:
            try:
                model_path(name)
            except Exception:  # not trained (yet): its rows say so
                continue
            names.append(name)
        return names

    def _cell_path(self, name, rate):
        return self.folder / "cells" / self.settings.key() / name / f"{rate:g}.json"

    def _grid(self):
        vmin_rate = float(self.profile.ber(self.profile.vdd_min_v))
        return (vmin_rate, *RATES)

    def cells(self, name):
        """Cached cells of ``name``, by rate (missing rates absent)."""
        chips = tuple(range(self.settings.chips))
        found = {}
        for rate in self._grid():
            cell = load_cell(self._cell_path(name, rate), self.settings.key(), chips)
            if cell is not None:
                found[rate] = cell
        return found

    def sharpness(self, name, compute=False):
        """Sharpness measures of ``name`` on 512 training images (cached), or None."""
        path = self.folder / "sharpness" / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text())
        if not compute:
            return None
        from accelsim.train.sharpness import adaptive_hessian_trace, measure_sharpness

        qm = load_model(name)
        x, y = load_dataset(_dataset_spec(qm.meta["dataset"]), "train", limit=512)
        module = qm.reference_module().eval()
        measured = measure_sharpness(module, x, y, seed=0).to_dict()
        weights = {n: p.detach() for n, p in module.named_parameters()}
        measured["adaptive_hessian_trace"] = adaptive_hessian_trace(module, weights, x, y, samples=8, seed=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(measured, indent=1) + "\n")
        return measured

    def _sharpness_table(self):
        lines = ["**Table 3 (v2): sharpness, scale-dependent and scale-invariant** (reference module of "
                 "each 8-bit model, 512 training images; max loss increase within a 5% relative perturbation "
                 "per tensor; Hessian trace by Hutchinson, 8 samples; adaptive trace = sum of w_i^2 H_ii, "
                 "invariant to rescaling weights across a ReLU or into a normalisation)", "",
                 "| model | max loss increase | Hessian trace | adaptive Hessian trace | RErr % @ 1% |",
                 "|---|---|---|---|---|"]
        for name in MODELS:
            measured = self.sharpness(name)
            if measured is None:
                lines.append(f"| {name} | pending | pending | pending | pending |")
                continue
            cell = self.cells(name).get(0.01)
            rerr = f"{100 * cell.rerr_mean:.2f}" if cell is not None else "-"
            lines.append(f"| {name} | {measured['max_loss_increase']:.4g} | {measured['hessian_trace']:.4g} | "
                         f"{measured['adaptive_hessian_trace']:.4g} | {rerr} |")
        return "\n".join(lines) + "\n"

    def compute(self, names=None, deadline=None):
        """Evaluate the missing cells of ``names`` (default: every available model, then Tables 1 and 4).

        ``"presets"`` and ``"generalisation"`` among ``names`` train and
        evaluate Table 1 (v2) and Table 4 (v2).
        """
        names = list(names or [*self.available(), *self.trained])
        self._compute_models([n for n in names if n not in self.trained], deadline)
        for name, table in self.trained.items():
            if name in names and table.train(deadline):
                table.compute(deadline)

    def _compute_models(self, names, deadline):
        chips = tuple(range(self.settings.chips))
        for name in names:
            self.sharpness(name, compute=True)
            qm = load_model(name)
            x, y = load_dataset(_dataset_spec(qm.meta["dataset"]), "test", limit=self.settings.test_limit)
            evaluator = RowEvaluator(qm, x, y, batch_size=self.settings.test_limit)
            for rate in self._grid():
                if deadline is not None and time.time() > deadline:
                    self._progress("v2: deadline reached, stopping (rerun to continue)")
                    return
                path = self._cell_path(name, rate)
                cell = load_cell(path, self.settings.key(), chips)
                if cell is None:
                    start = time.perf_counter()
                    cell = _cell_at_voltage(evaluator, self.profile, rate, chips, self.settings.key())
                    save_cell(path, cell)
                    self._progress(f"v2 {name} @ {rate:g} ({cell.vdd_v:.4f} V): RErr "
                                   f"{100 * cell.rerr_mean:.2f} ± {100 * ci95_halfwidth(cell.robust_error):.2f} % "
                                   f"({time.perf_counter() - start:.0f} s)")
                if cell.rerr_mean > STOP_RERR:
                    break
            if name in CHIP_SET_MODELS:
                for profile_name in CHIP_SET[1:]:
                    path = self._chip_set_path(name, profile_name)
                    if load_cell(path, self.settings.key(), chips) is None:
                        cell = _cell_at_voltage(evaluator, load_profile(profile_name), CHIP_SET_RATE, chips,
                                                self.settings.key())
                        save_cell(path, cell)
                        self._progress(f"v2 {name} on {profile_name} @ {CHIP_SET_RATE:g}: RErr "
                                       f"{100 * cell.rerr_mean:.2f} %")

    def _chip_set_path(self, name, profile_name):
        if profile_name == self.settings.profile:
            return self._cell_path(name, CHIP_SET_RATE)
        return self.folder / "cells" / self.settings.key() / "chip-set" / profile_name / f"{name}.json"

    def _chip_set_table(self):
        chips = tuple(range(self.settings.chips))
        lines = [f"**The profiled-chip set: RErr % (± 95%) at {100 * CHIP_SET_RATE:g}% faulty cells** "
                 "(each profile at the voltage of that rate; flipped bits `model_ber` in brackets)", "",
                 "| model | " + " | ".join(f"`{p}`" for p in CHIP_SET) + " |", "|---|" + "---|" * len(CHIP_SET)]
        for name in CHIP_SET_MODELS:
            values = []
            for profile_name in CHIP_SET:
                cell = load_cell(self._chip_set_path(name, profile_name), self.settings.key(), chips)
                values.append("pending" if cell is None else
                              f"{100 * cell.rerr_mean:.2f} ± {100 * ci95_halfwidth(cell.robust_error):.2f} "
                              f"({100 * np.mean(cell.model_ber):.2f}%)")
            lines.append(f"| {name} | " + " | ".join(values) + " |")
        return "\n".join(lines) + "\n"

    # -- tables ------------------------------------------------------------------
    def markdown(self):
        s = self.settings
        lines = [f"Settings: zoo SimpleNet models (`mnist-simplenet-s`), profile `{s.profile}`, chips 0..{s.chips - 1} "
                 f"per cell, the first {s.test_limit} test images; ± is the half-width of the 95% interval of "
                 "the mean over chips (Student t). Rates are the profile's faulty-cell rate (`profile_ber`).", ""]
        lines += [self._fault_table(), self._rerr_table(), self._headline_table(), self._chip_set_table(),
                  self._sharpness_table(), *(table.markdown(ci95_halfwidth) for table in self.trained.values())]
        return "\n".join(lines)

    def _fault_table(self):
        rows = ["**Fault statistics of the shipped 14 nm profiles** (chips 0-4, all faulty cells at the floor)",
                "", "| profile | 0->1 : 1->0 (stuck-at-1 : stuck-at-0 cells) | two-way flip cells | "
                "persistent faulty cells | profile_ber at 0.566 V |", "|---|---|---|---|---|"]
        for name in ("14nm", "14nm-columns", "14nm-chip1", "14nm-chip2", "14nm-chip3"):
            stats = self._fault_stats(name)
            rows.append(f"| `{name}` | {stats['ratio']:.2f} | {100 * stats['flip']:.0f}% | "
                        f"{100 * stats['persistent']:.0f}% | {100 * stats['ber']:.2f}% |")
        return "\n".join(rows) + "\n"

    def _fault_stats(self, name):
        path = self.folder / "faults" / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text())
        profile = load_profile(name)
        kinds = np.zeros(3)
        persistent = total = 0
        for chip in range(5):
            cells = profile.chip_cells(chip)
            kinds += np.bincount(cells.fault_kind, minlength=3)
            persistent += int(np.sum(cells.p_error == 1.0))
            total += len(cells)
        stats = {"ratio": float(kinds[SA1] / kinds[SA0]) if kinds[SA0] else math.inf,
                 "flip": float(kinds[FLIP] / total), "persistent": persistent / total,
                 "ber": float(profile.ber(0.566)), "fingerprint": profile.generator.fingerprint}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stats) + "\n")
        return stats

    def _rerr_table(self):
        grid = self._grid()
        header = ["model", "clean Err %"] + [f"RErr % @ Vmin ({100 * grid[0]:.1g}%)"] + \
                 [f"@ {100 * r:g}%" for r in grid[1:]] + ["flipped bits (model_ber) @ 1%"]
        lines = ["**Table 2 (v2): RErr on SimpleNet, 14 nm profile** (≈: the interval overlaps normal "
                 "training's at the same dataset and bits, a difference within noise; `-`: not evaluated, "
                 "the row passed 50% RErr at a higher voltage; `pending`: not computed)", "",
                 "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name in MODELS:
            cells = self.cells(name)
            if not cells:
                lines.append(f"| {name} | " + " | ".join(["pending"] * (len(header) - 1)) + " |")
                continue
            reference = self.cells(_normal_of(name))
            values = []
            stopped = False
            for rate in grid:
                cell = cells.get(rate)
                if cell is None:
                    values.append("-" if stopped else "pending")
                    continue
                stopped = cell.rerr_mean > STOP_RERR
                text = f"{100 * cell.rerr_mean:.2f} ± {100 * ci95_halfwidth(cell.robust_error):.2f}"
                ref = reference.get(rate)
                if name != _normal_of(name) and ref is not None and _overlap(cell, ref):
                    text += " ≈"
                values.append(text)
            at1 = cells.get(0.01)
            flipped = f"{100 * np.mean(at1.model_ber):.2f}%" if at1 is not None else "-"
            clean = next(iter(cells.values())).clean_error
            lines.append(f"| {name} | {100 * clean:.2f} | " + " | ".join(values) + f" | {flipped} |")
        return "\n".join(lines) + "\n"

    def operating_point(self, name):
        """(vdd_v, cell, tolerance) of the lowest grid voltage within tolerance, or None."""
        cells = self.cells(name)
        if not cells:
            return None
        bits = int(name.rsplit("-", 1)[1].rstrip("b"))
        tolerance = TOLERANCE_POINTS[bits] / 100
        best = None
        for rate in self._grid():
            cell = cells.get(rate)
            if cell is None:
                break
            if np.mean(cell.error) - cell.clean_error <= tolerance:
                best = cell
            else:
                break
        return best, tolerance

    def _weight_energy_j(self, qm, vdd_v):
        breakdown = self.accelerator.energy(qm.workloads(), self.profile.energy, vdd_v,
                                            self.profile.vdd_nominal_v)
        return breakdown.weight_mem_j, breakdown.total_j

    def _headline_table(self):
        lines = ["**Headline: weight SRAM energy saved against Vmin at the operating point** (lowest grid "
                 "voltage whose mean accuracy over chips is within 1 point (8 bits) or 2.5 points (4 bits) "
                 "of the clean accuracy; edge accelerator, 14 nm; the grid's voltage steps bound the "
                 "resolution; `≤`: still within tolerance at the grid's lowest voltage, so the saving is a lower "
                 "bound; verdict: reproduced if the saving is within 2 points of the paper's or above, partly "
                 "if above half of it, else not reproduced)", "",
                 "| model | tolerance | operating point | accuracy drop (pts, ± 95%) | profile_ber there | "
                 "weight SRAM energy vs Vmin | total energy vs nominal | paper | verdict |",
                 "|---|---|---|---|---|---|---|---|---|"]
        vmin = self.profile.vdd_min_v
        nominal = self.profile.vdd_nominal_v
        for name in MODELS:
            result = self.operating_point(name)
            if result is None:
                lines.append(f"| {name} | | pending | | | | | | |")
                continue
            cell, tolerance = result
            bits = int(name.rsplit("-", 1)[1].rstrip("b"))
            paper = PAPER_SAVING[bits]
            if cell is None:
                lines.append(f"| {name} | {100 * tolerance:g} pt | none below Vmin | | | | | {100 * paper:.0f}% | "
                             "not reproduced |")
                continue
            qm = load_model(name)
            weight_v, total_v = self._weight_energy_j(qm, cell.vdd_v)
            weight_min, _ = self._weight_energy_j(qm, vmin)
            _, total_nom = self._weight_energy_j(qm, nominal)
            saving = 1 - weight_v / weight_min
            drops = np.asarray(cell.error) - cell.clean_error
            verdict = ("reproduced" if saving >= paper - 0.02 else
                       "partly" if saving >= paper / 2 else "not reproduced")
            # At the grid's last voltage the true operating point may lie lower: a lower bound.
            bound = "≤ " if cell.rate == self._grid()[-1] else ""
            lines.append(f"| {name} | {100 * tolerance:g} pt | {bound}{cell.vdd_v:.3f} V | "
                         f"{100 * drops.mean():.2f} ± {100 * ci95_halfwidth(drops):.2f} | "
                         f"{100 * cell.rate:.3g}% | {bound}-{100 * saving:.1f}% | "
                         f"-{100 * (1 - total_v / total_nom):.1f}% | -{100 * paper:.0f}% | {verdict} |")
        return "\n".join(lines) + "\n"


def _normal_of(name):
    prefix, _, rest = name.partition("-simplenet-")
    return f"{prefix}-simplenet-normal-{rest.rsplit('-', 1)[1]}"


def _overlap(a, b):
    ha, hb = ci95_halfwidth(a.robust_error), ci95_halfwidth(b.robust_error)
    return abs(a.rerr_mean - b.rerr_mean) <= ha + hb


def _dataset_spec(dataset):
    return f"{dataset}:{DATA / _DATASET_FOLDERS[dataset]}"


def _cell_at_voltage(evaluator, profile, rate, chips, key):
    return evaluator.cell(profile, rate, chips, key)
