"""Declarative parameter checks, one wording of messages for every layer.

In the spirit of scikit-learn's parameter constraints: a constraint is declared
once (``Interval(Real, 0, 1, closed="right")``, ``StrOptions({"keep", "zero"})``)
and :func:`check` applies it, returning the value normalised to a plain Python
type or raising the caller's :class:`~accelsim._errors.UserInputError`
subclass with the message::

    <where> = <value!r>: expected <what the constraint describes>[ (<meaning>)]

``where`` names the field as the user wrote it (``--tolerance``,
``meta.arrays``, ``pe_array.rows``), so the message says what to fix.

Examples
--------
>>> from accelsim._checks import Interval, StrOptions, check
>>> check("--yield", 0.95, Interval(float, 0, 1, closed="right"))
0.95
>>> check("on_detect", "zero", StrOptions({"keep", "zero"}))
'zero'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

from accelsim._errors import UserInputError

__all__ = [
    "Constraint",
    "Interval",
    "StrOptions",
    "NonEmptyStr",
    "Boolean",
    "check",
    "check_all",
    "fail",
    "float_array",
]


def fail(where: str, value: object, expected: str, error: type[UserInputError] = UserInputError):
    """Raise ``error`` with the one wording every check uses."""
    raise error(f"{where} = {value!r}: expected {expected}")


class Constraint:
    """A declared constraint: ``normalise`` returns the clean value or ``None`` if refused."""

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def normalise(self, value: object) -> object | None:  # pragma: no cover - abstract
        raise NotImplementedError


_REFUSED = object()


@dataclass(frozen=True)
class Interval(Constraint):
    """A number of ``kind`` (``int`` or ``float``) within ``[low, high]``.

    ``None`` for a bound leaves that side open-ended; ``closed`` is one of
    ``"both"``, ``"left"``, ``"right"``, ``"neither"``. Booleans are never
    numbers here, and a float must be finite. An ``int`` interval refuses
    floats (``2.0`` is a float, not a count).
    """

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __post_init__(self):
        if self.kind not in (int, float):
            raise TypeError("Interval.kind must be int or float")
        if self.closed not in ("both", "left", "right", "neither"):
            raise TypeError("Interval.closed must be both, left, right or neither")

    def describe(self) -> str:
        noun = "an integer" if self.kind is int else "a finite number"
        if self.low is None and self.high is None:
            return noun
        if self.high is None:
            return f"{noun} {'>=' if self.closed in ('both', 'left') else '>'} {self.low}"
        if self.low is None:
            return f"{noun} {'<=' if self.closed in ('both', 'right') else '<'} {self.high}"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        return f"{noun} in {left}{self.low}, {self.high}{right}"

    def normalise(self, value):
        if isinstance(value, bool):
            return _REFUSED
        if self.kind is int:
            if not isinstance(value, numbers.Integral):
                return _REFUSED
            value = int(value)
        else:
            if not isinstance(value, numbers.Real):
                return _REFUSED
            value = float(value)
            if not math.isfinite(value):
                return _REFUSED
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return _REFUSED
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return _REFUSED
        return value


@dataclass(frozen=True)
class StrOptions(Constraint):
    """One of a fixed set of strings."""

    options: frozenset

    def __init__(self, options: Iterable[str]):
        object.__setattr__(self, "options", frozenset(options))

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in sorted(self.options))

    def normalise(self, value):
        return value if isinstance(value, str) and value in self.options else _REFUSED


@dataclass(frozen=True)
class NonEmptyStr(Constraint):
    """A string with at least one non-blank character."""

    def describe(self) -> str:
        return "a non-empty string"

    def normalise(self, value):
        return value if isinstance(value, str) and value.strip() else _REFUSED


@dataclass(frozen=True)
class Boolean(Constraint):
    """``True`` or ``False`` (``true``/``false`` in TOML and JSON)."""

    def describe(self) -> str:
        return "true or false"

    def normalise(self, value):
        return value if isinstance(value, bool) else _REFUSED


def check(
    where: str,
    value: object,
    constraint: Constraint,
    *,
    meaning: str = "",
    error: type[UserInputError] = UserInputError,
    optional: bool = False,
):
    """Return ``value`` normalised by ``constraint``, or raise ``error``.

    Parameters
    ----------
    where : str
        The field as the user wrote it (flag, key path or parameter name).
    value : object
        What the user gave.
    constraint : Constraint
        What is allowed.
    meaning : str, optional
        A few words on what the field is, appended to the message.
    error : type of UserInputError, optional
        The layer's own subclass (``ProfileError``, ``SweepError``, ...).
    optional : bool, optional
        Let ``None`` through unchanged.
    """
    if optional and value is None:
        return None
    clean = constraint.normalise(value)
    if clean is _REFUSED:
        expected = constraint.describe() + (f" ({meaning})" if meaning else "")
        fail(where, value, expected, error)
    return clean


def float_array(where: str, value: object, *, error: type[UserInputError] = UserInputError,
                low: float | None = None, closed: str = "both", finite: bool = True):
    """``value`` as a float64 NumPy array (a number or an array of them), every entry finite and above ``low``.

    ``closed="neither"`` refuses ``low`` itself. Strings and booleans are refused.
    ``finite=False`` lets NaN and infinities through (for a caller whose own
    range check names them better).
    """
    import numpy as np

    expected = f"a {'finite ' if finite else ''}number or an array of them"
    if low is not None:
        expected += f" ({'>=' if closed == 'both' else '>'} {low})"
    if isinstance(value, (bool, np.bool_, str, bytes)):
        fail(where, value, expected, error)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(where, value, expected, error)
    bad = ~np.isfinite(array) if finite else np.zeros(array.shape, bool)
    if low is not None:
        bad |= array < low if closed == "both" else array <= low
    if np.any(bad):
        fail(where, array[bad].flat[0].item(), expected, error)
    return array


def check_all(values: dict, constraints: dict, *, error: type[UserInputError] = UserInputError,
              prefix: str = "") -> dict:
    """Check every ``values[key]`` against ``constraints[key]``; return the clean dict."""
    return {key: check(prefix + key, values[key], constraint, error=error)
            for key, constraint in constraints.items() if key in values}
