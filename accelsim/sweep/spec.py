"""What a sweep computes: a frozen, self-validating, JSON-round-tripping spec."""

import dataclasses
import math
import re
from dataclasses import dataclass

from accelsim._checks import Boolean, Interval, StrOptions, check, fail
from accelsim._errors import UserInputError
from accelsim._limits import MAX_VOLTAGES

__all__ = ["SweepError", "SweepSpec", "parse_voltages", "parse_bank_voltages", "DEFAULT_MODELS", "DEFAULT_PROFILE"]

SCHEMA_VERSION = 1
DEFAULT_MODELS = ("digits-cnn-normal-8b", "digits-cnn-clipping-8b", "digits-cnn-randbet-8b")
DEFAULT_PROFILE = "14nm"
# Quantization of models given as nn.Module or module:attr when the spec names no scheme.
DEFAULT_MODULE_SCHEME = "rquant"
# Left out of sweep.json without --adaptive, so such specs read as before.
_ADAPTIVE_FIELDS = ("adaptive", "halfwidth_pp")
_BITS = (2, 3, 4, 5, 6, 7, 8, 16)
_RANGE = re.compile(r"^\s*([^:]+):([^:]+):([^:]+)\s*$")


class SweepError(UserInputError):
    """A sweep cannot run as asked; the message says why and how to fix it."""


