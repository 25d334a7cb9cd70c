"""The energy-optimal operating point: bank voltages and protection at a yield target.

:func:`optimize` searches, for one model and profile, the supply of each
weight SRAM bank (and the protection of the banks) that minimises the
weight SRAM's energy per inference subject to "accuracy loss <= tolerance on
at least a share ``yield_target`` of the chips".

Method
------
1. Banks: ``n_banks`` banks of contiguous layers balanced by stored bits
   (:func:`accelsim.accel.banks.split_layers`).
2. Per-layer sensitivity: each layer alone at each ladder voltage, every
   other layer at nominal, on the calibration chips (``sensitivity.csv``).
   A bank never goes below the lowest voltage at which each of its layers,
   alone, still meets the target: a cheap bound that prunes the search.
3. Greedy descent, once per protection scheme (all banks under that
   scheme): from nominal, repeatedly take the feasible one-step voltage drop
   of one bank that saves the most energy; stop when no drop is feasible.
   Then per-bank protection: from the best point, switch one bank to another
   scheme, descend that bank alone from nominal, keep the change if it saves
   energy; repeat until no switch helps (mixed schemes across banks).
   Energy is a sum over banks and accuracy falls monotonically as any bank's
   voltage drops, so greedy needs ``O(banks x levels)`` evaluations where
   trying every combination needs ``levels ** banks`` (13^4 = 28561 for 4
   banks); a Lagrangian sweep would need the same evaluations per
   multiplier. Greedy can stop at a point from which a two-bank move would
   still have been feasible; the held-out check keeps the promise honest.
4. The baseline is the best uniform voltage without protection: the
   lowest-energy single voltage meeting the same tolerance and yield on the
   same held-out chips (chosen knowing those chips, so a strong baseline).
5. Feasibility on calibration chips uses the yield's point estimate (with
   10 chips and a 95% target, all 10 must be good); the chosen point and
   the uniform baseline are then re-measured on held-out chips (disjoint
   chip indices) and reported with their Wilson 95% interval.

Results (``out``): ``candidates.csv`` (every evaluated candidate with its
energy and calibration yield), ``pareto.csv`` (the front of calibration
accuracy against energy), ``uniform.csv`` (every single voltage and scheme on
held-out chips), ``sensitivity.csv``, ``optimum.json`` and ``front.png`` (the
front with the uniform-voltage curve; drawn by the CLI). Evaluations go to
``journal.jsonl`` as they finish, so a rerun with ``resume=True`` computes
only what is missing.
"""

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from accelsim._checks import Interval, check
from accelsim._errors import UserInputError

__all__ = ["OptimizeError", "OptimizeResult", "format_optimum", "optimize"]


class OptimizeError(UserInputError):
    """An optimization that cannot run as asked."""


@dataclass(frozen=True)
class OptimizeResult:
    """The chosen point, re-measured on held-out chips, and its baselines.

    Energies in joules per inference; savings are fractions.
    """

    model: str
    bank_vdd_v: tuple
    protections: tuple
    bank_layers: tuple
    energy_j: float
    weight_mem_energy_j: float
    nominal_energy_j: float
    nominal_weight_mem_energy_j: float
    uniform_vdd_v: float | None
    uniform_protection: str | None
    uniform_weight_mem_energy_j: float | None
    accuracy: float
    reference_accuracy: float
    chip_yield: float
    chip_yield_ci95_low: float
    chip_yield_ci95_high: float
    holdout_chips: tuple
    calibration_chips: tuple
    evaluations: int
    dataset: str

    @property
    def energy_saving(self):
        """Total energy saved against every bank at nominal without protection."""
        return 1 - self.energy_j / self.nominal_energy_j

    @property
    def saving_vs_uniform(self):
        """Weight-SRAM energy saved against the best single voltage (None if none qualifies)."""
        if self.uniform_weight_mem_energy_j is None:
            return None
        return 1 - self.weight_mem_energy_j / self.uniform_weight_mem_energy_j


