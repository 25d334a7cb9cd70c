"""Field checks shared by the accelerator's dataclasses, on :mod:`accelsim._checks`.

Each checker takes ``where`` (the dotted name of the field as it appears in
an accelerator file, e.g. ``pe_array.rows``), the value and a short hint on
what the field means, and returns the value normalised to a plain Python
type, or raises :class:`AcceleratorError` naming the field, the value and
what was expected.
"""

from accelsim._checks import Boolean, Interval, NonEmptyStr, StrOptions, check, fail
from accelsim._errors import UserInputError

__all__ = [
    "AcceleratorError",
    "check_bool",
    "check_fraction",
    "check_int",
    "check_real",
    "check_text",
]


class AcceleratorError(UserInputError):
    """An accelerator description, workload or energy query is invalid."""


def _fail(where, value, expected):
    fail(where, value, expected, AcceleratorError)


def check_int(where, value, *, minimum, maximum=None, meaning=""):
    """Return ``value`` as an ``int`` in ``[minimum, maximum]``."""
    return check(where, value, Interval(int, minimum, maximum), meaning=meaning, error=AcceleratorError)


def check_real(where, value, *, positive=False, meaning=""):
    """Return ``value`` as a finite ``float``, non-negative (or positive)."""
    interval = Interval(float, 0, None, closed="neither" if positive else "both")
    return check(where, value, interval, meaning=meaning, error=AcceleratorError)


def check_fraction(where, value, *, meaning=""):
    """Return ``value`` as a ``float`` in ``[0, 1]``."""
    return check(where, value, Interval(float, 0, 1), meaning=meaning, error=AcceleratorError)


def check_bool(where, value):
    """Return ``value`` if it is a ``bool`` (``true``/``false`` in TOML)."""
    return check(where, value, Boolean(), error=AcceleratorError)


def check_text(where, value, *, choices=None):
    """Return ``value`` if it is a non-empty string (one of ``choices``)."""
    constraint = NonEmptyStr() if choices is None else StrOptions(choices)
    return check(where, value, constraint, error=AcceleratorError)
