"""Generated chips: sparse draws against dense NumPy references, determinism, chip models."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from accelsim.sram import (
    FLIP,
    SA0,
    SA1,
    ProfileError,
    gaussian_profile,
    uniform_profile,
)
from accelsim.sram._chip_models import (
    ChipGenerator,
    GaussianModel,
    UniformModel,
    draw_chip,
    draw_floor_flips,
)
from accelsim.sram.generators import GaussianModel as ExportedGaussianModel

GEOMETRY = dict(arrays=8, rows=64, cols=32)


def dense_gaussian_counts(model, n_arrays, cells_per_array, volts, seed):
    """Reference: draw every cell's fail voltage densely and count the faulty ones."""
    rng = np.random.default_rng(seed)
    shifts = model.sigma_array_v * rng.standard_normal((n_arrays, 1))
    v_fail_v = model.mu_v + shifts + model.sigma_cell_v * rng.standard_normal(
        (n_arrays, cells_per_array))
    return np.array([np.count_nonzero(v_fail_v >= v) for v in volts])


def test_exported_names():
    assert ExportedGaussianModel is GaussianModel


def test_sparse_gaussian_draw_matches_dense_reference():
    model = GaussianModel(0.45, 0.04, sigma_array_v=0.01)
    generator = ChipGenerator(model, seed=5)
    n_arrays, rows, cols, floor_v = 64, 128, 64, 0.5
    cells = draw_chip(generator, 0, n_arrays, rows, cols, floor_v, 0.8)
    volts = np.array([0.5, 0.53, 0.56, 0.6])
    sparse = np.array([np.count_nonzero(cells.v_fail_v >= v) for v in volts])
    dense = dense_gaussian_counts(model, n_arrays, rows * cols, volts, seed=7)
    # Array shifts make counts over-dispersed; compare with the spread of
    # the array-level mixture (plus the binomial part).
    expected = n_arrays * rows * cols * stats.norm.sf(volts, model.mu_v, model.sigma_total_v)
    spread = np.sqrt(expected) + expected * 3 * model.sigma_array_v / model.sigma_total_v / np.sqrt(n_arrays)
    assert np.all(np.abs(sparse - dense) < 5 * spread * np.sqrt(2))


def test_gaussian_fail_voltages_follow_the_truncated_normal():
    model = GaussianModel(0.45, 0.04)  # no array shift: one truncated normal
    cells = draw_chip(ChipGenerator(model, seed=2), 0, 16, 128, 64, 0.5, 0.8)
    a = (0.5 - model.mu_v) / model.sigma_cell_v
    reference = stats.truncnorm(a, np.inf, loc=model.mu_v, scale=model.sigma_cell_v)
    assert stats.kstest(cells.v_fail_v, reference.cdf).pvalue > 1e-3
    assert np.all(cells.v_fail_v >= 0.5)


def test_uniform_draw_matches_its_model():
    model = UniformModel(0.2)
    cells = draw_chip(ChipGenerator(model, seed=4), 0, 16, 128, 64, 0.5, 1.0)
    n_cells = 16 * 128 * 64
    assert abs(len(cells) - 0.2 * n_cells) < 5 * np.sqrt(n_cells * 0.2 * 0.8)
    assert stats.kstest(cells.v_fail_v, stats.uniform(0.5, 0.5).cdf).pvalue > 1e-3
    assert np.all(cells.fault_kind == FLIP) and np.all(cells.p_error == 1.0)


def test_uniform_population_ber_is_linear_and_inverts():
    profile = uniform_profile(0.1, vdd_nominal_v=1.0, vdd_floor_v=0.6, **GEOMETRY)
    volts = np.array([1.0, 0.9, 0.8, 0.6])
    np.testing.assert_allclose(profile.ber(volts), [0.0, 0.025, 0.05, 0.1])
    assert profile.voltage_for_ber(0.05) == pytest.approx(0.8)
    assert profile.vdd_min_v == profile.vdd_nominal_v


def test_draws_are_deterministic_and_seeded():
    first = gaussian_profile(seed=9, **GEOMETRY)
    again = gaussian_profile(seed=9, **GEOMETRY)
    other = gaussian_profile(seed=10, **GEOMETRY)
    assert first.generator.fingerprint == again.generator.fingerprint
    assert first.generator.fingerprint != other.generator.fingerprint
    np.testing.assert_array_equal(first.chip_cells(2).cell_index, again.chip_cells(2).cell_index)
    assert not np.array_equal(first.chip_cells(0).cell_index, first.chip_cells(1).cell_index)