def format_optimum(result):
    """The printed line (``DESIGN.md``)."""
    banks = ", ".join(f"{v:.3f}" for v in result.bank_vdd_v)
    uniform = ("no uniform voltage qualifies" if result.saving_vs_uniform is None
               else f"{-result.saving_vs_uniform * 100:+.1f}% vs best uniform voltage")
    uniform = uniform.replace("+-", "-")
    change = (result.accuracy - result.reference_accuracy) * 100
    return (f"optimum: {result.model}: banks [{banks}] V, protection [{', '.join(result.protections)}], "
            f"energy {-result.energy_saving * 100:+.1f}% vs nominal ({uniform}), "
            f"accuracy {result.accuracy * 100:.1f}% ({change:+.1f}) on held-out chips, "
            f"yield {result.chip_yield * 100:.0f}%")


class _Journal:
    def __init__(self, path, resume):
        self.path = path
        self.rows = {}
        if path.exists():
            if not resume:
                raise OptimizeError(f"{path.parent} already holds optimizer results; pass --resume "
                                    "to continue or choose another --out")
            data = path.read_bytes()
            complete = data[: data.rfind(b"\n") + 1]
            if len(complete) != len(data):
                # A partial last line of an interrupted run: drop it before appending.
                with open(path, "r+b") as f:
                    f.truncate(len(complete))
            for line in complete.decode("utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.rows[row["key"]] = row["accuracies"]
        self._file = open(path, "a", encoding="utf-8")

    def get(self, key):
        return self.rows.get(key)

    def put(self, key, accuracies):
        self.rows[key] = accuracies
        self._file.write(json.dumps({"key": key, "accuracies": accuracies}) + "\n")
        self._file.flush()

    def close(self):
        self._file.close()


def optimize(model, profile="14nm", dataset="mnist", *, tolerance_pp=1.0, yield_target=0.9, banks=4,
             protections=("none",), chips=10, holdout_chips=10, out="accelsim-optimize", limit=None,
             voltages_v=None, seed=0, on_detect="zero", resume=False, progress=None):
    """Search bank voltages and protection for one model (see the module docs).

    Parameters
    ----------
    model : str
        Zoo name or checkpoint path.
    profile : str
    dataset : str
        Dataset spec (``mnist``, ``mnist:DIR``, ``digits``, ...), test split.
    tolerance_pp : float
        Allowed accuracy loss in points against the clean quantized model.
    yield_target : float
        In (0, 1]: share of chips that must stay within tolerance.
    banks : int
        Weight SRAM banks (contiguous layers balanced by bits).
    protections : sequence of str
        Schemes to try (each is one greedy descent, all banks alike).
    chips, holdout_chips : int
        Calibration chips ``0..chips-1``; held-out chips follow them.
    out : str or Path
    limit : int, optional
        Evaluate on the first ``limit`` test examples only.
    voltages_v : sequence of float, optional
        The voltage ladder (default: nominal, then 20 steps from Vmin to the
        profile's floor).
    seed : int
    on_detect : {"zero", "keep"}
    resume : bool
    progress : callable, optional
        Called with a short text after each evaluation.

    Returns
    -------
    OptimizeResult
    """
    from accelsim.sram.protection import parse_protection

    tolerance_pp = check("--tolerance", tolerance_pp, Interval(float, 0, None), error=OptimizeError,
                         meaning="accuracy loss in percentage points")
    yield_target = check("--yield", yield_target, Interval(float, 0, 1, closed="right"),
                         error=OptimizeError, meaning="share of chips")
    chips = check("--chips", chips, Interval(int, 1, None), error=OptimizeError,
                  meaning="calibration chips")
    holdout_chips = check("--holdout-chips", holdout_chips, Interval(int, 1, None), error=OptimizeError,
                          meaning="held-out chips, disjoint from the calibration chips")
    protections = tuple(dict.fromkeys(parse_protection(p).name for p in (protections or ("none",))))
    return _Optimizer(model, profile, dataset, tolerance_pp, yield_target, banks, protections, chips,
                      holdout_chips, Path(out), limit, voltages_v, seed, on_detect, resume,
                      progress).run()


class _Optimizer:
    def __init__(self, model, profile, dataset, tolerance_pp, yield_target, n_banks, protections, chips,
                 holdout_chips, out, limit, voltages_v, seed, on_detect, resume, progress):
        from accelsim.accel import default_accelerator
        from accelsim.accel.banks import split_layers
        from accelsim.data import load_dataset
        from accelsim.models import load_model
        from accelsim.sram import load_profile
        from accelsim.sram.protection import check_on_detect
        from accelsim.sweep.unit import model_label

        self.on_detect = check_on_detect(on_detect)
        self.profile = load_profile(profile)
        self.qm = load_model(model)
        for p in protections:
            from accelsim.sram.protection import parse_protection

            parse_protection(p).check_word_bits(self.qm.bits)
        x, y = load_dataset(dataset, split="test")
        if limit is not None:
            limit = check("--limit", limit, Interval(int, 1, None), error=OptimizeError)
            x, y = x[:limit], y[:limit]
        self.x, self.y = x, y
        self.label = model_label(model)
        self.dataset = dataset
        self.tolerance_pp, self.yield_target = tolerance_pp, yield_target
        self.protections = protections
        self.calibration = tuple(range(chips))
        self.holdout = tuple(range(chips, chips + holdout_chips))
        self.seed = seed
        ladder = _default_ladder(self.profile) if voltages_v is None else tuple(
            sorted({float(v) for v in voltages_v}, reverse=True))
        for v in ladder:
            self.profile.check_voltage(v)
        if ladder[0] != self.profile.vdd_nominal_v:
            ladder = (float(self.profile.vdd_nominal_v), *ladder)
        self.ladder = ladder
        self.accelerator = default_accelerator()
        self.workloads = self.qm.workloads(x)
        layer_bits = [(w.name, w.n_weights * w.weight_bits) for w in self.workloads]
        n_banks = check("--banks", n_banks, Interval(int, 1, len(layer_bits)), error=OptimizeError,
                        meaning="weight SRAM banks, at most the model's layers with weights")
        self.banks = split_layers(layer_bits, n_banks, self.accelerator.weight_memory.capacity_bits)
        self.bank_layers = tuple(b.layers for b in self.banks)
        self.layers = tuple(name for name, _ in layer_bits)
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.journal = _Journal(out / "journal.jsonl", resume)
        self.progress = progress
        self.evaluators = {}
        self.reference = float((self.qm.clean_run(x).logits.argmax(1) == y).double().mean())
        self.evaluations = 0

    # -- evaluation ----------------------------------------------------------------------
    def _evaluator(self, bank_layers, protections, chip):
        from accelsim.engine.banked import BankedEvaluator

        key = (tuple(map(tuple, bank_layers)), tuple(protections), chip)
        if key not in self.evaluators:
            if len(self.evaluators) > 64:
                self.evaluators.clear()
            self.evaluators[key] = BankedEvaluator(self.qm, self.x, self.profile, bank_layers, protections,
                                                   chip=chip, seed=self.seed, on_detect=self.on_detect)
        return self.evaluators[key]

    def accuracies(self, bank_layers, voltages, protections, chips):
        """Accuracy per chip (journaled)."""
        key = json.dumps([list(map(list, bank_layers)), [round(v, 9) for v in voltages],
                          list(protections), list(chips)])
        found = self.journal.get(key)
        if found is not None:
            return found
        accs = []
        for chip in chips:
            if all(v >= self.profile.vdd_nominal_v for v in voltages) and set(protections) == {"none"}:
                logits = self.qm.clean_run(self.x).logits  # nominal: no faulty cell
            else:
                logits = self._evaluator(bank_layers, protections, chip).run(voltages).logits
            accs.append(float((logits.argmax(1) == self.y).double().mean()))
        self.journal.put(key, accs)
        self.evaluations += 1
        if self.progress is not None:
            self.progress(f"{self.evaluations} evaluations")
        return accs

    def chip_yield(self, accs):
        good = sum((self.reference - a) * 100 <= self.tolerance_pp + 1e-9 for a in accs)
        return good / len(accs)

    def feasible(self, accs):
        return self.chip_yield(accs) >= self.yield_target - 1e-12

    def energy(self, voltages, protections):
        from accelsim.accel.banks import banked_energy

        return banked_energy(self.accelerator, self.workloads, self.profile.energy, voltages,
                             self.profile.vdd_nominal_v, banks=self.banks, protections=protections)

    # -- phases --------------------------------------------------------------------------
    def sensitivity(self):
        per_layer = tuple((layer,) for layer in self.layers)
        rows, floors = [], {}
        nominal = self.profile.vdd_nominal_v
        for i, layer in enumerate(self.layers):
            floors[layer] = nominal
            for v in self.ladder[1:]:
                voltages = [nominal] * len(self.layers)
                voltages[i] = v
                accs = self.accuracies(per_layer, voltages, ["none"] * len(self.layers), self.calibration)
                rows.append({"layer": layer, "vdd_v": v, "profile_ber": float(self.profile.ber(v)),
                             "accuracy": float(np.mean(accs)), "yield": self.chip_yield(accs)})
                if not self.feasible(accs):
                    break  # lower voltages only add faulty cells
                floors[layer] = v
        return rows, floors

    def descend(self, protections, floors, start=None, movable=None):
        """Greedy descent from ``start`` levels (default nominal) moving the ``movable`` banks.

        Returns the candidates evaluated and the last feasible point (None if
        the start is infeasible); each point carries its ``levels``.
        """
        n = len(self.banks)
        protections = list(protections)
        # An unprotected bank stops at the highest of its layers' floors (each
        # alone still meets the target); protection may take it lower.
        bank_floor = [min(self.ladder.index(floors[layer]) for layer in layers)
                      if protections[b] == "none" else len(self.ladder) - 1
                      for b, layers in enumerate(self.bank_layers)]
        level = [0] * n if start is None else list(start)
        movable = range(n) if movable is None else movable
        candidates = []

        def record(levels):
            voltages = [self.ladder[k] for k in levels]
            accs = self.accuracies(self.bank_layers, voltages, protections, self.calibration)
            e = self.energy(voltages, protections)
            candidates.append({"bank_vdd_v": voltages, "protections": list(protections),
                               "energy_j": e.total_j, "weight_mem_energy_j": e.weight_mem_j,
                               "accuracy": float(np.mean(accs)), "yield": self.chip_yield(accs),
                               "feasible": self.feasible(accs), "levels": list(levels)})
            return candidates[-1]

        current = record(level)
        if not current["feasible"]:
            return candidates, None
        while True:
            best = None
            for b in movable:
                if level[b] >= bank_floor[b]:
                    continue
                trial = list(level)
                trial[b] += 1
                cand = record(trial)
                if cand["feasible"] and (best is None or
                                         cand["weight_mem_energy_j"] < best[1]["weight_mem_energy_j"]):
                    best = (trial, cand)
            if best is None:
                return candidates, current
            level, current = best

    def refine(self, chosen, floors):
        """Mixed protection: switch one bank's scheme and descend that bank alone; keep gains."""
        candidates = []
        improved = True
        while improved and len(self.protections) > 1:
            improved = False
            for b in range(len(self.banks)):
                for q in self.protections:
                    if q == chosen["protections"][b]:
                        continue
                    protections = list(chosen["protections"])
                    protections[b] = q
                    # Start the bank from nominal under its new scheme, the others where they are.
                    start = list(chosen["levels"])
                    start[b] = 0
                    found, best = self.descend(protections, floors, start=start, movable=[b])
                    candidates += found
                    if best is not None and best["weight_mem_energy_j"] < chosen["weight_mem_energy_j"]:
                        chosen, improved = best, True
        return candidates, chosen

    def uniform(self):
        rows = []
        for protection in dict.fromkeys(("none", *self.protections)):
            for v in self.ladder:
                voltages = [v] * len(self.banks)
                protections = [protection] * len(self.banks)
                accs = self.accuracies(self.bank_layers, voltages, protections, self.holdout)
                e = self.energy(voltages, protections)
                rows.append({"vdd_v": v, "protection": protection, "energy_j": e.total_j,
                             "weight_mem_energy_j": e.weight_mem_j, "accuracy": float(np.mean(accs)),
                             "yield": self.chip_yield(accs), "feasible": self.feasible(accs)})
        return rows

    def run(self):
        from accelsim.sweep.results import pareto_mask, wilson_interval

        try:
            sens_rows, floors = self.sensitivity()
            candidates, chosen = [], None
            for protection in self.protections:
                found, best = self.descend([protection] * len(self.banks), floors)
                candidates += found
                if best is not None and (chosen is None or
                                         best["weight_mem_energy_j"] < chosen["weight_mem_energy_j"]):
                    chosen = best
            if chosen is not None:
                found, chosen = self.refine(chosen, floors)
                candidates += found
            uniform = self.uniform()
            if chosen is None:
                raise OptimizeError(f"{self.label}: even nominal voltage misses tolerance "
                                    f"{self.tolerance_pp} pp at yield {self.yield_target} on the "
                                    "calibration chips")
            held = self.accuracies(self.bank_layers, chosen["bank_vdd_v"], chosen["protections"],
                                   self.holdout)
        finally:
            self.journal.close()
        nominal = self.energy([self.profile.vdd_nominal_v] * len(self.banks), ["none"] * len(self.banks))
        # The baseline is plain undervolting: one voltage, no protection (uniform.csv
        # also lists each scheme at a uniform voltage).
        ok_uniform = [u for u in uniform if u["feasible"] and u["protection"] == "none"]
        best_uniform = min(ok_uniform, key=lambda u: u["weight_mem_energy_j"]) if ok_uniform else None
        good = round(self.chip_yield(held) * len(held))
        low, high = wilson_interval(good, len(held))
        result = OptimizeResult(
            model=self.label, bank_vdd_v=tuple(chosen["bank_vdd_v"]),
            protections=tuple(chosen["protections"]), bank_layers=self.bank_layers,
            energy_j=chosen["energy_j"], weight_mem_energy_j=chosen["weight_mem_energy_j"],
            nominal_energy_j=nominal.total_j, nominal_weight_mem_energy_j=nominal.weight_mem_j,
            uniform_vdd_v=None if best_uniform is None else best_uniform["vdd_v"],
            uniform_protection=None if best_uniform is None else best_uniform["protection"],
            uniform_weight_mem_energy_j=None if best_uniform is None else best_uniform["weight_mem_energy_j"],
            accuracy=float(np.mean(held)), reference_accuracy=self.reference,
            chip_yield=self.chip_yield(held), chip_yield_ci95_low=low, chip_yield_ci95_high=high,
            holdout_chips=self.holdout, calibration_chips=self.calibration,
            evaluations=len(self.journal.rows), dataset=self.dataset)
        front = pareto_mask([c["energy_j"] for c in candidates], [c["accuracy"] for c in candidates])
        _write(self.out / "candidates.csv", candidates)
        _write(self.out / "pareto.csv", [c for c, f in zip(candidates, front, strict=True) if f])
        _write(self.out / "uniform.csv", uniform)
        _write(self.out / "sensitivity.csv", sens_rows)
        record = {**asdict(result), "energy_saving": result.energy_saving,
                  "saving_vs_uniform": result.saving_vs_uniform, "line": format_optimum(result),
                  "tolerance_pp": self.tolerance_pp, "yield_target": self.yield_target,
                  "ladder_v": list(self.ladder), "feasibility": "calibration yield point estimate"}
        (self.out / "optimum.json").write_text(json.dumps(record, indent=2) + "\n")
        return result


def _default_ladder(profile, n=20):
    """Nominal, then ``n`` voltages from Vmin down to the profile's floor.

    Lower than a sweep's default (which stops at BER 10%): robust models and
    protected banks can go there.
    """
    ladder = np.linspace(profile.vdd_min_v, profile.vdd_floor_v, n)
    values = {round(float(v), 4) for v in (profile.vdd_nominal_v, *ladder)}
    return tuple(sorted(values, reverse=True))


def _write(path, rows):
    from accelsim.sweep.results import write_csv

    if not rows:
        path.write_text("")
        return
    flat = [{k: (";".join(map(str, v)) if isinstance(v, (list, tuple)) else v) for k, v in r.items()}
            for r in rows]
    write_csv(path, flat, tuple(flat[0]))



class _OptimizeModule(type(sys.modules[__name__])):
    """Makes ``accelsim.optimize(...)`` a shorthand for :func:`optimize`."""

    def __call__(self, *args, **kwargs):
        return optimize(*args, **kwargs)


sys.modules[__name__].__class__ = _OptimizeModule
