"""Profile: file v1 round trips, validation of every field, BER queries, lookup by name."""

import io
import json
import pickle
import zipfile
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.sram import (
    FLIP,
    SA0,
    SA1,
    CellTable,
    EnergyModel,
    Profile,
    ProfileError,
    gaussian_profile,
    list_profiles,
    load_profile,
    uniform_profile,
)
from accelsim.sram._meta import META_KEYS, ProfileMeta

SMALL = dict(arrays=4, rows=16, cols=8)


def cells_meta(**changes):
    meta = {"schema_version": 1, "name": "tiny", "description": "a measured test chip",
            "technology": "test", "temperature_k": 300.0, "arrays": 2, "rows": 4, "cols": 8,
            "vdd_nominal_v": 1.0, "vdd_min_v": 0.8, "vdd_floor_v": 0.5,
            "energy": EnergyModel().to_dict(), "source": {"measured": True}, "kind": "cells"}
    meta.update(changes)
    return meta


def cell_table(index, v_fail_v, kind=None, p_error=None):
    n = len(index)
    return CellTable(np.asarray(index, np.int64), np.asarray(v_fail_v, np.float64),
                     np.asarray([SA0] * n if kind is None else kind, np.uint8),
                     np.asarray([1.0] * n if p_error is None else p_error, np.float64))


@pytest.fixture
def measured():
    cells = cell_table([40, 3, 17, 63], [0.6, 0.9, 0.5, 0.75], [SA1, SA0, FLIP, SA0],
                       [1.0, 0.5, 1.0, 1.0])
    return Profile(cells_meta(), cells)


@pytest.fixture
def generated():
    return gaussian_profile(0.45, 0.04, sigma_array_v=0.01, seed=3, **SMALL)


def save_bytes(profile):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **_arrays_of(profile))
    return buffer.getvalue()


def _arrays_of(profile, meta=None):
    arrays = {"meta": np.array(json.dumps(profile.to_meta() if meta is None else meta))}
    if profile.kind == "cells":
        cells = profile.chip_cells()
        arrays.update(cell_index=cells.cell_index, v_fail_v=cells.v_fail_v,
                      fault_kind=cells.fault_kind, p_error=cells.p_error)
    return arrays


def write(path, profile=None, meta=None, **arrays):
    base = {} if profile is None else _arrays_of(profile, meta)
    if profile is None and meta is not None:
        base["meta"] = np.array(json.dumps(meta))
    base.update(arrays)
    np.savez_compressed(path, **base)
    return path


# -- attributes and round trips ---------------------------------------------

def test_every_meta_key_is_an_attribute(measured, generated):
    assert {field.name for field in fields(ProfileMeta)} == set(META_KEYS)
    for profile in (measured, generated):
        meta = profile.to_meta()
        for key, value in meta.items():
            attribute = getattr(profile, key)
            stored = attribute.to_dict() if key in ("energy", "generator") else attribute
            assert stored == value
    assert isinstance(measured.energy, EnergyModel)
    assert measured.generator is None and "generator" not in measured.to_meta()


@pytest.mark.parametrize("which", ["measured", "generated"])
def test_save_and_load_round_trip(tmp_path, request, which):
    profile = request.getfixturevalue(which)
    path = tmp_path / "p.npz"
    profile.save(path)
    loaded = load_profile(path)
    assert loaded.to_meta() == profile.to_meta()
    assert loaded.fingerprint() == profile.fingerprint()
    for name in ("cell_index", "v_fail_v", "fault_kind", "p_error"):
        np.testing.assert_array_equal(getattr(loaded.chip_cells(), name),
                                      getattr(profile.chip_cells(), name))


def test_generated_file_holds_only_meta(tmp_path, generated):
    generated.save(tmp_path / "g.npz")
    with np.load(tmp_path / "g.npz") as archive:
        assert archive.files == ["meta"]
        assert archive["meta"].ndim == 0 and archive["meta"].dtype.kind == "U"


