"""Accelerator: validation, dict/TOML round trips and the edge preset."""

import dataclasses
import json
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.accel import (
    PRESETS,
    Accelerator,
    AcceleratorError,
    ActivationMemorySpec,
    AlphaPower,
    MacEnergies,
    PEArray,
    WeightMemorySpec,
    accelerator_preset,
    default_accelerator,
)
from accelsim.accel import technology as tech

positive = st.floats(1e-15, 1e9, allow_nan=False, allow_infinity=False)


@st.composite
def accelerators(draw):
    return Accelerator(
        weight_memory=WeightMemorySpec(draw(st.integers(1, 2**30)),
                                       draw(st.sampled_from(["swept", "nominal"]))),
        activation_memory=ActivationMemorySpec(
            draw(st.integers(1, 2**30)), draw(st.none() | positive), draw(st.none() | positive),
            draw(st.booleans())),
        pe_array=PEArray(draw(st.integers(1, 512)), draw(st.integers(1, 512))),
        word_bits=draw(st.integers(1, 1024)),
        clock_hz=draw(positive),
        mac_energy=MacEnergies(draw(positive), draw(positive), draw(positive), draw(positive),
                               draw(st.integers(1, 64))),
        zero_gating=draw(st.booleans()),
        alpha_power=draw(st.none() | st.builds(AlphaPower, positive, st.floats(0, 1))),
        name=draw(st.text(min_size=1).filter(str.strip)),
    )


@settings(max_examples=40)
@given(accelerators())
def test_dict_round_trip_through_json(accelerator):
    data = json.loads(json.dumps(accelerator.to_dict()))
    assert data["schema_version"] == 1
    assert Accelerator.from_dict(data) == accelerator


@settings(max_examples=40)
@given(accelerators())
def test_toml_round_trip(accelerator):
    assert Accelerator.from_dict(tomllib.loads(accelerator.to_toml())) == accelerator


def test_from_toml_reads_a_written_file(tmp_path):
    accelerator = dataclasses.replace(default_accelerator(), alpha_power=AlphaPower())
    path = tmp_path / "chip.toml"
    path.write_text(accelerator.to_toml())
    assert Accelerator.from_toml(path) == accelerator


def test_default_accelerator_is_the_small_edge_preset():
    edge = default_accelerator()
    assert (edge.pe_array.rows, edge.pe_array.cols) == (16, 16)
    assert edge.clock_hz == 200e6
    assert edge.weight_memory.capacity_bits == 256 * 1024 * 8
    assert edge.weight_memory.voltage_domain == "swept"
    assert edge.activation_memory.capacity_bits == 64 * 1024 * 8
    assert edge.activation_memory.ideal
    assert edge.alpha_power is None
    assert (edge.node_nm, edge.vdd_nominal_v) == (14, 0.8)
    assert edge.mac_energy == MacEnergies.at_node(14, 0.8)


@pytest.mark.parametrize("name", PRESETS)
def test_presets_price_every_component_at_their_node(name):
    accelerator = accelerator_preset(name)
    scale = tech.node_scale(accelerator.node_nm, accelerator.vdd_nominal_v)
    act = tech.sram_read_energy_per_bit_j(accelerator.activation_memory.capacity_bits) * scale
    # A 64-bit word: Horowitz's per-bit figure exactly, scaled to the node.
    assert accelerator.activation_memory.read_energy_per_bit_j == pytest.approx(act, rel=1e-9)
    weight = accelerator.weight_energy_model()
    assert weight.read_energy_per_bit_j == pytest.approx(
        tech.sram_read_energy_per_bit_j(accelerator.weight_memory.capacity_bits) * scale, rel=1e-9)
    assert accelerator.mac_energy.mult_8b_j == pytest.approx(tech.MULT_8B_J * scale)


def test_edge_preset_is_at_the_node_of_the_14nm_profiles():
    from accelsim.sram import load_profile

    for name in ("14nm", "14nm-columns"):
        assert load_profile(name).vdd_nominal_v == default_accelerator().vdd_nominal_v


def test_a_profile_energy_source_uses_the_profile_block(sram):
    accelerator = dataclasses.replace(default_accelerator(), weight_memory=WeightMemorySpec(
        capacity_bits=1024, energy_source="profile"))
    assert accelerator.weight_energy_model(sram) is sram
    with pytest.raises(AcceleratorError, match="needs a profile"):
        accelerator.weight_energy_model()


def test_sections_may_be_omitted_when_they_have_defaults():
    data = default_accelerator().to_dict()
    del data["mac_energy"], data["zero_gating"], data["name"]
    accelerator = Accelerator.from_dict(data)
    assert accelerator.mac_energy == MacEnergies.at_node(14, 0.8)
    assert accelerator.zero_gating is False


@pytest.mark.parametrize("change, match", [
    ({"schema_version": 2}, r"schema_version = 2: expected 1"),
    ({"clock": 1e9}, r"unknown key\(s\) clock"),
    ({"word_bits": 0}, r"word_bits = 0: expected an integer >= 1"),
    ({"clock_hz": -1.0}, r"clock_hz = -1\.0: expected a finite number > 0"),
    ({"zero_gating": 1}, r"zero_gating = 1: expected true or false"),
    ({"pe_array": {"rows": 16, "cols": -2}}, r"pe_array\.cols = -2"),
    ({"weight_memory": {"capacity_bits": 1024, "voltage_domain": "x"}},
     r"weight_memory\.voltage_domain = 'x'"),
    ({"alpha_power": {"alpha": 1.3, "vth": 0.3}}, r"alpha_power has unknown key\(s\) vth"),
])
def test_invalid_dicts_name_the_field(change, match):
    with pytest.raises(AcceleratorError, match=match):
        Accelerator.from_dict({**default_accelerator().to_dict(), **change})


def test_missing_required_keys_are_named():
    data = default_accelerator().to_dict()
    del data["pe_array"]
    with pytest.raises(AcceleratorError, match=r"missing key\(s\) pe_array"):
        Accelerator.from_dict(data)


def test_parts_must_have_their_type():
    with pytest.raises(AcceleratorError, match="pe_array = .*expected a PEArray"):
        dataclasses.replace(default_accelerator(), pe_array=(16, 16))


def test_toml_errors_start_with_the_path(tmp_path):
    with pytest.raises(AcceleratorError, match="missing.toml: accelerator file not found"):
        Accelerator.from_toml(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("word_bits = = 3\n")
    with pytest.raises(AcceleratorError, match="broken.toml: not valid TOML"):
        Accelerator.from_toml(broken)
    invalid = tmp_path / "invalid.toml"
    invalid.write_text(default_accelerator().to_toml().replace("rows = 16", "rows = 0"))
    with pytest.raises(AcceleratorError, match=r"invalid.toml: pe_array\.rows = 0"):
        Accelerator.from_toml(invalid)
