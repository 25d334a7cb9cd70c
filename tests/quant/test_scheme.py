import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim._errors import UserInputError
from accelsim.quant.scheme import (
    GRANULARITIES,
    PRESETS,
    ROUNDINGS,
    SCHEMA_VERSION,
    SUPPORTED_BITS,
    QuantError,
    QuantScheme,
    get_scheme,
)

schemes = st.builds(
    QuantScheme,
    bits=st.sampled_from(SUPPORTED_BITS),
    granularity=st.sampled_from(GRANULARITIES),
    symmetric=st.booleans(),
    unsigned=st.booleans(),
    rounding=st.sampled_from(ROUNDINGS),
    clip=st.none() | st.floats(1e-3, 1e3),
)

# Stutz et al. (MLSys 2021), quantization table: each row adds one change.
STUTZ_TABLE = {
    #              granularity symmetric unsigned rounding
    "global": ("global", True, False, "truncate"),
    "normal": ("tensor", True, False, "truncate"),
    "asymmetric": ("tensor", False, False, "truncate"),
    "unsigned": ("tensor", False, True, "truncate"),
    "rquant": ("tensor", False, True, "nearest"),
}


@pytest.mark.parametrize("name", sorted(STUTZ_TABLE))
def test_presets_match_the_table(name):
    scheme = get_scheme(name)
    assert (scheme.granularity, scheme.symmetric, scheme.unsigned, scheme.rounding) == STUTZ_TABLE[name]
    assert scheme.bits == 8 and scheme.clip is None
    assert scheme.name == name


def test_presets_are_exactly_the_table():
    assert set(PRESETS) == set(STUTZ_TABLE)


def test_get_scheme_overrides_bits_and_keeps_the_rest():
    scheme = get_scheme("rquant", bits=4)
    assert scheme.bits == 4
    assert dataclasses.replace(scheme, bits=8) == PRESETS["rquant"]


def test_get_scheme_passes_a_scheme_through():
    custom = QuantScheme(bits=6, granularity="channel", clip=0.1)
    assert get_scheme(custom) is custom
    assert get_scheme(custom, bits=3).bits == 3


def test_unknown_preset_lists_the_presets():
    with pytest.raises(QuantError) as info:
        get_scheme("rquantt")
    message = str(info.value)
    assert "rquantt" in message
    assert all(name in message for name in PRESETS)


def test_quant_error_is_a_user_input_error():
    assert issubclass(QuantError, UserInputError)


@pytest.mark.parametrize(
    "field, value",
    [
        ("bits", 1), ("bits", 9), ("bits", 32), ("bits", 8.0), ("bits", True),
        ("granularity", "layer"), ("rounding", "floor"),
        ("symmetric", 1), ("unsigned", "yes"),
        ("clip", 0.0), ("clip", -1.0), ("clip", float("inf")), ("clip", float("nan")), ("clip", "0.1"),
    ],
)
def test_invalid_fields_raise_naming_the_field(field, value):
    with pytest.raises(QuantError, match=field):
        QuantScheme(**{field: value})


def test_clip_is_normalised_to_float():
    assert isinstance(QuantScheme(clip=1).clip, float)


def test_scheme_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["rquant"].bits = 4


def test_with_bits_validates():
    assert PRESETS["normal"].with_bits(16).bits == 16
    with pytest.raises(QuantError, match="bits"):
        PRESETS["normal"].with_bits(12)


@given(schemes)
def test_dict_round_trips_through_json(scheme):
    data = json.loads(json.dumps(scheme.to_dict()))
    assert data["schema_version"] == SCHEMA_VERSION
    assert QuantScheme.from_dict(data) == scheme


@given(schemes)
def test_name_is_a_preset_exactly_when_the_format_matches_one(scheme):
    matches = [n for n, p in PRESETS.items() if dataclasses.replace(p, bits=scheme.bits, clip=scheme.clip) == scheme]
    if matches:
        assert scheme.name == matches[0]
    else:
        assert scheme.name not in PRESETS
        assert scheme.granularity in scheme.name and scheme.rounding in scheme.name


@pytest.mark.parametrize(
    "change, match",
    [
        ({"schema_version": 2}, "schema_version"),
        ({"schema_version": None}, "schema_version"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_from_dict_rejects_bad_dicts(change, match):
    data = {**PRESETS["rquant"].to_dict(), **change}
    with pytest.raises(QuantError, match=match):
        QuantScheme.from_dict(data)


def test_from_dict_names_missing_keys():
    data = PRESETS["rquant"].to_dict()
    del data["rounding"]
    with pytest.raises(QuantError, match="rounding"):
        QuantScheme.from_dict(data)


def test_from_dict_rejects_non_dicts():
    with pytest.raises(QuantError, match="dict"):
        QuantScheme.from_dict(["rquant"])