def test_save_keeps_the_given_file_name(tmp_path, measured):
    measured.save(tmp_path / "chip.profile")
    assert (tmp_path / "chip.profile").is_file()
    assert load_profile(tmp_path / "chip.profile").name == "tiny"


@pytest.mark.parametrize("which", ["measured", "generated"])
def test_profiles_pickle_without_their_caches(request, which):
    profile = request.getfixturevalue(which)
    profile.chip_cells(5)
    data = pickle.dumps(profile)
    restored = pickle.loads(data)
    assert restored.fingerprint() == profile.fingerprint()
    assert len(data) < 4096 + 32 * len(profile.chip_cells(0))


def test_meta_dicts_are_copies(measured):
    source = {"measured": True}
    profile = Profile(cells_meta(source=source), measured.chip_cells())
    source["measured"] = False
    profile.to_meta()["source"]["measured"] = False
    assert profile.source == {"measured": True}


def test_cells_are_sorted_on_load(measured):
    cells = measured.chip_cells()
    assert np.all(np.diff(cells.cell_index) > 0)
    # The cell at index 3 carried v_fail 0.9 and p_error 0.5 before sorting.
    assert cells.v_fail_v[0] == 0.9 and cells.p_error[0] == 0.5


def test_fingerprint_changes_with_content(measured):
    other = Profile(cells_meta(), cell_table([3], [0.9]))
    assert measured.fingerprint() != other.fingerprint()
    assert measured.fingerprint() == Profile(measured.to_meta(), measured.chip_cells()).fingerprint()


# -- BER, faulty cells, voltages ----------------------------------------------

def test_ber_counts_measured_cells(measured):
    n = measured.n_cells
    assert measured.ber(1.0) == 0.0
    assert measured.ber(0.9) == 1 / n
    assert measured.ber(0.75) == 2 / n
    assert measured.ber(0.5) == 4 / n
    assert measured.faulty_cells(0.6) == 3
    assert isinstance(measured.ber(0.6), float) and isinstance(measured.faulty_cells(0.6), int)


def test_ber_keeps_the_shape_of_v(generated):
    volts = np.linspace(0.5, 0.8, 6).reshape(2, 3)
    for chip in (None, 0, 2):
        rates = generated.ber(volts, chip=chip)
        assert rates.shape == (2, 3)
        assert np.all(np.diff(rates.ravel()) <= 0)
    assert generated.faulty_cells(volts).shape == (2, 3)


def test_population_ber_of_gaussian_is_the_total_spread_normal(generated):
    from scipy.stats import norm
    volts = np.array([0.5, 0.55, 0.6])
    expected = norm.sf(volts, loc=0.45, scale=np.hypot(0.04, 0.01))
    np.testing.assert_allclose(generated.ber(volts), expected, rtol=1e-12)


def test_chip_ber_counts_the_drawn_chip(generated):
    cells = generated.chip_cells(1)
    v = 0.55
    assert generated.ber(v, chip=1) == np.count_nonzero(cells.v_fail_v >= v) / generated.n_cells


def test_measured_profile_ignores_chip_and_refuses_more_arrays(measured):
    assert measured.ber(0.6, chip=5) == measured.ber(0.6)
    assert len(measured.chip_cells(0, n_arrays=1)) == 2  # indices 3 and 17 of 32 per array
    with pytest.raises(ProfileError, match="n_arrays = 3 exceeds the 2 arrays"):
        measured.chip_cells(0, n_arrays=3)


@pytest.mark.parametrize("rate", [1e-3, 0.02, 0.1])
def test_voltage_for_ber_inverts_population_ber(generated, rate):
    assert generated.ber(generated.voltage_for_ber(rate)) == pytest.approx(rate, rel=1e-9)


def test_voltage_for_ber_of_measured_is_highest_voltage_reaching_the_rate(measured):
    n = measured.n_cells
    assert measured.voltage_for_ber(1 / n) == 0.9
    assert measured.voltage_for_ber(2 / n) == 0.75
    assert measured.voltage_for_ber(1.5 / n) == 0.75
    np.testing.assert_array_equal(measured.voltage_for_ber([1 / n, 4 / n]), [0.9, 0.5])


