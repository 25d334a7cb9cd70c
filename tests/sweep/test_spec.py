import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim.sweep import SweepError, SweepSpec, parse_voltages


def test_range_includes_both_ends_high_to_low():
    assert parse_voltages("0.5:0.8:4") == (0.8, 0.7, 0.6, 0.5)


def test_list_is_sorted_and_deduplicated():
    assert parse_voltages("0.6,0.8,0.6, 0.7") == (0.8, 0.7, 0.6)


@pytest.mark.parametrize("text, fragment", [
    ("0.5:0.8", "neither"), ("a:0.8:3", "START"), ("0.5:0.8:x", "whole number"),
    ("0.5:0.8:1", "N must be"), ("0.7,,abc", "not a number"), ("-0.1,0.5", "positive"),
    ("nan,0.5", "not finite"), ("", "neither"),
])
def test_malformed_voltages_are_named(text, fragment):
    with pytest.raises(SweepError, match=fragment):
        parse_voltages(text)


@given(st.lists(st.floats(0.05, 2.0), min_size=1, max_size=20))
def test_parsed_lists_are_strictly_decreasing(values):
    parsed = parse_voltages(",".join(repr(v) for v in values))
    assert all(a > b for a, b in zip(parsed, parsed[1:]))


def test_spec_round_trips_through_dict():
    spec = SweepSpec(models=("a", "b"), voltages_v=(0.8, 0.6), chips=3, bits=4, limit=10)
    assert SweepSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("changes, fragment", [
    (dict(models=()), "at least one model"), (dict(models=("a", "a")), "twice"),
    (dict(chips=0), "chips = 0: expected an integer >= 1"), (dict(bits=9), "bits = 9: expected one of"), (dict(voltages_v=(0.6, 0.8)), "sorted"),
    (dict(limit=0), "limit = 0: expected"), (dict(seed=-1), "seed = -1: expected"), (dict(seed=True), "seed = True"),
])
def test_invalid_specs_are_rejected(changes, fragment):
    with pytest.raises(SweepError, match=fragment):
        SweepSpec(**changes)


def test_unknown_keys_and_versions_are_rejected():
    data = SweepSpec().to_dict()
    with pytest.raises(SweepError, match="unknown"):
        SweepSpec.from_dict({**data, "colour": 1})
    with pytest.raises(SweepError, match="schema_version"):
        SweepSpec.from_dict({**data, "schema_version": 99})


def test_activation_bits_and_execution_are_recorded_only_when_set():
    default = SweepSpec(models=("a",))
    assert "act_bits" not in default.to_dict() and "execution" not in default.to_dict()  # old sweep.json reads the same
    spec = SweepSpec(models=("a",), act_bits=8, execution="integer")
    assert spec.to_dict()["act_bits"] == 8 and spec.to_dict()["execution"] == "integer"
    assert SweepSpec.from_dict(spec.to_dict()) == spec
    assert spec.act_quant_bits == 8 and default.act_quant_bits is None


@pytest.mark.parametrize("changes, fragment", [
    (dict(execution="integer"), "--act-bits"), (dict(act_bits=9), "--act-bits = 9"),
    (dict(act_bits=True), "--act-bits = True"), (dict(execution="fixed"), "--execution"),
    (dict(act_bits=8, execution="integer", adaptive=True), "drop --adaptive"),
    (dict(act_bits=8, activations=8, bank_voltages=((0.7, 0.6),)), "give one of them"),
])
def test_invalid_activation_settings_are_rejected(changes, fragment):
    with pytest.raises(SweepError, match=fragment):
        SweepSpec(models=("a",), **changes)
