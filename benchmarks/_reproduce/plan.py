"""What the reproduction trains and evaluates: frozen, self-validating specs.

A :class:`Settings` fixes the dataset, the rates, the chips and the epoch
budget; :func:`build_tables` turns it into the four tables of the issue, each
a list of :class:`Row` (a trained model quantized one way) evaluated under a
list of :class:`~_reproduce.faults.FaultModel` at every rate.
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from _reproduce.faults import FaultModel

__all__ = ["Settings", "ModelSpec", "Row", "Table", "quick_settings", "full_settings", "build_tables"]

RATES = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2)
PRESETS = ("global", "normal", "asymmetric", "unsigned", "rquant")
METHODS = ("normal", "randbet", "saq")


def _check(condition, message):
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class Settings:
    """Everything that fixes the numbers of a reproduction run.

    Attributes
    ----------
    dataset : str
        ``mnist:DIR`` or ``digits`` (accelsim dataset spec).
    arch : str
        Architecture name in :mod:`accelsim.models`.
    rates : tuple of float
        Bit error rates (population BER of the profile) of the table columns.
    chips : int
        Chips per table cell.
    test_limit : int or None
        Evaluate on the first ``test_limit`` test examples (None: all).
    train_limit : int or None
        Train on the first ``train_limit`` training examples (None: all).
    epochs : int
        Training epochs of every model (RandBET and SAQ cost about twice).
    seed : int
        Seed of every training run.
    clip_bounds : tuple of float
        Weight clipping bounds W of table 2.
    randbet_clip : float
        W of the RandBET models.
    randbet_p_train : dict
        RandBET training rate by precision, ``{8: p, 4: p}``.
    act_sparsity : float
        L1 weight of the activation penalty of FlatENN's sparse model.
    profile_rate : float
        Population BER of the 14 nm profile at which the fault-aware model trains.
    """

    dataset: str
    arch: str
    rates: tuple = RATES
    chips: int = 25
    test_limit: int | None = None
    train_limit: int | None = None
    epochs: int = 10
    seed: int = 0
    clip_bounds: tuple = (0.1, 0.05, 0.025)
    randbet_clip: float = 0.05
    randbet_p_train: tuple = ((8, 0.1), (4, 0.1))
    act_sparsity: float = 0.1
    profile_rate: float = 0.01

    def __post_init__(self):
        object.__setattr__(self, "rates", tuple(float(r) for r in self.rates))
        object.__setattr__(self, "clip_bounds", tuple(float(w) for w in self.clip_bounds))
        object.__setattr__(self, "randbet_p_train", tuple(tuple(p) for p in self.randbet_p_train))
        _check(self.rates and all(0 < r < 1 for r in self.rates) and list(self.rates) == sorted(set(self.rates)),
               f"Settings.rates is {self.rates}; expected distinct rates in (0, 1), ascending")
        for name in ("chips", "epochs"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 1, f"Settings.{name} is {value!r}; expected an int >= 1")
        for name in ("test_limit", "train_limit"):
            value = getattr(self, name)
            _check(value is None or (isinstance(value, int) and value >= 1),
                   f"Settings.{name} is {value!r}; expected None or an int >= 1")
        _check(all(w > 0 for w in self.clip_bounds) and self.randbet_clip > 0,
               "Settings: clipping bounds must be > 0")
        _check(0 < self.profile_rate < 1, f"Settings.profile_rate is {self.profile_rate}; expected (0, 1)")
        _check(self.act_sparsity > 0, f"Settings.act_sparsity is {self.act_sparsity}; expected > 0")

    def p_train(self, bits):
        """RandBET training rate at ``bits``."""
        return dict(self.randbet_p_train)[bits]

    def to_dict(self):
        """JSON-ready dict."""
        return dataclasses.asdict(self)

    def evaluation_key(self):
        """Fingerprint of the settings a cached table cell depends on."""
        fields = {"dataset": self.dataset, "chips": self.chips, "test_limit": self.test_limit}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ModelSpec:
    """One model to train: the fields of :class:`accelsim.train.TrainConfig` a table varies.

    ``bits=16`` stands for a float model: quantization-aware training at 16
    bits changes a LeNet's weights by less than 1e-4 of their range.
    RandBET with ``fault_model="profile:NAME@V"`` and ``fault_chip`` is
    profile-aware training on the faults of that one chip.
    """

    method: str
    bits: int
    clip: float | None = None
    p_train: float | None = None
    fault_model: str | None = None
    fault_chip: int | None = None
    act_sparsity: float = 0.0

    def __post_init__(self):
        _check(self.method in METHODS, f"ModelSpec.method is {self.method!r}; expected one of {METHODS}")
        _check(self.bits in (4, 8, 16), f"ModelSpec.bits is {self.bits!r}; expected 4, 8 or 16")

    @property
    def name(self):
        """File-name-safe identifier, e.g. ``randbet-clip0.1-p0.1-8b``."""
        parts = [self.method]
        if self.clip is not None:
            parts.append(f"clip{self.clip:g}")
        if self.p_train is not None:
            parts.append(f"p{self.p_train:g}")
        if self.fault_model is not None and self.fault_model != "flip":
            parts.append(self.fault_model.replace(":", "-").replace("@", "-"))
        if self.fault_chip is not None:
            parts.append(f"chip{self.fault_chip}")
        if self.act_sparsity:
            parts.append(f"sparse{self.act_sparsity:g}")
        parts.append("float" if self.bits == 16 else f"{self.bits}b")
        return "-".join(parts)


@dataclass(frozen=True)
class Row:
    """A table row: a trained model quantized with ``scheme`` at ``bits``."""

    label: str
    model: ModelSpec
    scheme: str = "rquant"
    bits: int = 8

    @property
    def key(self):
        """File-name-safe identifier of the row's quantized model."""
        return f"{self.model.name}--{self.scheme}{self.bits}"


