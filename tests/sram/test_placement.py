"""Placement of measured cells' fail voltages between measured voltages."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from accelsim.sram._placement import (
    GaussianFit,
    _restricted_quantile,
    fit_gaussian,
    place_fail_voltages,
)

VOLTAGES_V = np.array([0.50, 0.52, 0.54, 0.56, 0.58])


def _gaussian_counts(mu_v, sigma_v, n_cells, voltages_v=VOLTAGES_V):
    return np.round(n_cells * stats.norm.sf(voltages_v, mu_v, sigma_v)).astype(np.int64)


def _nested_seen(faulty):
    """Observations of nested faults: cell i is seen faulty at every voltage k with i < faulty[k]."""
    return np.arange(faulty[0])[:, None] < np.asarray(faulty)[None, :]


@settings(max_examples=40, deadline=None)
@given(st.floats(0.30, 0.45), st.floats(0.01, 0.06))
def test_fit_gaussian_recovers_the_distribution(mu_v, sigma_v):
    # Counts large enough at every voltage for their rounding not to matter.
    assume((VOLTAGES_V[-1] - mu_v) / sigma_v < 5.5)
    n_cells = 10**12
    fit = fit_gaussian(VOLTAGES_V, _gaussian_counts(mu_v, sigma_v, n_cells), n_cells)
    assert fit.mu_v == pytest.approx(mu_v, rel=1e-3)
    assert fit.sigma_v == pytest.approx(sigma_v, rel=1e-3)
    assert np.nanmax(np.abs(fit.residuals)) < 1e-3
    np.testing.assert_allclose(fit.ber(VOLTAGES_V), stats.norm.sf(VOLTAGES_V, mu_v, sigma_v),
                               rtol=1e-2)


def test_fit_gaussian_leaves_fault_free_voltages_out():
    faulty = np.array([500, 40, 0, 0, 0])
    fit = fit_gaussian(VOLTAGES_V, faulty, 10**6)
    assert np.isnan(fit.residuals[2:]).all()
    assert fit.ber(VOLTAGES_V[0]) * 10**6 == pytest.approx(500, rel=1e-6)


@pytest.mark.parametrize("faulty", [[5, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 2, 4, 8, 16]])
def test_fit_gaussian_gives_up_without_a_falling_curve(faulty):
    assert fit_gaussian(VOLTAGES_V, np.array(faulty), 1000) is None


def test_placement_follows_the_fit_between_measured_voltages():
    n_cells = 10**7
    faulty = _gaussian_counts(0.40, 0.04, n_cells)
    placement = place_fail_voltages(VOLTAGES_V, _nested_seen(faulty), n_cells, 0.60)
    middles = (VOLTAGES_V[:-1] + VOLTAGES_V[1:]) / 2
    counted = np.count_nonzero(placement.v_fail_v[:, None] >= middles, axis=0)
    expected = stats.norm.sf(middles, 0.40, 0.04) * n_cells
    np.testing.assert_allclose(counted, expected, rtol=0.05)
    # Uniform placement puts half of each interval's cells above its middle: well off the curve.
    uniform = faulty[1:] + (faulty[:-1] - faulty[1:]) / 2
    assert np.all(uniform / expected > 1.2)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.data())
def test_placement_reproduces_measured_counts(m, data):
    voltages_v = VOLTAGES_V[:m]
    n = data.draw(st.integers(1, 60))
    highest = np.array(data.draw(st.lists(st.integers(0, m - 1), min_size=n, max_size=n)))
    below = np.array(data.draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))).reshape(n, m)
    levels = np.arange(m)[None, :]
    seen = (below & (levels < highest[:, None])) | (levels == highest[:, None])
    top_v = voltages_v[-1] + 0.02
    placement = place_fail_voltages(voltages_v, seen, 10_000, top_v, seed=data.draw(st.integers(0, 9)))

    expected = (highest[:, None] >= levels).sum(axis=0)
    np.testing.assert_array_equal(placement.faulty, expected)
    counted = np.count_nonzero(placement.v_fail_v[:, None] >= voltages_v[None, :], axis=0)
    np.testing.assert_array_equal(counted, expected)
    upper_v = np.append(voltages_v[1:], top_v)
    assert np.all(placement.v_fail_v >= voltages_v[highest])
    assert np.all(placement.v_fail_v < upper_v[highest])
    np.testing.assert_allclose(placement.p_error, seen.sum(axis=1) / (highest + 1))
    assert placement.non_nested == np.count_nonzero(seen.sum(axis=1) < highest + 1)


def test_non_nested_cell_is_intermittent_at_its_highest_voltage():
    # Cell 1 is seen at 0.54 V and 0.50 V but not at 0.52 V.
    seen = np.array([[True, True, False], [True, False, True], [True, False, False]])
    placement = place_fail_voltages(VOLTAGES_V[:3], seen, 100, 0.56)
    assert placement.p_error.tolist() == pytest.approx([1.0, 2 / 3, 1.0])
    assert placement.non_nested == 1
    assert 0.54 <= placement.v_fail_v[1] < 0.56
    assert placement.faulty.tolist() == [3, 2, 1]


def test_placement_is_deterministic_and_seeded():
    faulty = _gaussian_counts(0.40, 0.04, 10**6)
    seen = _nested_seen(faulty)
    a = place_fail_voltages(VOLTAGES_V, seen, 10**6, 0.60, seed=1).v_fail_v
    b = place_fail_voltages(VOLTAGES_V, seen, 10**6, 0.60, seed=1).v_fail_v
    c = place_fail_voltages(VOLTAGES_V, seen, 10**6, 0.60, seed=2).v_fail_v
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(np.sort(a), np.sort(c))  # same quantiles, other cells


def test_without_fit_cells_spread_evenly_inside_the_interval():
    seen = np.ones((4, 1), dtype=bool)
    placement = place_fail_voltages(VOLTAGES_V[:1], seen, 100, 0.54)
    assert placement.fit is None
    np.testing.assert_allclose(np.sort(placement.v_fail_v), [0.505, 0.515, 0.525, 0.535])


def test_an_empty_top_interval_places_cells_at_the_highest_voltage():
    seen = np.array([[True, True], [True, False]])
    placement = place_fail_voltages(VOLTAGES_V[:2], seen, 100, VOLTAGES_V[1])
    assert placement.v_fail_v[0] == VOLTAGES_V[1]


def test_far_tail_placement_stays_finite_and_inside():
    # A fit whose tail is ~1e-300 at the measured voltages must not underflow.
    fit = GaussianFit(mu_v=0.0, sigma_v=0.01, residuals=())
    placed = _restricted_quantile(np.array([0.1, 0.5, 0.9]), 0.37, 0.39, fit)
    assert np.all(np.isfinite(placed)) and np.all((placed >= 0.37) & (placed < 0.39))
    assert np.all(np.diff(placed) < 0)