@pytest.mark.parametrize("rate", [0.0, -0.1, 0.9, float("nan")])
def test_voltage_for_ber_refuses_rates_outside_the_profile(measured, rate):
    with pytest.raises(ProfileError, match="outside profile 'tiny'"):
        measured.voltage_for_ber(rate)


@pytest.mark.parametrize("vdd_v", [0.49, 1.01, float("nan"), [0.6, 0.2]])
def test_check_voltage_names_the_range(measured, vdd_v):
    with pytest.raises(ProfileError, match=r"outside profile 'tiny'.*0\.5 V \(floor\) to 1\.0 V"):
        measured.ber(vdd_v)


@pytest.mark.parametrize("chip", [-1, 1.5, True])
def test_chip_must_be_a_non_negative_integer(generated, chip):
    with pytest.raises(ProfileError, match="chip"):
        generated.chip_cells(chip)


# -- validation of meta fields -----------------------------------------------

@pytest.mark.parametrize("changes, message", [
    ({"schema_version": 2}, "meta.schema_version = 2 is not supported"),
    ({"kind": "dense"}, "meta.kind = 'dense' is unknown"),
    ({"colour": "red"}, "unknown key.*colour"),
    ({"arrays": 2.0}, "meta.arrays = 2.0: expected an integer"),
    ({"rows": 0}, "meta.rows = 0: expected"),
    ({"rows": True}, "meta.rows = True: expected an integer"),
    ({"name": ""}, "meta.name = '': expected a non-empty string"),
    ({"technology": 14}, "meta.technology = 14: expected a string"),
    ({"temperature_k": -3}, "meta.temperature_k = -3: expected"),
    ({"vdd_min_v": float("nan")}, "meta.vdd_min_v = nan: expected"),
    ({"vdd_nominal_v": "1.0"}, "meta.vdd_nominal_v = '1.0': expected a finite number"),
    ({"vdd_nominal_v": 1e308},
     r"meta.vdd_nominal_v = 1e\+308: .* in \(0.0, 1000.0\]"),
    ({"vdd_floor_v": 0.9}, "vdd_floor_v <= vdd_min_v <= vdd_nominal_v"),
    ({"vdd_min_v": 1.2}, "vdd_floor_v <= vdd_min_v <= vdd_nominal_v"),
    ({"energy": {**EnergyModel().to_dict(), "read_energy_per_bit_j": -1e-15}},
     "meta.energy.read_energy_per_bit_j = -1e-15: expected"),
    ({"energy": [1, 2]}, "meta.energy"),
    ({"source": 3}, "meta.source = 3 is a int"),
    ({"generator": {"model": "uniform", "params": {"p_max": 0.1}, "seed": 0,
                    "fingerprint": "0" * 64}}, "meta.generator is set on a profile of kind 'cells'"),
    ({"arrays": 2**20, "rows": 2**14, "cols": 2**14}, "too large"),
])
def test_malformed_meta_names_field_and_value(changes, message):
    with pytest.raises(ProfileError, match=message):
        Profile(cells_meta(**changes), cell_table([1], [0.7]))


def test_missing_meta_key_is_named():
    meta = cells_meta()
    del meta["vdd_min_v"]
    with pytest.raises(ProfileError, match="meta = .*lacks key.*vdd_min_v"):
        Profile(meta, cell_table([1], [0.7]))


@pytest.mark.parametrize("cells, message", [
    (cell_table([64], [0.7]), r"cell_index holds 64 .*expected a flat index in \[0, 64\)"),
    (cell_table([-1], [0.7]), "cell_index holds -1"),
    (cell_table([5, 5], [0.7, 0.6]), "cell_index 5 is listed more than once"),
    (cell_table([5], [float("nan")]), "v_fail_v holds nan"),
    (cell_table([5], [0.4]), "v_fail_v holds 0.4 .*>= vdd_floor_v = 0.5 V"),
    (cell_table([5], [0.7], [3]), "fault_kind holds 3"),
    (cell_table([5], [0.7], None, [0.0]), r"p_error holds 0.0 .*\(0, 1\]"),
    (cell_table([5], [0.7], None, [1.5]), "p_error holds 1.5"),
])
def test_malformed_cells_are_named(cells, message):
    with pytest.raises(ProfileError, match=message):
        Profile(cells_meta(), cells)


