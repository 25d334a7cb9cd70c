"""``ProfileError`` and the small checks every profile field goes through.

Each check takes the dotted name of the field (``meta.arrays``,
``generator.params.sigma_cell_v``) so that the message names it, the value
found and what was expected.
"""

from accelsim._checks import Interval, check, fail
from accelsim._errors import UserInputError

__all__ = ["ProfileError", "require_int", "require_real", "require_str", "require_mapping"]


class ProfileError(UserInputError):
    """A profile file, a profile field or a query on a profile is invalid."""


def require_int(field, value, *, minimum=None):
    """Return ``value`` as an ``int``; booleans and floats are refused."""
    return check(field, value, Interval(int, minimum), error=ProfileError)


def require_real(field, value, *, minimum=None, maximum=None, open_minimum=False):
    """Return ``value`` as a finite ``float`` inside the given bounds."""
    closed = ("right" if open_minimum else "both") if maximum is not None or minimum is not None else "both"
    if maximum is None and open_minimum:
        closed = "neither"
    return check(field, value, Interval(float, minimum, maximum, closed=closed), error=ProfileError)


def require_str(field, value, *, allow_empty=True):
    """Return ``value`` if it is a string (non-empty unless allowed)."""
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        fail(field, value, "a string" if allow_empty else "a non-empty string", ProfileError)
    return value


def require_mapping(field, value, keys, *, optional=()):
    """Check that ``value`` is a dict holding ``keys`` and at most ``optional`` besides."""
    allowed = ", ".join(tuple(keys) + tuple(optional))
    if not isinstance(value, dict):
        fail(field, value, f"an object with keys {allowed}", ProfileError)
    missing = [key for key in keys if key not in value]
    unknown = sorted(str(key) for key in value if key not in keys and key not in optional)
    if missing or unknown:
        problem = f"lacks key(s) {', '.join(missing)}" if missing else f"has unknown key(s) {', '.join(unknown)}"
        fail(field, _Keys(value), f"an object with keys {allowed} ({problem})", ProfileError)
    return value


class _Keys:
    """Shows a mapping briefly in a message (its values may be large arrays)."""

    def __init__(self, mapping):
        self._n = len(mapping)

    def __repr__(self):
        return f"{{...{self._n} keys}}"
