"""Field checks shared by the accelerator's dataclasses.

Each checker takes ``where`` (the dotted name of the field as it appears in
an accelerator file, e.g. ``pe_array.rows``), the value and a short hint on
what the field means, and returns the value normalised to a plain Python
type, or raises :class:`AcceleratorError` naming the field, the value and
what was expected.
"""

import math
import numbers

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
    raise AcceleratorError(f"{where} = {value!r}: expected {expected}")


def check_int(where, value, *, minimum, maximum=None, meaning=""):
    """Return ``value`` as an ``int`` in ``[minimum, maximum]``."""
    bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    expected = f"an integer {bounds}" + (f" ({meaning})" if meaning else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(where, value, expected)
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        _fail(where, value, expected)
    return value


def check_real(where, value, *, positive=False, meaning=""):
    """Return ``value`` as a finite ``float``, non-negative (or positive)."""
    sign = "positive" if positive else "non-negative"
    expected = f"a finite, {sign} number" + (f" ({meaning})" if meaning else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(where, value, expected)
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        _fail(where, value, expected)
    return value


def check_fraction(where, value, *, meaning=""):
    """Return ``value`` as a ``float`` in ``[0, 1]``."""
    value = check_real(where, value, meaning=meaning)
    if value > 1:
        _fail(where, value, "a fraction in [0, 1]" + (f" ({meaning})" if meaning else ""))
    return value


def check_bool(where, value):
    """Return ``value`` if it is a ``bool`` (``true``/``false`` in TOML)."""
    if not isinstance(value, bool):
        _fail(where, value, "true or false")
    return value


def check_text(where, value, *, choices=None):
    """Return ``value`` if it is a non-empty string (one of ``choices``)."""
    if choices is not None:
        if value not in choices:
            _fail(where, value, "one of " + ", ".join(repr(c) for c in choices))
    elif not isinstance(value, str) or not value.strip():
        _fail(where, value, "a non-empty string")
    return value
