"""The energy-optimal operating point: bank voltages and protection at a yield target.

:func:`optimize` searches, for one model and profile, the supply of each
weight SRAM bank (and the protection of the banks) that minimises the
weight SRAM's energy per inference subject to "accuracy loss <= tolerance on
at least a share ``yield_target`` of the chips".

Method
------
1. Banks: ``n_banks`` banks of contiguous layers balanced by stored bits
   (:func:`accelsim.accel.banks.split_layers`; ``mapping="balanced"``: the
   contiguous split minimising the sum of squared bank bits, which does not
   leave a tiny norm layer alone in a bank as the default cut can), or with
   ``mapping="sensitivity"`` groups of layers of similar sensitivity, chosen
   after step 2 (:meth:`_Optimizer.sensitivity_banks`).
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
   voltage drops, so greedy needs ``O(banks x levels)`` steps of at most
   ``banks`` trial moves each where
   trying every combination needs ``levels ** banks`` (13^4 = 28561 for 4
   banks); a Lagrangian sweep would need the same evaluations per
   multiplier. Greedy can stop at a point from which a two-bank move would
   still have been feasible; the held-out check keeps the promise honest.
4. The baseline is the best uniform voltage without protection: the
   lowest-energy single voltage meeting the same tolerance and yield on the
   same held-out chips (chosen knowing those chips, so a strong baseline).
   With more schemes tried, ``saving_vs_uniform_any`` also compares with
   the best single voltage under any one of them on every bank.
5. Feasibility on calibration chips uses the yield's point estimate (with
   10 chips and a 95% target, all 10 must be good), optionally raised by
   ``yield_margin`` against the calibration chips' optimism; the chosen
   point and the uniform baseline are then re-measured on held-out chips
   (disjoint chip indices, target without margin) and reported with their
   Wilson 95% interval. With ``validation_chips`` the choice itself is made
   on other chips: the calibration-feasible points, cheapest first, are
   evaluated on validation chips (between the calibration and the held-out
   ones) until one meets the target there, margin included. The descent
   evaluates hundreds of points on the same calibration chips, and the
   cheapest feasible one is often feasible by chance; validation keeps that
   luck out of the held-out report. Only the points the descents stepped to
   are validated (a chain along which every voltage falls), not the trial
   moves around them: validating those too is a second search, whose first
   pass is the luckiest of dozens of near-equal points. The first point to
   pass sits near the bar it passed, so a point passing ``yield_target`` on
   the validation chips meets it on the next chips about half the time,
   which is why the margin applies there too.

Bit slices (``msb_split=K``): every bank is cut into two domains, the top
``K`` bits of its codes and the rest (:func:`accelsim.accel.banks.split_msb`),
each on its own supply, so the low bits, whose flips move a weight by a few
codes, can go far below the top ones. Layer floors do not bound a slice
(each slice alone has fewer faulty cells than its layer at the same
voltage, but both slices erring have more), so slices descend to the
ladder's end. The uniform baseline stays the banks of whole codes at one
voltage (the same evaluations as without the split).

Voltage domains: ``banks`` contiguous banks, or the ``[[weight_banks]]``
tables of ``accelerator`` (a preset or TOML file) when it has them, which
also prices every point (default: the ``edge`` preset). With
``activations=True`` the activation SRAM is one more domain of the descent
(a model quantized with ``act_quant``): its energy scales with ``V ** 2``
(:func:`accelsim.accel.banks.banked_energy`) and its faults corrupt the
activations (:class:`accelsim.engine.ActivationFaults`); the uniform
baseline keeps it at nominal.

Executors: ``executor="local"`` evaluates in this process; ``"dask"`` (a
new local cluster) or ``"dask:ADDRESS"`` sends the chips of each batch of
evaluations (the trial moves of one greedy step, one ladder step of the
sensitivity, the uniform ladder) to Dask workers, one task per chip, which
load model, profile and data themselves. Torch runs on one thread in both,
so the results are identical whatever the executor.

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

__all__ = ["OptimizeError", "OptimizeResult", "format_optimum", "optimize", "with_act_quant"]

#: Images (the first of the evaluated set) that calibrate activation ranges in :func:`with_act_quant`.
ACT_CALIBRATION_IMAGES = 256


def with_act_quant(qm, x, bits):
    """``qm`` with its activations quantized to ``bits`` bits, weights unchanged.

    The same as :func:`accelsim.engine.activations.with_act_quant` (which
    the sweep's ``--activations`` uses too): per-layer activation ranges
    calibrated on the first :data:`ACT_CALIBRATION_IMAGES` images of ``x``.
    """
    from accelsim.engine.activations import with_act_quant as quantize

    return quantize(qm, x, bits)


#: Ways of putting layers into banks (``mapping``; see :func:`optimize`).
MAPPINGS = ("contiguous", "sensitivity", "balanced")


# Calibration-feasible points checked on the validation chips per batch (one pool round).
_VALIDATION_BATCH = 8


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
    act_vdd_v: float | None = None
    uniform_any_vdd_v: float | None = None
    uniform_any_protection: str | None = None
    uniform_any_weight_mem_energy_j: float | None = None
    validation_chips: tuple = ()
    bank_bits: tuple = ()

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

    @property
    def saving_vs_uniform_any(self):
        """Weight-SRAM energy saved against the best single voltage under any one of the tried schemes.

        The same as :attr:`saving_vs_uniform` when only ``none`` was tried;
        a stronger baseline otherwise (one voltage and one scheme for every
        bank, e.g. SECDED everywhere). None if no such point qualifies.
        """
        if self.uniform_any_weight_mem_energy_j is None:
            return None
        return 1 - self.weight_mem_energy_j / self.uniform_any_weight_mem_energy_j


def format_optimum(result):
    """The printed line (``DESIGN.md``)."""
    banks = ", ".join(f"{v:.3f}" for v in result.bank_vdd_v)
    uniform = ("no uniform voltage qualifies" if result.saving_vs_uniform is None
               else f"{-result.saving_vs_uniform * 100:+.1f}% vs best uniform voltage")
    uniform = uniform.replace("+-", "-")
    change = (result.accuracy - result.reference_accuracy) * 100
    act = "" if result.act_vdd_v is None else f", activations {result.act_vdd_v:.3f} V"
    return (f"optimum: {result.model}: banks [{banks}] V, protection [{', '.join(result.protections)}]{act}, "
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


def optimize(model, profile="14nm", dataset="mnist", *, tolerance_pp=1.0, yield_target=0.9, banks=None,
             protections=("none",), chips=10, holdout_chips=10, out="accelsim-optimize", limit=None,
             voltages_v=None, seed=0, on_detect="zero", resume=False, progress=None, accelerator=None,
             executor="local", activations=False, yield_margin=0.0, act_bits=None, mapping="contiguous",
             validation_chips=0, msb_split=0):
    """Search bank voltages and protection for one model (see the module docs).

    Parameters
    ----------
    model : str or QuantizedModel
        Zoo name or checkpoint path (a ``QuantizedModel``: local executor only).
    profile : str
    dataset : str
        Dataset spec (``mnist``, ``mnist:DIR``, ``digits``, ...), test split.
    tolerance_pp : float
        Allowed accuracy loss in points against the clean quantized model.
    yield_target : float
        In (0, 1]: share of chips that must stay within tolerance.
    banks : int, optional
        Weight SRAM banks (contiguous layers balanced by bits); default: the
        accelerator's ``[[weight_banks]]`` if it has them, else 4.
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
    accelerator : str, optional
        Preset name or TOML file (default: ``edge``); its ``[[weight_banks]]``
        tables, if any, are the banks.
    executor : str
        ``local``, ``dask`` or ``dask:ADDRESS`` (see the module docs).
    activations : bool
        Put the activation SRAM on its own swept domain (needs a model
        quantized with ``act_quant``).
    act_bits : int, optional
        Implies ``activations``: quantize the model's activations to this
        many bits (:func:`with_act_quant`) when it does not already.
    yield_margin : float
        In [0, 1): the calibration chips (and the validation chips) must
        reach ``yield_target + yield_margin`` (at most 1), a guard against
        the optimism of the chips a point was chosen on; the held-out check
        and the uniform baseline use ``yield_target`` alone.
    mapping : {"contiguous", "sensitivity", "balanced"}
        Which layers share a bank (step 1 of the module docs): contiguous
        layers cut at the bit shares nearest ``k / banks``, groups of layers
        of similar sensitivity floors, or contiguous layers minimising the
        sum of squared bank bits.
    validation_chips : int
        Chips (after the calibration chips, before the held-out ones) on
        which the calibration-feasible points of the descents' paths are
        checked, cheapest first, and the first meeting the target plus
        ``yield_margin`` is chosen (default 0: the cheapest
        calibration-feasible point is chosen).
    msb_split : int
        Cut every bank into its codes' top ``msb_split`` bits and the rest,
        two domains with their own supplies (default 0: whole codes).

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
    validation_chips = check("--validation-chips", validation_chips, Interval(int, 0, None), error=OptimizeError,
                             meaning="validation chips, between the calibration and the held-out chips")
    msb_split = check("--msb-split", msb_split, Interval(int, 0, None), error=OptimizeError,
                      meaning="top bits of every weight code in banks of their own (0: whole codes)")
    if act_bits is not None:
        from accelsim.quant.activations import SUPPORTED_BITS

        act_bits = check("--activations", act_bits, Interval(int, 2, 16), error=OptimizeError,
                         meaning="bits per activation")
        if act_bits not in SUPPORTED_BITS:
            raise OptimizeError(f"--activations = {act_bits}: expected bits per activation in "
                                f"{', '.join(map(str, SUPPORTED_BITS))}")
    yield_margin = check("--yield-margin", yield_margin, Interval(float, 0, 1, closed="left"),
                         error=OptimizeError, meaning="share of chips added to --yield on calibration chips")
    protections = tuple(dict.fromkeys(parse_protection(p).name for p in (protections or ("none",))))
    from accelsim._checks import StrOptions

    mapping = check("--bank-mapping", mapping, StrOptions(MAPPINGS), error=OptimizeError)
    if not (executor == "local" or (isinstance(executor, str) and (
            executor == "dask" or (executor.startswith("dask:") and len(executor) > 5)))):
        raise OptimizeError(f"--executor {executor!r}: expected local, dask or dask:ADDRESS")
    optimizer = _Optimizer(model, profile, dataset, tolerance_pp, yield_target, banks, protections, chips,
                           holdout_chips, Path(out), limit, voltages_v, seed, on_detect, resume,
                           progress, accelerator, bool(activations), act_bits, mapping, validation_chips,
                           msb_split)
    optimizer.yield_margin = yield_margin
    try:
        optimizer.pool = _pool(executor, optimizer)
    except BaseException:
        optimizer.journal.close()
        if not optimizer.journal.rows and optimizer.journal.path.stat().st_size == 0:
            optimizer.journal.path.unlink()  # nothing evaluated: a rerun starts afresh
        raise
    try:
        return optimizer.run()
    finally:
        optimizer.pool.close()


class _Optimizer:
    def __init__(self, model, profile, dataset, tolerance_pp, yield_target, n_banks, protections, chips,
                 holdout_chips, out, limit, voltages_v, seed, on_detect, resume, progress, accelerator,
                 activations, act_bits=None, mapping="contiguous", validation_chips=0, msb_split=0):
        from accelsim.accel import AcceleratorError, default_accelerator, load_accelerator
        from accelsim.accel.banks import bank_assignment, split_layers
        from accelsim.data import load_dataset
        from accelsim.engine import QuantizedModel
        from accelsim.models import load_model
        from accelsim.sram import load_profile
        from accelsim.sram.protection import check_on_detect
        from accelsim.sweep.unit import model_label

        self.on_detect = check_on_detect(on_detect)
        self.profile = load_profile(profile)
        self.qm = model if isinstance(model, QuantizedModel) else load_model(model)
        self.activations = activations or act_bits is not None
        self.msb_split = msb_split
        if msb_split and not msb_split < self.qm.bits:
            raise OptimizeError(f"--msb-split {msb_split}: expected from 1 to {self.qm.bits - 1}, top bits of "
                                f"the model's {self.qm.bits}-bit weight codes (0: whole codes)")
        widths = (msb_split, self.qm.bits - msb_split) if msb_split else (self.qm.bits,)
        for p in protections:
            from accelsim.sram.protection import parse_protection

            for width in widths:
                parse_protection(p).check_word_bits(width)
        x, y = load_dataset(dataset, split="test")
        if limit is not None:
            limit = check("--limit", limit, Interval(int, 1, None), error=OptimizeError)
            x, y = x[:limit], y[:limit]
        self.x, self.y = x, y
        if act_bits is not None:
            if self.qm.act_quant is not None and self.qm.act_quant.bits != act_bits:
                raise OptimizeError(f"--activations {act_bits}: the model already quantizes its "
                                    f"activations to {self.qm.act_quant.bits} bits")
            if self.qm.act_quant is None:
                self.qm = with_act_quant(self.qm, x, act_bits)
        if self.activations and self.qm.act_quant is None:
            raise OptimizeError("--activations puts the activation SRAM on a swept domain; it needs a "
                                "model with quantized activations (QuantizedModel.from_torch(..., "
                                "act_quant=ActivationQuantizer(bits)), or act_bits)")
        self.label = (model_label(model) if not isinstance(model, QuantizedModel)
                      else str(self.qm.meta.get("name", "model")))
        self.source = {"model": model, "profile": profile, "dataset": dataset, "limit": limit,
                       "act_bits": act_bits}
        self.dataset = dataset
        self.tolerance_pp, self.yield_target = tolerance_pp, yield_target
        self.protections = protections
        self.calibration = tuple(range(chips))
        self.validation = tuple(range(chips, chips + validation_chips))
        self.holdout = tuple(range(chips + validation_chips, chips + validation_chips + holdout_chips))
        self.seed = seed
        ladder = _default_ladder(self.profile) if voltages_v is None else tuple(
            sorted({float(v) for v in voltages_v}, reverse=True))
        for v in ladder:
            self.profile.check_voltage(v)
        if ladder[0] != self.profile.vdd_nominal_v:
            ladder = (float(self.profile.vdd_nominal_v), *ladder)
        self.ladder = ladder
        if accelerator is None:
            self.accelerator = default_accelerator()
        else:
            try:
                self.accelerator = load_accelerator(accelerator)
            except AcceleratorError as exc:
                raise AcceleratorError(f"--accelerator {accelerator}: {exc}") from None
        self.workloads = self.qm.workloads(x)
        layer_bits = [(w.name, w.n_weights * w.weight_bits) for w in self.workloads]
        if self.accelerator.weight_banks:
            self.banks = self.accelerator.weight_banks
            if n_banks is not None and n_banks != len(self.banks):
                raise OptimizeError(f"--banks {n_banks}: --accelerator {accelerator} has "
                                    f"{len(self.banks)} weight banks; drop --banks or give "
                                    f"--banks {len(self.banks)}")
            try:
                bank_assignment(self.banks, [name for name, _ in layer_bits], word_bits=self.qm.bits)
            except AcceleratorError as exc:
                raise AcceleratorError(f"--accelerator {accelerator}: {exc}") from None
            if mapping != "contiguous":
                raise OptimizeError(f"--bank-mapping {mapping}: --accelerator {accelerator} maps the layers "
                                    "to its [[weight_banks]] itself; drop one of them")
        else:
            n_banks = check("--banks", 4 if n_banks is None else n_banks, Interval(int, 1, len(layer_bits)),
                            error=OptimizeError,
                            meaning="weight SRAM banks, at most the model's layers with weights")
            self.banks = split_layers(layer_bits, n_banks, self.accelerator.weight_memory.capacity_bits,
                                      method="balanced" if mapping == "balanced" else "nearest")
        self._set_banks(self.banks)
        self.layers = tuple(name for name, _ in layer_bits)
        self.layer_bits = dict(layer_bits)
        self.mapping = mapping
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.journal = _Journal(out / "journal.jsonl", resume)
        self.progress = progress
        self.evaluators = {}
        self.pool = None
        self.yield_margin = 0.0
        self.reference = float((self.qm.clean_run(x).logits.argmax(1) == y).double().mean())
        self.evaluations = 0
        self.used = set()  # the evaluations this search asked for (computed now or from the journal)

    def _set_banks(self, banks):
        """The banks the search moves; the banks before ``msb_split`` are kept for the uniform baseline."""
        from accelsim.accel.banks import split_msb

        def bits(banks):
            return tuple(b.bits for b in banks) if any(b.bits for b in banks) else ()

        self.whole_banks = tuple(banks)
        self.whole_layers, self.whole_bits = tuple(b.layers for b in banks), bits(banks)
        if self.msb_split:
            banks = split_msb(banks, self.msb_split, self.qm.bits)
        self.banks = banks
        self.bank_layers, self.bank_bits = tuple(b.layers for b in banks), bits(banks)

    # -- evaluation ----------------------------------------------------------------------
    def _key(self, bank_layers, voltages, protections, chips, act_vdd_v, bank_bits=()):
        parts = [list(map(list, bank_layers)), [round(v, 9) for v in voltages], list(protections), list(chips)]
        if act_vdd_v is not None:
            parts.append(round(act_vdd_v, 9))
        if bank_bits:  # only then: keys of whole-code banks are those of earlier journals
            parts.append({"bits": list(map(list, bank_bits))})
        return json.dumps(parts)

    def accuracies_many(self, requests):
        """Accuracy per chip of each request, journaled.

        A request is ``(bank_layers, voltages, protections, chips, act_vdd_v)``
        and optionally the banks' bit slices (``bank_bits``). The missing
        evaluations go to the pool together, one task per chip.
        """
        keys = [self._key(*r) for r in requests]
        self.used.update(keys)
        missing = {}
        for key, request in zip(keys, requests, strict=True):
            if self.journal.get(key) is None and key not in missing:
                missing[key] = request
        if missing:
            by_chip = {}
            for key, (layers, voltages, protections, chips, act, *bits) in missing.items():
                for chip in chips:
                    by_chip.setdefault(chip, []).append(
                        (key, (tuple(map(tuple, layers)), tuple(voltages), tuple(protections), act,
                               tuple(map(tuple, bits[0])) if bits else ())))
            computed = self.pool.evaluate(by_chip)
            for key, (_, _, _, chips, *_) in missing.items():
                self.journal.put(key, [computed[(key, chip)] for chip in chips])
                self.evaluations += 1
            if self.progress is not None:
                self.progress(f"{self.evaluations} evaluations")
        return [self.journal.get(key) for key in keys]

    def accuracies(self, bank_layers, voltages, protections, chips, act_vdd_v=None, bank_bits=()):
        """Accuracy per chip (journaled)."""
        return self.accuracies_many([(bank_layers, voltages, protections, chips, act_vdd_v, bank_bits)])[0]

    def chip_yield(self, accs):
        good = sum((self.reference - a) * 100 <= self.tolerance_pp + 1e-9 for a in accs)
        return good / len(accs)

    def feasible(self, accs, margin=True):
        """Whether ``accs`` meet the yield target (plus the calibration margin with ``margin``)."""
        target = min(1.0, self.yield_target + self.yield_margin) if margin else self.yield_target
        return self.chip_yield(accs) >= target - 1e-12

    def energy(self, voltages, protections, act_vdd_v=None, whole=False):
        """Energy of a point of the searched banks (``whole``: of the banks of whole codes)."""
        from accelsim.accel.banks import banked_energy

        return banked_energy(self.accelerator, self.workloads, self.profile.energy, voltages,
                             self.profile.vdd_nominal_v, banks=self.whole_banks if whole else self.banks,
                             protections=protections, act_vdd_v=act_vdd_v)

    def sensitivity_banks(self, floors):
        """As many banks as requested, grouping layers of similar floors (``mapping="sensitivity"``).

        Layers sorted by floor, highest first (ties in network order), are cut
        into contiguous groups of that order; the cut minimises the sum over
        banks of bits x energy per bit at the bank's highest floor (dynamic
        read plus leakage over the inference), exactly, by dynamic
        programming. Sorted groups are optimal for such a cost: swapping two
        layers across groups never lowers a group's highest floor.
        """
        from accelsim.accel.banks import WeightBank

        n = len(self.whole_banks)
        nominal = self.profile.vdd_nominal_v
        weight_energy = self.accelerator.weight_energy_model(self.profile.energy)
        latency = self.accelerator.energy(self.workloads, weight_energy, nominal, nominal).latency_s

        def per_bit(v):
            return (weight_energy.read_energy_j(1, v, nominal)
                    + weight_energy.leakage_power_w(1, v, nominal) * latency)

        order = sorted(range(len(self.layers)), key=lambda i: (-floors[self.layers[i]], i))
        bits = [self.layer_bits[self.layers[i]] for i in order]
        heads = [per_bit(floors[self.layers[i]]) for i in order]
        prefix = np.concatenate([[0], np.cumsum(bits)])
        count = len(order)
        # best[k][j]: cheapest split of the first j sorted layers into k groups.
        best = np.full((n + 1, count + 1), np.inf)
        cut = np.zeros((n + 1, count + 1), dtype=int)
        best[0][0] = 0.0
        for k in range(1, n + 1):
            for j in range(k, count - (n - k) + 1):
                for i in range(k - 1, j):  # the group is sorted layers i..j-1, its head is layer i
                    cost = best[k - 1][i] + (prefix[j] - prefix[i]) * heads[i]
                    if cost < best[k][j]:
                        best[k][j], cut[k][j] = cost, i
        groups, j = [], count
        for k in range(n, 0, -1):
            i = cut[k][j]
            groups.append([order[m] for m in range(i, j)])
            j = i
        groups.reverse()
        total = sum(self.layer_bits.values())
        capacity = self.accelerator.weight_memory.capacity_bits
        banks = []
        for k, members in enumerate(groups):
            held = sum(self.layer_bits[self.layers[m]] for m in members)
            banks.append(WeightBank(f"bank{k}", max(1, round(capacity * held / max(total, 1))),
                                    tuple(self.layers[m] for m in sorted(members))))
        return tuple(banks)

    def floor_energy(self, floors):
        """Energy with every layer in its own bank at its floor, unprotected.

        Each layer alone meets the target there, so no unprotected mapping's
        descent on this ladder takes any layer lower: with faults of several
        layers adding up, the optimum costs at least this much (a bound, up
        to calibration noise).
        """
        from accelsim.accel.banks import banked_energy, split_layers

        layer_bits = [(name, self.layer_bits[name]) for name in self.layers]
        per_layer = split_layers(layer_bits, len(layer_bits), self.accelerator.weight_memory.capacity_bits)
        return banked_energy(self.accelerator, self.workloads, self.profile.energy,
                             [floors[name] for name in self.layers], self.profile.vdd_nominal_v,
                             banks=per_layer)

    # -- phases --------------------------------------------------------------------------
    def sensitivity(self):
        """Each layer alone down the ladder (others at nominal) until it misses the target.

        One batch per ladder step over the layers still meeting it: the same
        evaluations as one layer at a time.
        """
        per_layer = tuple((layer,) for layer in self.layers)
        nominal = self.profile.vdd_nominal_v
        floors = {layer: nominal for layer in self.layers}
        found = {}
        active = list(range(len(self.layers)))
        for k in range(1, len(self.ladder)):
            if not active:
                break
            requests = []
            for i in active:
                voltages = [nominal] * len(self.layers)
                voltages[i] = self.ladder[k]
                requests.append((per_layer, voltages, ["none"] * len(self.layers), self.calibration, None))
            still = []
            for i, accs in zip(active, self.accuracies_many(requests), strict=True):
                found[(i, k)] = accs
                if self.feasible(accs):  # lower voltages only add faulty cells
                    floors[self.layers[i]] = self.ladder[k]
                    still.append(i)
            active = still
        rows = []
        for i, layer in enumerate(self.layers):
            k = 1
            while (i, k) in found:
                v, accs = self.ladder[k], found[(i, k)]
                rows.append({"layer": layer, "vdd_v": v, "profile_ber": float(self.profile.ber(v)),
                             "accuracy": float(np.mean(accs)), "yield": self.chip_yield(accs)})
                k += 1
        return rows, floors

    def _point(self, levels, protections):
        """Weight-bank voltages and the activation SRAM's (None without its domain) of ``levels``."""
        n = len(self.banks)
        voltages = [self.ladder[k] for k in levels[:n]]
        act = self.ladder[levels[n]] if self.activations else None
        return voltages, act

    def descend(self, protections, floors, start=None, movable=None):
        """Greedy descent from ``start`` levels (default nominal) moving the ``movable`` domains.

        Domains are the weight banks, then (with ``activations``) the
        activation SRAM. Returns the candidates evaluated and the last
        feasible point (None if the start is infeasible); each point carries
        its ``levels``.
        """
        n = len(self.banks)
        domains = n + (1 if self.activations else 0)
        protections = list(protections)
        # An unprotected bank stops at the highest of its layers' floors (each
        # alone still meets the target); protection may take it lower.
        bank_floor = [min(self.ladder.index(floors[layer]) for layer in layers)
                      if protections[b] == "none" and not self.bank_bits else len(self.ladder) - 1
                      for b, layers in enumerate(self.bank_layers)]
        bank_floor += [len(self.ladder) - 1] * (domains - n)
        level = [0] * domains if start is None else list(start)
        movable = range(domains) if movable is None else movable
        candidates = []

        def record(many):
            points = [self._point(levels, protections) for levels in many]
            found = self.accuracies_many([(self.bank_layers, voltages, protections, self.calibration, act,
                                           self.bank_bits) for voltages, act in points])
            out = []
            for levels, (voltages, act), accs in zip(many, points, found, strict=True):
                e = self.energy(voltages, protections, act)
                row = {"bank_vdd_v": voltages, "protections": list(protections)}
                if self.activations:
                    row["act_vdd_v"] = act
                row.update({"energy_j": e.total_j, "weight_mem_energy_j": e.weight_mem_j,
                            "accuracy": float(np.mean(accs)), "yield": self.chip_yield(accs),
                            "feasible": self.feasible(accs), "levels": list(levels), "on_path": False})
                candidates.append(row)
                out.append(row)
            return out

        current = record([level])[0]
        if not current["feasible"]:
            return candidates, None
        current["on_path"] = True
        # Compare moves on the energy the domain changes: the weight SRAM, plus
        # the activation SRAM when it is a domain.
        cost = "energy_j" if self.activations else "weight_mem_energy_j"
        while True:
            trials = []
            for b in movable:
                if level[b] < bank_floor[b]:
                    trial = list(level)
                    trial[b] += 1
                    trials.append(trial)
            best = None
            for trial, cand in zip(trials, record(trials), strict=True):
                if cand["feasible"] and (best is None or cand[cost] < best[1][cost]):
                    best = (trial, cand)
            if best is None:
                return candidates, current
            level, current = best
            current["on_path"] = True

    def refine(self, chosen, floors):
        """Mixed protection: switch one bank's scheme and descend that bank alone; keep gains."""
        candidates = []
        improved = True
        cost = "energy_j" if self.activations else "weight_mem_energy_j"
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
                    if best is not None and best[cost] < chosen[cost]:
                        chosen, improved = best, True
        return candidates, chosen

    def validate(self, candidates, chosen, cost):
        """The cheapest point of a descent's path meeting the target (margin included) on the validation chips.

        Only the points each descent stepped to are checked, not its trial
        moves: along a path every voltage only falls, so yield falls too and
        the first point to pass, cheapest first, is where the path crosses
        the bar. Checking every calibration-feasible candidate instead tries
        dozens of near-equal points at the edge, and the first to pass is
        then the luckiest of them (a second search on the validation chips).
        Points are checked in batches of ``_VALIDATION_BATCH`` so that the
        pool runs a batch at once; every path starts at nominal, which holds,
        so one always qualifies. ``chosen`` is kept if none does (a model
        whose clean run misses the target).
        """
        unique = {}
        for c in sorted((c for c in candidates if c["feasible"] and c["on_path"]), key=lambda c: c[cost]):
            unique.setdefault((tuple(c["bank_vdd_v"]), tuple(c["protections"]), c.get("act_vdd_v")), c)
        ordered = list(unique.values())
        for start in range(0, len(ordered), _VALIDATION_BATCH):
            batch = ordered[start:start + _VALIDATION_BATCH]
            found = self.accuracies_many([(self.bank_layers, c["bank_vdd_v"], c["protections"], self.validation,
                                           c.get("act_vdd_v"), self.bank_bits) for c in batch])
            for candidate, accs in zip(batch, found, strict=True):
                if self.feasible(accs):
                    return candidate
        return chosen

    def uniform(self):
        """Every ladder voltage on every bank alike (activation SRAM at nominal), on held-out chips.

        The banks before ``msb_split``: one supply for both slices of a
        code is the same memory, and these are the evaluations of the same
        search without the split.
        """
        grid = [(protection, v) for protection in dict.fromkeys(("none", *self.protections))
                for v in self.ladder]
        n = len(self.whole_layers)
        found = self.accuracies_many([(self.whole_layers, [v] * n, [protection] * n, self.holdout, None,
                                       self.whole_bits) for protection, v in grid])
        rows = []
        for (protection, v), accs in zip(grid, found, strict=True):
            e = self.energy([v] * n, [protection] * n, whole=True)
            rows.append({"vdd_v": v, "protection": protection, "energy_j": e.total_j,
                         "weight_mem_energy_j": e.weight_mem_j, "accuracy": float(np.mean(accs)),
                         "yield": self.chip_yield(accs), "feasible": self.feasible(accs, margin=False)})
        return rows

    def run(self):
        import torch

        from accelsim.sweep.results import pareto_mask, wilson_interval

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as on a Dask worker, so every executor gives the same results
        try:
            sens_rows, floors = self.sensitivity()
            if self.mapping == "sensitivity":
                self._set_banks(self.sensitivity_banks(floors))
            candidates, chosen = [], None
            cost = "energy_j" if self.activations else "weight_mem_energy_j"
            for protection in self.protections:
                found, best = self.descend([protection] * len(self.banks), floors)
                candidates += found
                if best is not None and (chosen is None or best[cost] < chosen[cost]):
                    chosen = best
            if chosen is not None:
                found, chosen = self.refine(chosen, floors)
                candidates += found
            if chosen is not None and self.validation:
                chosen = self.validate(candidates, chosen, cost)
            uniform = self.uniform()
            if chosen is None:
                raise OptimizeError(f"{self.label}: even nominal voltage misses tolerance "
                                    f"{self.tolerance_pp} pp at yield {self.yield_target} on the "
                                    "calibration chips")
            held = self.accuracies(self.bank_layers, chosen["bank_vdd_v"], chosen["protections"],
                                   self.holdout, chosen.get("act_vdd_v"), self.bank_bits)
        finally:
            torch.set_num_threads(threads)
            self.journal.close()
        n_whole = len(self.whole_banks)
        nominal = self.energy([self.profile.vdd_nominal_v] * n_whole, ["none"] * n_whole, whole=True)
        # The baseline is plain undervolting: one voltage, no protection (uniform.csv
        # also lists each scheme at a uniform voltage).
        ok_uniform = [u for u in uniform if u["feasible"] and u["protection"] == "none"]
        best_uniform = min(ok_uniform, key=lambda u: u["weight_mem_energy_j"]) if ok_uniform else None
        ok_any = [u for u in uniform if u["feasible"]]
        best_any = min(ok_any, key=lambda u: u["weight_mem_energy_j"]) if ok_any else None
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
            evaluations=len(self.used), dataset=str(self.dataset),
            act_vdd_v=chosen.get("act_vdd_v"),
            uniform_any_vdd_v=None if best_any is None else best_any["vdd_v"],
            uniform_any_protection=None if best_any is None else best_any["protection"],
            uniform_any_weight_mem_energy_j=None if best_any is None else best_any["weight_mem_energy_j"],
            validation_chips=self.validation, bank_bits=self.bank_bits)
        front = pareto_mask([c["energy_j"] for c in candidates], [c["accuracy"] for c in candidates])
        _write(self.out / "candidates.csv", candidates)
        _write(self.out / "pareto.csv", [c for c, f in zip(candidates, front, strict=True) if f])
        _write(self.out / "uniform.csv", uniform)
        _write(self.out / "sensitivity.csv", sens_rows)
        record = {**asdict(result), "energy_saving": result.energy_saving,
                  "saving_vs_uniform": result.saving_vs_uniform,
                  "saving_vs_uniform_any": result.saving_vs_uniform_any, "line": format_optimum(result),
                  "tolerance_pp": self.tolerance_pp, "yield_target": self.yield_target,
                  "ladder_v": list(self.ladder),
                  "feasibility": "calibration yield point estimate" + (
                      ", then the cheapest such point of a descent's path meeting the target (plus the margin) "
                      "on the validation chips"
                      if self.validation else ""),
                  "yield_margin": self.yield_margin,
                  "bank_names": [b.name for b in self.banks], "bank_mapping": self.mapping,
                  "layer_floors_v": floors, "msb_split": self.msb_split,
                  # A bound for banks of whole codes only (see floor_energy).
                  "floor_weight_mem_energy_j": None if self.bank_bits else self.floor_energy(floors).weight_mem_j}
        (self.out / "optimum.json").write_text(json.dumps(record, indent=2) + "\n")
        return result


