"""The field checkers: accepted values come back normalised, others raise."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim._errors import UserInputError
from accelsim.accel._validate import (
    AcceleratorError,
    check_bool,
    check_fraction,
    check_int,
    check_real,
    check_text,
)


def test_error_is_a_user_input_error():
    assert issubclass(AcceleratorError, UserInputError)


@given(st.integers(-10, 10))
def test_check_int_enforces_bounds(value):
    if 0 <= value <= 5:
        assert check_int("x", value, minimum=0, maximum=5) == value
    else:
        expected = rf"x = {value}: expected an integer in \[0, 5\]"
        with pytest.raises(AcceleratorError, match=expected):
            check_int("x", value, minimum=0, maximum=5)


def test_check_int_normalises_numpy_and_refuses_bool_and_float():
    assert type(check_int("x", np.int32(3), minimum=0)) is int
    for bad in (True, 3.0, "3"):
        with pytest.raises(AcceleratorError, match="x = "):
            check_int("x", bad, minimum=0)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_check_real_accepts_only_finite_non_negative(value):
    if math.isfinite(value) and value >= 0:
        assert check_real("x", value) == value
    else:
        with pytest.raises(AcceleratorError, match="expected a finite number >= 0"):
            check_real("x", value)


def test_check_real_positive_refuses_zero_and_normalises():
    with pytest.raises(AcceleratorError, match="x = 0: expected a finite number > 0"):
        check_real("x", 0, positive=True)
    assert type(check_real("x", np.float32(2.0))) is float
    assert type(check_real("x", 2)) is float


def test_check_fraction_bounds():
    assert check_fraction("f", 1) == 1.0
    with pytest.raises(AcceleratorError, match=r"f = 1\.01: expected a finite number in \[0, 1\]"):
        check_fraction("f", 1.01)


def test_check_bool_and_text():
    assert check_bool("b", False) is False
    with pytest.raises(AcceleratorError, match="b = 0: expected true or false"):
        check_bool("b", 0)
    assert check_text("t", "a", choices=("a", "b")) == "a"
    with pytest.raises(AcceleratorError, match="t = 'c': expected one of 'a', 'b'"):
        check_text("t", "c", choices=("a", "b"))
    with pytest.raises(AcceleratorError, match="t = '  ': expected a non-empty string"):
        check_text("t", "  ")