def test_kind_and_cells_must_agree(generated):
    with pytest.raises(ProfileError, match="lists no cells"):
        Profile(cells_meta())
    with pytest.raises(ProfileError, match="kind 'generated' but lists cells"):
        Profile(generated.to_meta(), cell_table([1], [0.7]))
    meta = cells_meta(kind="generated")
    with pytest.raises(ProfileError, match="meta.generator = None on a profile of kind 'generated'"):
        Profile(meta)


@pytest.mark.parametrize("path, changes, message", [
    ((), {"model": "lognormal"}, "meta.generator.model = 'lognormal' is unknown"),
    ((), {"seed": -1}, "generator.seed = -1: expected"),
    ((), {"fingerprint": "abc"}, "generator.fingerprint = 'abc' is not a sha256"),
    ((), {"fingerprint": None}, "meta.generator.fingerprint = None: expected a string"),
    (("params",), {"sigma_cell_v": 0.0}, "generator.params.sigma_cell_v = 0.0: expected"),
    (("params",), {"mu_v": 1e300}, "generator.params.mu_v = 1e\\+300: expected"),
    (("params",), {"flip_share": 1.5}, "generator.params.flip_share = 1.5: expected"),
    (("params",), {"weak_columns": 9}, "weak_columns = 9 exceeds meta.cols = 8"),
    (("params",), {"weak_column_share": 0.5}, "needs weak columns"),
    (("params",), {"p_error_min": 0.9, "p_error_max": 0.2}, "p_error_min = 0.9 exceeds"),
    (("params",), {"mood": 1}, "generator.params = .*has unknown key.*mood"),
])
def test_malformed_generator_is_named(generated, path, changes, message):
    meta = generated.to_meta()
    target = meta["generator"]
    for key in path:
        target = target[key]
    target.update(changes)
    with pytest.raises(ProfileError, match=message):
        Profile(meta)


def test_fingerprint_mismatch_is_loud(tmp_path, generated):
    meta = generated.to_meta()
    meta["generator"]["seed"] += 1
    with pytest.raises(ProfileError, match="fingerprint .* random stream changed"):
        load_profile(write(tmp_path / "g.npz", meta=meta))


def test_uniform_profile_needs_floor_below_nominal():
    with pytest.raises(ProfileError, match="uniform model needs vdd_floor_v < vdd_nominal_v"):
        uniform_profile(0.1, vdd_nominal_v=1.0, vdd_floor_v=1.0)


# -- validation of the file ---------------------------------------------------

def test_truncated_file_is_a_profile_error(tmp_path, measured):
    data = save_bytes(measured)
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProfileError, match="cannot be read as a profile.*truncated"):
        load_profile(path)


@pytest.mark.parametrize("content", [b"", b"not a numpy file at all", b"PK\x03\x04garbage"])
def test_non_npz_file_is_a_profile_error(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ProfileError, match="bad.npz"):
        load_profile(path)


def test_single_npy_array_is_refused(tmp_path):
    path = tmp_path / "one.npz"
    with open(path, "wb") as file:
        np.save(file, np.arange(3))
    with pytest.raises(ProfileError, match="single .npy array"):
        load_profile(path)


@pytest.mark.parametrize("arrays, message", [
    ({"meta": np.array(["{}", "{}"])}, "'meta' is a <U2 array of shape \\(2,\\)"),
    ({"meta": np.array("{not json")}, "'meta' is not valid JSON"),
    ({"meta": np.array("[1, 2]")}, "'meta' is a JSON list"),
    ({"cell_index": np.array([1], np.int64)}, "has no 'meta' entry"),
])
def test_malformed_meta_entry(tmp_path, arrays, message):
    np.savez_compressed(tmp_path / "m.npz", **arrays)
    with pytest.raises(ProfileError, match=message):
        load_profile(tmp_path / "m.npz")