def _number(text, what):
    try:
        value = float(text)
    except ValueError:
        raise SweepError(f"--voltages: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SweepError(f"--voltages: {what} {text!r} is not finite")
    return value


def _check_count(n, max_voltages):
    if max_voltages is not None and n > max_voltages:
        raise SweepError(f"--voltages: {n} voltages exceed the limit of {max_voltages}; "
                         "pass --allow-large to lift it")


def parse_bank_voltages(text):
    """Parse ``V1,V2,...`` (one supply per bank, in bank order) for ``--bank-voltages``."""
    parts = [p for p in str(text).split(",") if p.strip()]
    if not parts:
        raise SweepError(f"--bank-voltages = {text!r}: expected V1,V2,... (one voltage per bank)")
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise SweepError(f"--bank-voltages = {text!r}: {part!r} is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise SweepError(f"--bank-voltages = {text!r}: expected positive volts")
        values.append(round(value, 9))
    return tuple(values)


def parse_voltages(text: str, max_voltages: int | None = MAX_VOLTAGES) -> tuple[float, ...]:
    """Parse ``START:STOP:N`` (N evenly spaced, both ends included) or ``V1,V2,...``.

    Parameters
    ----------
    text : str
    max_voltages : int or None
        Refuse more voltages than this before building them (None: no limit;
        the CLI lifts it with ``--allow-large``).

    Returns
    -------
    tuple of float
        Distinct voltages in volts, from high to low.
    """
    match = _RANGE.match(text)
    if ":" in text and not match:
        raise SweepError(f"--voltages: {text!r} is neither START:STOP:N nor V1,V2,...")
    if match:
        start, stop = _number(match[1], "START"), _number(match[2], "STOP")
        try:
            n = int(match[3])
        except ValueError:
            raise SweepError(f"--voltages: N {match[3]!r} must be a whole number (START:STOP:N)") from None
        if n < 1 or (n == 1 and start != stop):
            raise SweepError(f"--voltages: N must be >= 2 for a range {start}:{stop} (got {n})")
        _check_count(n, max_voltages)
        values = [start] if n == 1 else [start + (stop - start) * i / (n - 1) for i in range(n)]
    else:
        parts = [p for p in text.split(",") if p.strip()]
        if not parts:
            raise SweepError(f"--voltages: {text!r} is neither START:STOP:N nor V1,V2,...")
        _check_count(len(parts), max_voltages)
        values = [_number(p, "voltage") for p in parts]
    values = [round(v, 9) for v in values]
    if any(v <= 0 for v in values):
        raise SweepError(f"--voltages: supply voltages must be positive volts, got {text!r}")
    return tuple(sorted(set(values), reverse=True))


@dataclass(frozen=True)
class SweepSpec:
    """Everything that determines a sweep's results.

    Attributes
    ----------
    models : tuple
        Zoo names, checkpoint paths (any registered architecture),
        ``module:attr@checkpoint`` strings, ``torch.nn.Module``s (quantized
        with ``scheme`` and ``bits``, 8 by default) or ``QuantizedModel``s;
        the first is the accuracy and energy reference. Labels (the ``model``
        column, :attr:`labels`) are unique within a sweep.
    profile : str
        Profile name or path.
    voltages_v : tuple of float
        Supply voltages of the weight SRAM, high to low. Empty: the profile's
        default range (from nominal down, see :func:`default_voltages`).
    chips : int
        Chips per (model, voltage): fresh draws of a generated profile, or
        placements in a measured one.
    bits : int or None
        Re-quantize every model at this precision (None: as trained).
    dataset : str, (x, y) tensors, torch Dataset or DataLoader, or None
        A spec (``digits``, ``mnist:DIR``, ``mnist`` with ``$ACCELSIM_DATA``,
        ``cifar10:DIR``, a registered name), evaluated on its test split, or
        in-memory data (kept as :class:`~accelsim.sweep.inputs.TensorData`).
        None: the first model's own dataset (its checkpoint says which).
    seed : int
        Seeds intermittent-cell draws.
    limit : int or None
        Evaluate only the first ``limit`` test examples.
    batch_size : int or None
        Images per batch; None (the default) chooses it from the models'
        activation sizes and the CPU cache when the sweep starts
        (:meth:`QuantizedModel.batch_size_for`), and the chosen value is
        recorded in the spec. Results do not depend on it.
    torch_threads : int
        Torch intra-op threads, pinned alike in every executor so results agree.
    scheme : str or None
        Quantization scheme, a preset (``rquant``, ...) or a number format
        (``int8``, ``int4-g128``, ``fp16``, ``fp8-e4m3``, ``bfp-16``, ...):
        re-quantizes every model; None keeps zoo models and checkpoints as
        trained and quantizes ``nn.Module`` and ``module:attr`` models with
        ``rquant`` (:data:`DEFAULT_MODULE_SCHEME`).
    protections : tuple of str
        Protection schemes (``accelsim.sram.protection``); each is one more
        row group of every (model, chip, voltage).
    on_detect : str
        ``zero`` or ``keep``: what a detected-uncorrectable word reads as.
    tolerance_pp : float
        Accuracy loss in points that still counts a chip as good (yield);
        with ``adaptive``, a point also stops when its accuracy is certainly
        more than this many points below the reference's clean accuracy.
    bank_voltages : tuple of tuple of float
        Extra points with one supply per weight bank (``--bank-voltages``);
        the model's layers are split into that many banks of contiguous
        layers balanced by stored bits (:func:`accelsim.accel.banks.split_layers`),
        unless ``accelerator`` maps them with ``[[weight_banks]]`` tables.
    metric : str
        ``accuracy``, ``top5``, ``loss`` or ``perplexity``: the ``metric_value``
        column of each row (see :mod:`accelsim.sweep.metrics`).
    adaptive : bool
        Evaluate each point's images in chunks and stop once its accuracy is
        settled (see :mod:`accelsim.sweep.adaptive`); rows then say how many
        images were used and the accuracy's 95% half-width. Off by default:
        every point uses the whole test set.
    halfwidth_pp : float
        With ``adaptive``: stop when the 95% half-width is at most this, in points.
    attack : str or None
        ``bfa:K`` or ``advbit:K``: per point, also the accuracy after an
        attacker adds K chosen flips on top of the chip's faults (columns
        ``attack, attack_flips, attack_accuracy, attack_robust_error``).
        Under a protection scheme the flips land in the stored stream,
        check bits included, and the decoder sees them.
    accelerator : str or None
        An accelerator preset (``edge``, ...) or TOML file (``--accelerator``)
        pricing every point; its ``[[weight_banks]]`` tables, if any, map the
        layers to the banks of the ``bank_voltages`` points (one voltage per
        table, in file order). None: the ``edge`` preset, no banks.
    activations : int or None
        Bits per activation (``--activations``): every model's activations
        are quantized to this many bits (ranges calibrated on the first 256
        evaluated images, :func:`accelsim.engine.activations.with_act_quant`)
        and the activation SRAM becomes one more swept domain of the
        ``bank_voltages`` points, whose last value is then its supply (the
        activation SRAM of uniform points stays at nominal). None (default):
        activations as the model has them, the activation SRAM at nominal.
    act_bits : int or None
        Quantize the input of every conv and linear layer to this many bits
        (``--act-bits``; an :class:`~accelsim.quant.ActivationQuantizer`
        whose ranges are calibrated on the first 256 test examples); None
        (the default) keeps float activations.
    execution : str
        ``float`` (the default) runs the layers in float32 on the decoded
        values; ``integer`` (``--execution integer``, needs ``act_bits``)
        runs conv and linear layers in integer arithmetic on the codes, as
        the accelerator's MAC array does (:mod:`accelsim.engine.integer`).
    """

    models: tuple[str, ...] = DEFAULT_MODELS
    profile: str = DEFAULT_PROFILE
    voltages_v: tuple[float, ...] = ()
    chips: int = 5
    bits: int | None = None
    dataset: object = None
    seed: int = 0
    limit: int | None = None
    batch_size: int | None = None
    torch_threads: int = 1
    protections: tuple = ("none",)
    on_detect: str = "zero"
    tolerance_pp: float = 1.0
    bank_voltages: tuple = ()
    scheme: str | None = None
    metric: str = "accuracy"
    adaptive: bool = False
    halfwidth_pp: float = 0.25
    attack: str | None = None
    accelerator: str | None = None
    activations: int | None = None
    act_bits: int | None = None
    execution: str = "float"

    def __post_init__(self):

        from accelsim.sram.protection import check_on_detect, parse_protection
        from accelsim.sweep import inputs  # torch: only once a spec is made

        models = self.models
        if inputs.is_single_model(models):
            models = (models,)  # one model given on its own (an nn.Sequential is iterable, yet one model)
        object.__setattr__(self, "models", tuple(inputs.as_model(m) for m in models))
        object.__setattr__(self, "dataset", inputs.as_dataset(self.dataset))
        protections = tuple(parse_protection(p).name for p in (self.protections or ("none",)))
        if len(set(protections)) != len(protections):
            raise SweepError(f"--protection lists a scheme twice: {list(protections)}")
        object.__setattr__(self, "protections", protections)
        check_on_detect(self.on_detect)
        vectors = tuple(tuple(float(v) for v in vector) for vector in self.bank_voltages)
        if len({len(v) for v in vectors}) > 1 or any(len(v) == 0 for v in vectors):
            raise SweepError(f"--bank-voltages: every point needs the same number (>= 1) of bank "
                             f"voltages, got {[list(v) for v in vectors]}")
        object.__setattr__(self, "bank_voltages", vectors)
        if self.activations is not None:
            from accelsim.quant.activations import SUPPORTED_BITS

            check("--activations", self.activations, Interval(int, 2, 16), error=SweepError,
                  meaning="bits per activation")
            if self.activations not in SUPPORTED_BITS:
                raise SweepError(f"--activations = {self.activations}: expected bits per activation in "
                                 f"{', '.join(map(str, SUPPORTED_BITS))}")
            if not vectors:
                raise SweepError("--activations puts the activation SRAM on the swept domain of the "
                                 "--bank-voltages points (their last value); give --bank-voltages")
            if len(vectors[0]) < 2:
                raise SweepError(f"--bank-voltages {','.join(map(str, vectors[0]))}: with --activations "
                                 "a point gives each weight bank's supply, then the activation SRAM's "
                                 "(at least 2 values)")
        object.__setattr__(self, "tolerance_pp", check(
            "--tolerance", self.tolerance_pp, Interval(float, 0, None), error=SweepError,
            meaning="accuracy loss in percentage points"))
        object.__setattr__(self, "voltages_v", tuple(float(v) for v in self.voltages_v))
        if self.accelerator is not None:
            import os

            if not isinstance(self.accelerator, (str, os.PathLike)) or not str(self.accelerator):
                fail("--accelerator", self.accelerator, "a preset name or the path of a TOML file", SweepError)
            object.__setattr__(self, "accelerator", os.fspath(self.accelerator))
        if not self.models:
            raise SweepError("a sweep needs at least one model (--model NAME|PATH)")
        strings = [m for m in self.models if isinstance(m, str)]
        if len(set(strings)) != len(strings) or len({id(m) for m in self.models}) != len(self.models):
            raise SweepError(f"--model lists a model twice: {[inputs.base_label(m) for m in self.models]}")
        if self.scheme is not None and (not isinstance(self.scheme, str) or not self.scheme):
            raise SweepError(f"--scheme = {self.scheme!r}: expected a scheme name such as 'rquant' or 'int4-g128'")
        if list(self.voltages_v) != sorted(set(self.voltages_v), reverse=True):
            raise SweepError("voltages must be distinct and sorted from high to low")
        for name in ("chips", "torch_threads"):
            check(name, getattr(self, name), Interval(int, 1), error=SweepError)
        check("batch_size", self.batch_size, Interval(int, 1), optional=True, error=SweepError)
        if self.bits is not None and self.bits not in _BITS:
            fail("bits", self.bits, "one of " + ", ".join(map(str, _BITS)) + " (or None: as trained)", SweepError)
        from accelsim.sweep.metrics import METRICS

        check("--metric", self.metric, StrOptions(METRICS), error=SweepError)
        check("limit", self.limit, Interval(int, 1), optional=True, error=SweepError)
        check("seed", self.seed, Interval(int, 0, 2**63 - 1), error=SweepError)
        check("adaptive", self.adaptive, Boolean(), error=SweepError)
        if self.adaptive and (self.protections != ("none",) or self.bank_voltages or self.metric != "accuracy"):
            raise SweepError("--adaptive settles a point's accuracy on unprotected memory at one voltage: "
                             "drop --protection, --bank-voltages and --metric, or --adaptive")
        object.__setattr__(self, "halfwidth_pp", check("halfwidth_pp", self.halfwidth_pp,
                                                       Interval(float, 0, None, closed="neither"),
                                                       error=SweepError))
        if self.act_bits is not None:
            from accelsim.quant.activations import SUPPORTED_BITS

            if isinstance(self.act_bits, bool) or self.act_bits not in SUPPORTED_BITS:
                fail("--act-bits", self.act_bits, "bits per activation, one of "
                     + ", ".join(map(str, SUPPORTED_BITS)), SweepError)
        if self.act_bits is not None and self.activations is not None:
            raise SweepError(f"--act-bits {self.act_bits} and --activations {self.activations}: --activations "
                             "already quantizes the activations (and puts their SRAM on the bank-voltage "
                             "domain); give one of them")
        from accelsim.engine.integer import EXECUTIONS

        check("--execution", self.execution, StrOptions(EXECUTIONS), error=SweepError)
        if self.execution == "integer" and self.act_bits is None:
            raise SweepError("--execution integer runs layers on integer activations: give their bits "
                             "with --act-bits (e.g. --act-bits 8)")
        if self.execution == "integer" and (self.adaptive or self.bank_voltages or self.attack is not None):
            raise SweepError("--execution integer runs whole-set, uniform-voltage points: drop --adaptive, "
                             "--bank-voltages and --attack, or --execution integer")
        if self.attack is not None:
            from accelsim.attack import parse_attack

            parse_attack(self.attack)
            if self.bank_voltages or self.adaptive:
                raise SweepError("--attack adds chosen flips to one memory read at one voltage: a banked read "
                                 "(--bank-voltages) takes no attacker's flips, and --adaptive stops on a share of "
                                 "the images while the attack is measured on all of them; drop those or --attack")


    @property
    def act_quant_bits(self):
        """Bits the models' activations are quantized to (``act_bits`` or ``activations``), or None."""
        return self.act_bits if self.act_bits is not None else self.activations

    def weight_vector(self, vector):
        """The weight banks' supplies of a ``bank_voltages`` point (without the activation SRAM's)."""
        return tuple(vector[:-1]) if self.activations is not None else tuple(vector)

    def act_vdd_v(self, vector):
        """The activation SRAM's supply of a ``bank_voltages`` point (None without ``activations``)."""
        return float(vector[-1]) if self.activations is not None else None

    @property
    def labels(self):
        """The ``model`` column of each entry: unique, ``-2``, ... on a clash.

        A re-quantized entry says how: ``@4b`` (``bits``), ``@int4-g128``
        (``scheme``), ``@rquant-4b`` (both).
        """
        from accelsim.sweep.inputs import base_label

        requantized = "-".join(str(part) for part in (self.scheme, self.bits and f"{self.bits}b") if part)
        labels, seen = [], {}
        for item in self.models:
            label = base_label(item)
            if requantized:
                label = f"{label}@{requantized}"
            seen[label] = seen.get(label, 0) + 1
            labels.append(label if seen[label] == 1 else f"{label}-{seen[label]}")
        return tuple(labels)

    def label_of(self, model):
        """The label of an entry (the entry itself, or its index in ``models``)."""
        if isinstance(model, int) and not isinstance(model, bool):
            return self.labels[model]
        for i, item in enumerate(self.models):
            if item is model or (isinstance(item, str) and item == model):
                return self.labels[i]
        raise SweepError(f"model {model!r} is not in this sweep")

    @property
    def in_memory(self):
        """True when a model or the dataset is an in-memory object (not rebuildable from sweep.json)."""
        return (not isinstance(self.dataset, (str, type(None)))
                or any(not isinstance(m, str) for m in self.models))

    def to_dict(self) -> dict:
        """Plain JSON-ready dict with a schema version.

        In-memory models and data appear as descriptions with a sha256
        fingerprint; :meth:`from_dict` refuses them (they are never pickled).
        """
        from accelsim.sweep.inputs import model_record

        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["models"] = [model_record(m) for m in self.models]
        data["voltages_v"] = list(self.voltages_v)
        if not isinstance(data["dataset"], (str, type(None))):
            data["dataset"] = self.dataset.to_dict()  # type: ignore[attr-defined]  # TensorData
        data["bank_voltages"] = [list(v) for v in self.bank_voltages]
        if not self.adaptive:
            for name in _ADAPTIVE_FIELDS:
                del data[name]
        if self.accelerator is None:
            del data["accelerator"]  # the default: specs written before the field read the same
        for name, default in (("activations", None), ("act_bits", None), ("execution", "float")):
            if data[name] == default:
                del data[name]  # likewise
        return {"schema_version": SCHEMA_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict) -> "SweepSpec":
        """Inverse of :meth:`to_dict`; unknown keys or versions are errors."""
        data = dict(data)
        version = data.pop("schema_version", None)
        if version != SCHEMA_VERSION:
            raise SweepError(f"sweep spec schema_version {version!r} is not {SCHEMA_VERSION}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise SweepError(f"unknown sweep spec keys {sorted(unknown)}; expected {sorted(names)}")
        for what, values in (("model", data.get("models", ())), ("dataset", [data.get("dataset")])):
            for value in values:
                if isinstance(value, dict):
                    raise SweepError(f"the spec records an in-memory {what} ({value.get('in_memory')}, sha256 "
                                     f"{str(value.get('sha256'))[:12]}...) that a file cannot rebuild; pass the "
                                     "same object to run_sweep(..., resume=True) from Python")
        return cls(**data)