# -- where evaluations run ------------------------------------------------------------------


def _chip_accuracies(qm, x, y, profile, seed, on_detect, requests, chip, evaluators):
    """Accuracy of each ``(key, (bank_layers, voltages, protections, act_vdd_v, bank_bits))`` on ``chip``.

    Shared by every executor, so they compute alike; ``evaluators`` caches a
    :class:`BankedEvaluator` per (banks, protections, bit slices, chip).
    """
    from accelsim.engine.banked import BankedEvaluator

    out = {}
    nominal = profile.vdd_nominal_v
    for key, (bank_layers, voltages, protections, act, bank_bits) in requests:
        if (all(v >= nominal for v in voltages) and set(protections) == {"none"}
                and (act is None or act >= nominal)):
            logits = qm.clean_run(x).logits  # nominal: no faulty cell
        else:
            cache = (bank_layers, protections, bank_bits, chip)
            if cache not in evaluators:
                if len(evaluators) > 64:
                    evaluators.clear()
                evaluators[cache] = BankedEvaluator(qm, x, profile, bank_layers, protections, chip=chip,
                                                    seed=seed, on_detect=on_detect, bank_bits=bank_bits or None)
            logits = evaluators[cache].run(voltages, act).logits
        out[(key, chip)] = float((logits.argmax(1) == y).double().mean())
    return out


