"""The declarative checks: what each constraint accepts, refuses and says."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim._checks import Boolean, Interval, NonEmptyStr, StrOptions, check, check_all
from accelsim._errors import UserInputError


class _MyError(UserInputError):
    pass


def test_interval_accepts_inside_and_normalises_type():
    assert check("x", 3, Interval(float, 0, 5)) == 3.0
    assert isinstance(check("x", 3, Interval(float, 0, 5)), float)
    assert check("n", 4, Interval(int, 1)) == 4


@pytest.mark.parametrize("value", [True, 2.0, "3", None, -1])
def test_int_interval_refuses_non_counts(value):
    with pytest.raises(UserInputError, match=r"^n = .*: expected an integer >= 0$"):
        check("n", value, Interval(int, 0))


@pytest.mark.parametrize("value", [math.nan, math.inf, -0.5, 1.5, False])
def test_float_interval_refuses_nonfinite_and_outside(value):
    with pytest.raises(UserInputError, match=r"expected a finite number in \[0, 1\]"):
        check("p", value, Interval(float, 0, 1))


def test_open_ends_are_refused_and_described():
    with pytest.raises(UserInputError, match=r"in \(0, 1\]"):
        check("--yield", 0, Interval(float, 0, 1, closed="right"))
    assert check("--yield", 1, Interval(float, 0, 1, closed="right")) == 1.0
    with pytest.raises(UserInputError, match=r"> 0"):
        check("v", 0.0, Interval(float, 0, None, closed="neither"))


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_float_interval_agrees_with_the_comparison(value):
    ok = math.isfinite(value) and 0 < value <= 1
    try:
        check("p", value, Interval(float, 0, 1, closed="right"))
    except UserInputError:
        assert not ok
    else:
        assert ok


def test_str_options_names_every_choice_and_uses_the_callers_error():
    with pytest.raises(_MyError, match=r"^on_detect = 'drop': expected one of 'keep', 'zero' \(policy\)$"):
        check("on_detect", "drop", StrOptions({"zero", "keep"}), meaning="policy", error=_MyError)


def test_optional_none_and_other_constraints():
    assert check("x", None, Interval(int, 0), optional=True) is None
    assert check("name", "a", NonEmptyStr()) == "a"
    with pytest.raises(UserInputError, match="a non-empty string"):
        check("name", "  ", NonEmptyStr())
    with pytest.raises(UserInputError, match="true or false"):
        check("flag", 1, Boolean())


def test_check_all_prefixes_the_field():
    clean = check_all({"rows": 4, "cols": 8}, {"rows": Interval(int, 1), "cols": Interval(int, 1)},
                      prefix="pe_array.")
    assert clean == {"rows": 4, "cols": 8}
    with pytest.raises(UserInputError, match=r"^pe_array.rows = 0"):
        check_all({"rows": 0}, {"rows": Interval(int, 1)}, prefix="pe_array.")