@pytest.mark.parametrize("arrays, message", [
    ({"cell_index": np.array([1], np.int32)}, "'cell_index' is int32 of shape \\(1,\\); "
                                              "expected a 1-D int64 array"),
    ({"v_fail_v": np.array([[0.7]])}, "'v_fail_v' is float64 of shape \\(1, 1\\)"),
    ({"fault_kind": np.array([0, 1], np.uint8)}, "'fault_kind' has 2 entries but cell_index has 1"),
    ({"extra": np.array([1])}, "unknown array.*extra"),
])
def test_malformed_cell_arrays(tmp_path, measured, arrays, message):
    base = {"cell_index": np.array([1], np.int64), "v_fail_v": np.array([0.7]),
            "fault_kind": np.array([0], np.uint8)}
    base.update(arrays)
    with pytest.raises(ProfileError, match=message):
        load_profile(write(tmp_path / "c.npz", meta=cells_meta(), **base))


def test_missing_cell_array_is_named(tmp_path):
    path = write(tmp_path / "c.npz", meta=cells_meta(), cell_index=np.array([1], np.int64))
    with pytest.raises(ProfileError, match="lacks cell array.*v_fail_v, fault_kind"):
        load_profile(path)


def test_p_error_is_optional_in_the_file(tmp_path):
    path = write(tmp_path / "c.npz", meta=cells_meta(), cell_index=np.array([1], np.int64),
                 v_fail_v=np.array([0.7]), fault_kind=np.array([0], np.uint8))
    np.testing.assert_array_equal(load_profile(path).chip_cells().p_error, [1.0])


# -- property-based: mutated files give a Profile or a ProfileError -----------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 5000) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6),
                                                                       children, max_size=3),
    max_leaves=6)


def _meta_paths(meta, prefix=()):
    for key, value in meta.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from _meta_paths(value, prefix + (key,))


def _small_profiles():
    measured = Profile(cells_meta(), cell_table([3, 17, 40], [0.9, 0.5, 0.6], [0, 2, 1]))
    generated = gaussian_profile(0.45, 0.04, sigma_array_v=0.01, weak_columns=1,
                                 weak_column_share=0.3, intermittent_share=0.2, seed=1,
                                 arrays=2, rows=8, cols=8)
    return measured, generated


_PROFILES = _small_profiles()


def _load_or_profile_error(path):
    try:
        profile = load_profile(path)
    except ProfileError as exc:
        assert str(exc)  # every message names something
        return None
    assert isinstance(profile, Profile)
    profile.ber(profile.vdd_floor_v)
    return profile


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from([0, 1]), data=st.data())
def test_mutated_meta_gives_profile_or_profile_error(tmp_path, which, data):
    profile = _PROFILES[which]
    meta = profile.to_meta()
    path = data.draw(st.sampled_from(sorted(_meta_paths(meta))))
    parent = meta
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()):
        parent[path[-1]] = data.draw(_JSON)
    else:
        del parent[path[-1]]
    if data.draw(st.booleans()):
        meta[data.draw(st.text(min_size=1, max_size=6))] = 1
    _load_or_profile_error(write(tmp_path / "m.npz", profile, meta=meta))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from([0, 1]), data=st.data())
