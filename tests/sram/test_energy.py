import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim._errors import UserInputError
from accelsim.sram.energy import EnergyModel, EnergyModelError

FIELDS = ("read_energy_per_bit_j", "write_energy_per_bit_j",
          "leakage_power_per_bit_w", "leakage_k_per_v")

non_negative = st.floats(min_value=0, max_value=1e3, allow_nan=False)
voltages = st.floats(min_value=0.05, max_value=2.0)


@st.composite
def models(draw):
    # Leakage exponents beyond ~20 /V are unphysical and overflow exp() in the reference.
    per_bit = {name: draw(non_negative) for name in FIELDS[:3]}
    return EnergyModel(**per_bit, leakage_k_per_v=draw(st.floats(0, 20)))


def test_defaults_follow_the_documented_basis():
    model = EnergyModel()
    # CACTI 7 at 22 nm: 48-99 fJ per bit read.
    assert 40e-15 <= model.read_energy_per_bit_j <= 100e-15
    assert model.write_energy_per_bit_j >= model.read_energy_per_bit_j
    # CACTI-P 45 nm: leakage falls by 68.3/20.4 from 1.0 V to 0.6 V; k should reproduce
    # that within 20 %.
    ratio = model.leakage_power_w(1, 1.0, 1.0) / model.leakage_power_w(1, 0.6, 1.0)
    assert ratio == pytest.approx(68.3 / 20.4, rel=0.2)


@given(models())
def test_dict_round_trip_through_json(model):
    data = json.loads(json.dumps(model.to_dict()))
    assert tuple(data) == FIELDS
    assert EnergyModel.from_dict(data) == model


def test_from_dict_names_a_missing_key():
    data = EnergyModel().to_dict()
    del data["leakage_k_per_v"]
    with pytest.raises(EnergyModelError, match="leakage_k_per_v"):
        EnergyModel.from_dict(data)


def test_from_dict_names_an_unknown_key():
    data = {**EnergyModel().to_dict(), "read_energy_per_bit_pj": 1.0}
    with pytest.raises(EnergyModelError, match="read_energy_per_bit_pj"):
        EnergyModel.from_dict(data)


def test_from_dict_refuses_a_non_dict():
    with pytest.raises(EnergyModelError, match="expected a dict"):
        EnergyModel.from_dict([1, 2, 3, 4])


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", [-1e-15, math.nan, math.inf, "50e-15", None, True])
def test_invalid_parameter_is_named(field, value):
    with pytest.raises(EnergyModelError, match=field) as info:
        EnergyModel(**{field: value})
    assert isinstance(info.value, UserInputError)


def test_parameters_are_plain_floats():
    model = EnergyModel(read_energy_per_bit_j=np.float32(1e-15), leakage_k_per_v=2)
    assert type(model.read_energy_per_bit_j) is float
    assert type(model.leakage_k_per_v) is float


def test_model_is_frozen():
    with pytest.raises(AttributeError):
        EnergyModel().read_energy_per_bit_j = 1.0


@given(models(), st.integers(0, 10**9), voltages, voltages)
def test_dynamic_energy_scales_with_v_squared(model, n_bits, vdd_v, vdd_nominal_v):
    scale = (vdd_v / vdd_nominal_v) ** 2
    assert model.read_energy_j(n_bits, vdd_v, vdd_nominal_v) == pytest.approx(
        n_bits * model.read_energy_per_bit_j * scale, rel=1e-12, abs=0)
    assert model.write_energy_j(n_bits, vdd_v, vdd_nominal_v) == pytest.approx(
        n_bits * model.write_energy_per_bit_j * scale, rel=1e-12, abs=0)


@given(models(), st.integers(0, 10**9), voltages, voltages)
def test_leakage_scales_with_v_and_exponential(model, n_bits, vdd_v, vdd_nominal_v):
    scale = vdd_v / vdd_nominal_v * math.exp(model.leakage_k_per_v * (vdd_v - vdd_nominal_v))
    assert model.leakage_power_w(n_bits, vdd_v, vdd_nominal_v) == pytest.approx(
        n_bits * model.leakage_power_per_bit_w * scale, rel=1e-9, abs=0)


def test_nominal_voltage_gives_the_per_bit_values():
    model = EnergyModel()
    assert model.read_energy_j(1, 0.8, 0.8) == model.read_energy_per_bit_j
    assert model.write_energy_j(1, 0.8, 0.8) == model.write_energy_per_bit_j
    assert model.leakage_power_w(1, 0.8, 0.8) == model.leakage_power_per_bit_w


def test_scalar_in_float_out_array_in_array_out():
    model = EnergyModel()
    assert type(model.read_energy_j(64, 0.7, 0.8)) is float
    vdd_v = np.linspace(0.5, 0.8, 6).reshape(2, 3)
    energy = model.read_energy_j(64, vdd_v, 0.8)
    assert energy.shape == (2, 3)
    expected = [model.read_energy_j(64, v, 0.8) for v in vdd_v.ravel()]
    np.testing.assert_allclose(energy.ravel(), expected, rtol=1e-15)
    assert model.leakage_power_w(64, vdd_v, 0.8).shape == (2, 3)


def test_energy_falls_monotonically_with_voltage():
    model = EnergyModel()
    vdd_v = np.linspace(0.4, 1.0, 50)
    assert np.all(np.diff(model.read_energy_j(1, vdd_v, 1.0)) > 0)
    assert np.all(np.diff(model.leakage_power_w(1, vdd_v, 1.0)) > 0)


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_bits=-1, vdd_v=0.7, vdd_nominal_v=0.8), "n_bits"),
    (dict(n_bits=8, vdd_v=0.0, vdd_nominal_v=0.8), "vdd_v"),
    (dict(n_bits=8, vdd_v=[0.7, math.nan], vdd_nominal_v=0.8), "vdd_v"),
    (dict(n_bits=8, vdd_v=0.7, vdd_nominal_v=-0.8), "vdd_nominal_v"),
    (dict(n_bits=8, vdd_v=0.7, vdd_nominal_v=[0.8, 0.9]), "vdd_nominal_v"),
    (dict(n_bits="many", vdd_v=0.7, vdd_nominal_v=0.8), "n_bits"),
    (dict(n_bits=[1, 2, 3], vdd_v=[0.7, 0.8], vdd_nominal_v=0.8), "broadcast"),
])
def test_invalid_query_is_named(kwargs, name):
    model = EnergyModel()
    for query in (model.read_energy_j, model.write_energy_j, model.leakage_power_w):
        with pytest.raises(EnergyModelError, match=name):
            query(**kwargs)
