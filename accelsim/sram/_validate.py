"""``ProfileError`` and the small checks every profile field goes through.

Each check takes the dotted name of the field (``meta.arrays``,
``generator.params.sigma_cell_v``) so that the message names it, the value
found and what was expected.
"""

import math
import numbers

from accelsim._errors import UserInputError

__all__ = ["ProfileError", "require_int", "require_real", "require_str", "require_mapping"]


class ProfileError(UserInputError):
    """A profile file, a profile field or a query on a profile is invalid."""


def require_int(field, value, *, minimum=None):
    """Return ``value`` as an ``int``; booleans and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ProfileError(f"{field} = {value!r} is not an integer; expected an integer"
                           + _bound_text(minimum))
    value = int(value)
    if minimum is not None and value < minimum:
        raise ProfileError(f"{field} = {value} is out of range; expected an integer"
                           + _bound_text(minimum))
    return value


def require_real(field, value, *, minimum=None, maximum=None, open_minimum=False):
    """Return ``value`` as a finite ``float`` inside the given bounds."""
    expected = "a finite number" + _range_text(minimum, maximum, open_minimum)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ProfileError(f"{field} = {value!r} is not a number; expected {expected}")
    value = float(value)
    below = minimum is not None and (value <= minimum if open_minimum else value < minimum)
    above = maximum is not None and value > maximum
    if not math.isfinite(value) or below or above:
        raise ProfileError(f"{field} = {value!r} is out of range; expected {expected}")
    return value


def require_str(field, value, *, allow_empty=True):
    """Return ``value`` if it is a string (non-empty unless allowed)."""
    if not isinstance(value, str):
        raise ProfileError(f"{field} = {value!r} is not a string; expected a string")
    if not allow_empty and not value.strip():
        raise ProfileError(f"{field} is empty; expected a non-empty string")
    return value


def require_mapping(field, value, keys, *, optional=()):
    """Check that ``value`` is a dict holding ``keys`` and at most ``optional`` besides."""
    allowed = ", ".join(tuple(keys) + tuple(optional))
    if not isinstance(value, dict):
        raise ProfileError(f"{field} = {value!r} is a {type(value).__name__}; "
                           f"expected an object with keys {allowed}")
    missing = [key for key in keys if key not in value]
    if missing:
        raise ProfileError(f"{field} lacks key(s) {', '.join(missing)}; expected keys {allowed}")
    unknown = sorted(str(key) for key in value if key not in keys and key not in optional)
    if unknown:
        raise ProfileError(f"{field} has unknown key(s) {', '.join(unknown)}; "
                           f"expected only {allowed}")
    return value


def _bound_text(minimum):
    return "" if minimum is None else f" >= {minimum}"


def _range_text(minimum, maximum, open_minimum):
    if minimum is None and maximum is None:
        return ""
    if maximum is None:
        return f" {'>' if open_minimum else '>='} {minimum}"
    if minimum is None:
        return f" <= {maximum}"
    return f" in {'(' if open_minimum else '['}{minimum}, {maximum}]"