class _LocalPool:
    """Evaluates in this process."""

    def __init__(self, optimizer):
        self._o = optimizer

    def evaluate(self, by_chip):
        o, out = self._o, {}
        for chip, requests in by_chip.items():
            out.update(_chip_accuracies(o.qm, o.x, o.y, o.profile, o.seed, o.on_detect, requests, chip,
                                        o.evaluators))
        return out

    def close(self):
        pass


_WORKER_EVALUATORS = {}


def _worker_inputs(source):
    from accelsim.data import load_dataset
    from accelsim.models import load_model
    from accelsim.sram import load_profile

    key = json.dumps(source, sort_keys=True)
    cached = _WORKER_EVALUATORS.get("inputs")
    if cached is None or cached[0] != key:
        _WORKER_EVALUATORS.clear()
        x, y = load_dataset(source["dataset"], split="test")
        if source["limit"] is not None:
            x, y = x[:source["limit"]], y[:source["limit"]]
        qm = load_model(source["model"])
        if source.get("act_bits") is not None and qm.act_quant is None:
            qm = with_act_quant(qm, x, source["act_bits"])
        cached = (key, qm, x, y, load_profile(source["profile"]), {})
        _WORKER_EVALUATORS["inputs"] = cached
    return cached[1:]


def _remote_chip(source, seed, on_detect, requests, chip):
    import torch

    torch.set_num_threads(1)
    qm, x, y, profile, evaluators = _worker_inputs(source)
    return _chip_accuracies(qm, x, y, profile, seed, on_detect, requests, chip, evaluators)


class _DaskPool:
    """One task per chip on a Dask cluster; workers load model, profile and data themselves."""

    def __init__(self, executor, optimizer):
        from accelsim.sweep.executors import make_executor

        if not all(isinstance(optimizer.source[k], str) for k in ("model", "profile", "dataset")):
            raise OptimizeError(f"--executor {executor} loads the model, profile and dataset on each "
                                "worker: pass them by name or path (a QuantizedModel runs locally)")
        self._executor = make_executor(executor)
        self._client = self._executor._client
        self._o = optimizer

    def evaluate(self, by_chip):
        o, out = self._o, {}
        futures = [self._client.submit(_remote_chip, o.source, o.seed, o.on_detect, requests, chip,
                                       pure=False) for chip, requests in by_chip.items()]
        for future in futures:
            out.update(future.result())
        return out

    def close(self):
        self._executor.close()


def _pool(executor, optimizer):
    return _LocalPool(optimizer) if executor == "local" else _DaskPool(executor, optimizer)


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