def test_mutated_bytes_give_profile_or_profile_error(tmp_path, which, data):
    content = bytearray(save_bytes(_PROFILES[which]))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(content) - 1))
        content[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(content)))
    path = tmp_path / "b.npz"
    path.write_bytes(bytes(content[:cut]))
    _load_or_profile_error(path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_cell_arrays_give_profile_or_profile_error(tmp_path, data):
    measured = _PROFILES[0]
    arrays = _arrays_of(measured)
    name = data.draw(st.sampled_from(["cell_index", "v_fail_v", "fault_kind", "p_error"]))
    values = arrays[name].copy()
    position = data.draw(st.integers(0, len(values) - 1))
    if values.dtype.kind == "f":
        values[position] = data.draw(st.floats())
    else:
        info = np.iinfo(values.dtype)
        values[position] = data.draw(st.integers(int(info.min), int(info.max)))
    arrays[name] = values
    path = tmp_path / "c.npz"
    np.savez_compressed(path, **arrays)
    _load_or_profile_error(path)


# -- lookup by name ----------------------------------------------------------

SHIPPED = ("14nm", "14nm-chip1", "14nm-chip2", "14nm-chip3", "14nm-columns", "28nm-bram", "uniform")


def test_shipped_profiles_load_by_name(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no ./profiles here: only the shipped folder answers
    monkeypatch.delenv("ACCELSIM_PROFILES", raising=False)
    records = {record.name: record for record in list_profiles()}
    assert set(SHIPPED) <= set(records)
    for name in SHIPPED:
        assert records[name].origin == "shipped"
        assert records[name].kind == "generated"
        assert load_profile(name).name == name


def test_lookup_order_env_then_cwd_then_shipped(monkeypatch, tmp_path, measured):
    env_dir, other_env_dir = tmp_path / "env", tmp_path / "env2"
    cwd = tmp_path / "work"
    for folder in (env_dir, other_env_dir, cwd / "profiles"):
        folder.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("ACCELSIM_PROFILES", f"{other_env_dir}{__import__('os').pathsep}{env_dir}")
    measured.save(cwd / "profiles" / "14nm.npz")
    assert load_profile("14nm").kind == "cells"  # ./profiles hides the shipped 14nm
    measured_env = Profile(cells_meta(name="from-env"), measured.chip_cells())
    measured_env.save(env_dir / "14nm.npz")
    assert load_profile("14nm").name == "from-env"
    records = {record.name: record for record in list_profiles()}
    assert records["14nm"].origin == "$ACCELSIM_PROFILES"
    assert records["uniform"].origin == "shipped"


def test_unknown_name_lists_available_names(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProfileError, match="no profile has that name; available names: .*14nm"):
        load_profile("15nm")


def test_missing_path_is_named(tmp_path):
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "absent.npz")
    with pytest.raises(ProfileError, match="is not a name or a path"):
        load_profile(14)


def test_unreadable_profile_is_listed_as_such(monkeypatch, tmp_path):
    (tmp_path / "broken.npz").write_bytes(b"nope")
    monkeypatch.setenv("ACCELSIM_PROFILES", str(tmp_path))
    records = {record.name: record for record in list_profiles()}
    assert records["broken"].kind == "unreadable"
    assert "is not an .npz profile" in records["broken"].description


def test_shipped_folder_is_package_data():
    import importlib.resources
    folder = importlib.resources.files("accelsim").joinpath("_profiles")
    names = {entry.name for entry in folder.iterdir()}
    assert {f"{name}.npz" for name in SHIPPED} <= names
    assert zipfile.is_zipfile(io.BytesIO(folder.joinpath("14nm.npz").read_bytes()))


# -- calibration of the shipped 14 nm profiles --------------------------------

# Chandramoorthy et al. (HPCA 2019) as plotted by Stutz et al. (MLSys 2021, Fig. 1).
BER_14NM = ((0.958, 1.9e-6), (0.917, 6.9e-5), (0.875, 1.3e-3), (0.833, 1.1e-2),
            (0.792, 5.6e-2), (0.75, 0.21))


@pytest.mark.parametrize("name", ["14nm", "14nm-columns"])
def test_shipped_14nm_profiles_follow_the_measured_curve(name):
    profile = load_profile(name)
    assert profile.vdd_nominal_v == 0.80
    assert profile.vdd_min_v == pytest.approx(0.85 * profile.vdd_nominal_v)
    assert profile.vdd_floor_v <= 0.75 * profile.vdd_min_v
    for v_rel, measured_ber in BER_14NM:
        vdd_v = v_rel * profile.vdd_min_v
        assert measured_ber / 2 <= profile.ber(vdd_v) <= 2 * measured_ber
        if measured_ber * profile.n_cells >= 50:  # enough cells for one chip to count
            assert measured_ber / 2 <= profile.ber(vdd_v, chip=0) <= 2 * measured_ber


def test_shipped_14nm_is_persistent_and_balanced():
    cells = load_profile("14nm").chip_cells()
    assert np.all(cells.p_error == 1.0)
    kinds = np.bincount(cells.fault_kind, minlength=3) / len(cells)
    # Every faulty cell errs toward one value (no two-way flips), in equal numbers.
    assert kinds[FLIP] == 0
    np.testing.assert_allclose(kinds[[SA0, SA1]], 0.5, atol=0.02)


# Stutz et al.'s profiled chips: 0->1 : 1->0 ratio and share of persistent faulty cells.
PROFILED_CHIPS = {"14nm-chip1": (0.9, 0.45), "14nm-chip2": (2.1, 0.18), "14nm-chip3": (5.0, 0.07)}


@pytest.mark.parametrize("name", sorted(PROFILED_CHIPS))
def test_shipped_profiled_chip_set_matches_its_statistics(name):
    ratio, persistent = PROFILED_CHIPS[name]
    profile = load_profile(name)
    cells = profile.chip_cells()
    kinds = np.bincount(cells.fault_kind, minlength=3)
    assert kinds[FLIP] == 0
    assert kinds[SA1] / kinds[SA0] == pytest.approx(ratio, rel=0.05)
    assert np.mean(cells.p_error == 1.0) == pytest.approx(persistent, abs=0.02)
    assert profile.ber(0.792 * profile.vdd_min_v) == pytest.approx(load_profile("14nm").ber(
        0.792 * profile.vdd_min_v), rel=0.1)


def test_shipped_14nm_columns_leans_to_stuck_at_1_with_intermittent_cells():
    cells = load_profile("14nm-columns").chip_cells()
    kinds = np.bincount(cells.fault_kind, minlength=3)
    assert 3 <= kinds[SA1] / kinds[SA0] <= 5
    persistent = np.mean(cells.p_error == 1.0)
    assert 0.10 <= persistent <= 0.45


def test_shipped_28nm_bram_is_kc705_like():
    profile = load_profile("28nm-bram")
    assert (profile.arrays, profile.cells_per_array, profile.vdd_nominal_v) == (890, 8192, 1.0)
    cells = profile.chip_cells()
    assert np.all(cells.fault_kind == SA0)
    arrays_faulty = np.unique(cells.cell_index[cells.v_fail_v >= 0.53] // 8192)
    assert 1 - len(arrays_faulty) / profile.arrays == pytest.approx(0.72, abs=0.05)
    assert 0.58 <= cells.v_fail_v.max() <= 0.61


def test_shipped_uniform_is_rate_based():
    profile = load_profile("uniform")
    assert profile.vdd_nominal_v == profile.vdd_min_v == 1.0
    assert profile.ber(profile.vdd_floor_v) == profile.generator.model.p_max
    assert np.all(profile.chip_cells().fault_kind == FLIP)


# -- memory ------------------------------------------------------------------

def test_64_mbit_chip_loads_sparsely():
    import tracemalloc
    tracemalloc.start()
    try:
        profile = gaussian_profile(arrays=2048, rows=512, cols=64, vdd_floor_v=0.6)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    n_faulty = len(profile.chip_cells())
    assert profile.n_cells == 2**26
    assert 0 < n_faulty < profile.n_cells / 100
    # Sparse: memory follows the faulty cells (~25 B each, plus the join), not the 64 Mbit.
    assert peak_bytes < 64 * n_faulty + 16 * 2**20


def test_counting_a_chips_faulty_cells_keeps_no_drawn_chip():
    from accelsim.sram import load_profile

    profile = load_profile("14nm")
    counted = profile.faulty_cells(0.56, chip=5)
    assert not profile._chips  # only the sorted fail voltages stay (a drawn chip holds megabytes)
    assert counted == int((profile.chip_cells(5).v_fail_v >= 0.56).sum())
