"""What a sweep computes: a frozen, self-validating, JSON-round-tripping spec."""

import dataclasses
import math
import re
from dataclasses import dataclass

from accelsim._checks import Interval, check, fail
from accelsim._errors import UserInputError
from accelsim._limits import MAX_VOLTAGES

__all__ = ["SweepError", "SweepSpec", "parse_voltages", "DEFAULT_MODELS", "DEFAULT_PROFILE"]

SCHEMA_VERSION = 1
DEFAULT_MODELS = ("digits-cnn-normal-8b", "digits-cnn-clipping-8b", "digits-cnn-randbet-8b")
DEFAULT_PROFILE = "14nm"
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
    models : tuple of str
        Zoo names or checkpoint paths; the first is the accuracy reference.
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
    dataset : str
        ``digits``, ``mnist:DIR`` or ``cifar10:DIR``; evaluated on its test split.
    seed : int
        Seeds intermittent-cell draws.
    limit : int or None
        Evaluate only the first ``limit`` test examples.
    batch_size : int
    torch_threads : int
        Torch intra-op threads, pinned alike in every executor so results agree.
    """

    models: tuple[str, ...] = DEFAULT_MODELS
    profile: str = DEFAULT_PROFILE
    voltages_v: tuple[float, ...] = ()
    chips: int = 5
    bits: int | None = None
    dataset: str = "digits"
    seed: int = 0
    limit: int | None = None
    batch_size: int = 2048
    torch_threads: int = 1

    def __post_init__(self):
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "voltages_v", tuple(float(v) for v in self.voltages_v))
        if not self.models:
            raise SweepError("a sweep needs at least one model (--model NAME|PATH)")
        if len(set(self.models)) != len(self.models):
            raise SweepError(f"--model lists a model twice: {list(self.models)}")
        if list(self.voltages_v) != sorted(set(self.voltages_v), reverse=True):
            raise SweepError("voltages must be distinct and sorted from high to low")
        for name in ("chips", "batch_size", "torch_threads"):
            check(name, getattr(self, name), Interval(int, 1), error=SweepError)
        if self.bits is not None and self.bits not in _BITS:
            fail("bits", self.bits, "one of " + ", ".join(map(str, _BITS)) + " (or None: as trained)", SweepError)
        check("limit", self.limit, Interval(int, 1), optional=True, error=SweepError)
        check("seed", self.seed, Interval(int, 0, 2**63 - 1), error=SweepError)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict with a schema version."""
        return {"schema_version": SCHEMA_VERSION, **dataclasses.asdict(self)}

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
        return cls(**data)