@dataclass(frozen=True)
class Table:
    """One table: rows evaluated under each fault model at every rate."""

    name: str
    title: str
    rows: tuple
    faults: tuple
    note: str = ""

    @property
    def models(self):
        """The distinct models the table needs, in row order."""
        return tuple(dict.fromkeys(row.model for row in self.rows))


def full_settings(dataset, arch, epochs):
    """The issue's configuration: all rates, 25 chips, the whole test set."""
    return Settings(dataset=dataset, arch=arch, epochs=epochs)


def quick_settings(dataset, arch):
    """A tiny configuration for tests: two rates, two chips, one epoch on 512 examples, 64 test examples."""
    return Settings(dataset=dataset, arch=arch, rates=(0.01, 0.1), chips=2, test_limit=64, train_limit=512,
                    epochs=1, clip_bounds=(0.1,))


def build_tables(settings, profile_vdd_v):
    """The four tables of the reproduction.

    Parameters
    ----------
    settings : Settings
    profile_vdd_v : float
        Voltage of the 14 nm profile at ``settings.profile_rate`` (the
        fault-aware model trains there).

    Returns
    -------
    tuple of Table
        presets, methods, flatenn, generalisation.
    """
    return (_presets_table(), _methods_table(settings), _flatenn_table(settings),
            _generalisation_table(settings, profile_vdd_v))


def _randbet(settings, bits):
    return ModelSpec("randbet", bits, clip=settings.randbet_clip, p_train=settings.p_train(bits))


def _presets_table():
    float_model = ModelSpec("normal", 16)
    return Table("presets", "Quantization presets at 8 bits (one float model, normal training)",
                 tuple(Row(p, float_model, p, 8) for p in PRESETS), (FaultModel("flip"),),
                 "One model trained once with normal training at 16 bits (practically float), then quantized "
                 "with each preset at 8 bits.")


def _methods_table(settings):
    rows = []
    for bits in (8, 4):
        rows.append(Row(f"normal {bits}b", ModelSpec("normal", bits), bits=bits))
        rows += [Row(f"clipping {w:g} {bits}b", ModelSpec("normal", bits, clip=w), bits=bits)
                 for w in settings.clip_bounds]
        rows.append(Row(f"RandBET W={settings.randbet_clip:g} p={settings.p_train(bits):g} {bits}b",
                        _randbet(settings, bits), bits=bits))
    return Table("methods", "Normal training vs clipping vs RandBET (rquant)", tuple(rows), (FaultModel("flip"),))


def _flatenn_table(settings):
    l1 = settings.act_sparsity
    rows = (Row("standard", ModelSpec("normal", 8)),
            Row(f"sparse (L1 {l1:g})", ModelSpec("normal", 8, act_sparsity=l1)),
            Row("standard + SAQ", ModelSpec("saq", 8)),
            Row("sparse + SAQ", ModelSpec("saq", 8, act_sparsity=l1)))
    return Table("flatenn", "FlatENN: activation sparsity and SAQ under bit flips and stuck-at faults (8 bits)",
                 rows, (FaultModel("flip"), FaultModel("sa0"), FaultModel("sa1")))


def _generalisation_table(settings, profile_vdd_v):
    aware = ModelSpec("randbet", 8, clip=settings.randbet_clip, fault_model=f"profile:14nm@{profile_vdd_v:.4f}",
                      fault_chip=0)
    rows = (Row("fault-aware (14nm chip 0)", aware),
            Row(f"RandBET W={settings.randbet_clip:g} p={settings.p_train(8):g}", _randbet(settings, 8)))
    # The training chip alone, then chips 1..N (never trained on), then rate-based flips.
    faults = (FaultModel("14nm", first_chip=0, n_chips=1), FaultModel("14nm", first_chip=1), FaultModel("flip"))
    return Table("generalisation",
                 "Fault-aware training on one chip (14 nm, chip 0) vs RandBET, evaluated on other chips",
                 rows, faults,
                 f"The fault-aware model trains on the faults of chip 0 of the 14 nm profile at {profile_vdd_v:.4f} V "
                 f"(population BER {settings.profile_rate:g}), with the RandBET model's clipping. Columns of the "
                 "14nm rows are the profile's population BER.")