def test_extra_arrays_extend_a_chip_without_changing_it():
    profile = gaussian_profile(seed=1, **GEOMETRY)
    declared = profile.chip_cells(3)
    extended = profile.chip_cells(3, n_arrays=GEOMETRY["arrays"] + 5)
    head = extended.cell_index < profile.n_cells
    for name in ("cell_index", "v_fail_v", "fault_kind", "p_error"):
        np.testing.assert_array_equal(getattr(extended, name)[head], getattr(declared, name))
    assert extended.cell_index.max() >= profile.n_cells


def test_weak_columns_move_faults_without_adding_any():
    plain = GaussianModel(0.45, 0.04)
    columns = GaussianModel(0.45, 0.04, weak_column_share=0.6, weak_columns=2)
    tables = [draw_chip(ChipGenerator(model, seed=3), 0, 8, 256, 64, 0.5, 0.8)
              for model in (plain, columns)]
    np.testing.assert_array_equal(np.sort(tables[0].v_fail_v), np.sort(tables[1].v_fail_v))
    # At 0.55 V (~100 faults per array, far below the weak columns' capacity)
    # the two weak columns hold about 60% of them, two random columns ~3%.
    for table, low, high in ((tables[0], 0.0, 0.2), (tables[1], 0.5, 0.7)):
        share = _share_in_two_densest_columns(table, 0.55, 256, 64)
        assert low <= share <= high


def _share_in_two_densest_columns(table, vdd_v, rows, cols):
    faulty = table.cell_index[table.v_fail_v >= vdd_v]
    array, column = faulty // (rows * cols), faulty % cols
    shares = []
    for a in np.unique(array):
        counts = np.sort(np.bincount(column[array == a], minlength=cols))[::-1]
        shares.append(counts[:2].sum() / counts.sum())
    return float(np.average(shares, weights=np.bincount(array)[np.unique(array)]))


def test_full_weak_columns_spill_to_the_others():
    model = GaussianModel(0.45, 0.04, weak_column_share=1.0, weak_columns=1)
    cells = draw_chip(ChipGenerator(model, seed=0), 0, 1, 32, 16, 0.45, 0.8)
    assert len(np.unique(cells.cell_index)) == len(cells) > 32


def test_fault_kinds_and_intermittent_cells_follow_their_shares():
    model = GaussianModel(0.45, 0.04, sa1_to_sa0=4.0, flip_share=0.2, intermittent_share=0.6,
                          p_error_min=0.2, p_error_max=0.5)
    cells = draw_chip(ChipGenerator(model, seed=8), 0, 8, 128, 64, 0.5, 0.8)
    kinds = np.bincount(cells.fault_kind, minlength=3) / len(cells)
    assert kinds[FLIP] == pytest.approx(0.2, abs=0.02)
    assert kinds[SA1] / kinds[SA0] == pytest.approx(4.0, rel=0.1)
    intermittent = cells.p_error < 1.0
    assert intermittent.mean() == pytest.approx(0.6, abs=0.02)
    assert np.all((cells.p_error[intermittent] >= 0.2) & (cells.p_error[intermittent] <= 0.5))


_FRACTIONS = st.floats(0.0, 1.0)


@settings(max_examples=40, deadline=None)
@given(mu_v=st.floats(0.3, 0.7), sigma_cell_v=st.floats(0.005, 0.1),
       sigma_array_v=st.floats(0.0, 0.05), weak_column_share=_FRACTIONS,
       weak_columns=st.integers(0, 8), sa1_to_sa0=st.floats(0.0, 10.0), flip_share=_FRACTIONS,
       intermittent_share=_FRACTIONS, seed=st.integers(0, 2**32), chip=st.integers(0, 100))
def test_any_gaussian_model_draws_a_valid_table(mu_v, sigma_cell_v, sigma_array_v,
                                                weak_column_share, weak_columns, sa1_to_sa0,
                                                flip_share, intermittent_share, seed, chip):
    model = GaussianModel(mu_v, sigma_cell_v, sigma_array_v,
                          weak_column_share if weak_columns else 0.0, weak_columns,
                          sa1_to_sa0, flip_share, intermittent_share)
    rows, cols, n_arrays = 16, 8, 3
    cells = draw_chip(ChipGenerator(model, seed), chip, n_arrays, rows, cols, 0.5, 0.8)
    assert np.all(np.diff(cells.cell_index) > 0)
    assert np.all((cells.cell_index >= 0) & (cells.cell_index < n_arrays * rows * cols))
    assert np.all(np.isfinite(cells.v_fail_v) & (cells.v_fail_v >= 0.5))
    assert np.all(cells.fault_kind <= FLIP)
    assert np.all((cells.p_error > 0) & (cells.p_error <= 1))


@settings(max_examples=60, deadline=None)
@given(mu_v=st.floats(0.3, 0.7), sigma_cell_v=st.floats(0.005, 0.1), sigma_array_v=st.floats(0.0, 0.05),
       weak_columns=st.integers(0, 8), intermittent_share=_FRACTIONS, seed=st.integers(0, 2**32),
       vdd_lowest_v=st.one_of(st.floats(0.5, 0.8), st.sampled_from([0.5, 0.8, 0.55])))
def test_a_chip_drawn_down_to_a_voltage_is_the_full_chip_above_it(mu_v, sigma_cell_v, sigma_array_v, weak_columns,
                                                                  intermittent_share, seed, vdd_lowest_v):
    # Only the leading part of each array's tails is sorted and placed: the cells kept must be
    # exactly those of the full draw, with every attribute.
    model = GaussianModel(mu_v, sigma_cell_v, sigma_array_v, 0.5 if weak_columns else 0.0, weak_columns,
                          1.0, 0.3, intermittent_share)
    generator = ChipGenerator(model, seed)
    full = draw_chip(generator, 3, 4, 32, 8, 0.5, 0.8)
    lazy = draw_chip(generator, 3, 4, 32, 8, 0.5, 0.8, vdd_lowest_v)
    kept = full.v_fail_v >= vdd_lowest_v
    for field in ("cell_index", "v_fail_v", "fault_kind", "p_error"):
        np.testing.assert_array_equal(getattr(lazy, field), getattr(full, field)[kept])


@settings(max_examples=40, deadline=None)
@given(mu_v=st.floats(0.3, 0.7), sigma_v=st.floats(0.005, 0.1), rate=st.floats(1e-9, 0.5))
def test_gaussian_voltage_for_ber_inverts_population_ber(mu_v, sigma_v, rate):
    model = GaussianModel(mu_v, sigma_v)
    volts = model.voltage_for_ber(rate, 0.0, 10.0)
    assert model.population_ber(volts, 0.0, 10.0) == pytest.approx(rate, rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(p_max=st.floats(1e-6, 1.0), volts=st.lists(st.floats(0.5, 1.0), min_size=2, max_size=5))
def test_uniform_errors_are_nested(p_max, volts):
    profile = uniform_profile(p_max, seed=2, arrays=2, rows=32, cols=16)
    counts = profile.faulty_cells(np.sort(volts))
    assert np.all(np.diff(counts) <= 0)


def test_generator_round_trips_through_dict():
    generator = ChipGenerator(GaussianModel(0.4, 0.03, weak_column_share=0.2, weak_columns=3),
                              seed=11, fingerprint="a" * 64)
    assert ChipGenerator.from_dict(generator.to_dict()) == generator
    uniform = ChipGenerator(UniformModel(0.3), seed=1, fingerprint="b" * 64)
    assert ChipGenerator.from_dict(uniform.to_dict()) == uniform


def test_default_source_records_the_call():
    profile = uniform_profile(0.05, seed=3, **GEOMETRY)
    assert profile.source == "generated: accelsim.sram.uniform_profile(p_max=0.05, seed=3)"
    assert profile.kind == "generated" and profile.generator.model == UniformModel(0.05)


@pytest.mark.parametrize("build, message", [
    (lambda: uniform_profile(0.0), r"p_max = 0.0: expected a finite number in \(0"),
    (lambda: uniform_profile(1.5), "p_max = 1.5: expected"),
    (lambda: gaussian_profile(sigma_cell_v=-0.01), "sigma_cell_v = -0.01: expected"),
    (lambda: gaussian_profile(seed=-2), "generator.seed = -2: expected"),
    (lambda: gaussian_profile(mu_v="0.4"), "mu_v = '0.4': expected a finite number"),
    (lambda: gaussian_profile(vdd_min_v=0.9), "vdd_floor_v <= vdd_min_v <= vdd_nominal_v"),
])
def test_bad_generator_arguments_raise_profile_error(build, message):
    with pytest.raises(ProfileError, match=message):
        build()


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([0.01, 0.2, 1.0]), st.integers(0, 2**32), st.integers(0, 100), st.integers(1, 4))
def test_floor_flips_are_the_cells_of_the_full_draw(p_max, seed, chip, n_arrays):
    generator = ChipGenerator(UniformModel(p_max), seed=seed)
    cells = draw_chip(generator, chip, n_arrays, 64, 32, 0.5, 1.0)
    np.testing.assert_array_equal(draw_floor_flips(generator, chip, n_arrays, 64, 32), cells.cell_index)
    assert np.all(cells.fault_kind == FLIP) and np.all(cells.p_error == 1.0)


def test_floor_flips_need_a_uniform_model():
    with pytest.raises(TypeError, match="uniform chip model"):
        draw_floor_flips(ChipGenerator(GaussianModel(mu_v=0.65, sigma_cell_v=0.05), seed=0), 0, 1, 8, 8)
