"""Fail voltages of measured cells between the voltages they were measured at.

A chip measured at supplies ``V_0 < ... < V_{m-1}`` tells, for each cell, the
highest measured voltage ``V_h`` at which it was seen faulty; it works at
``V_{h+1}``, so its fail voltage lies in ``[V_h, V_{h+1})``. Where inside is
not measured, but the population's BER curve between measured voltages is
smooth in probit space: per-cell fail voltages are close to Gaussian (Vth
mismatch). We fit ``N(mu, sigma)`` to the measured cumulative BER and give
the cells of each interval evenly spaced quantiles of that Gaussian
restricted to the interval. At a measured voltage the profile then counts
exactly the measured cells; in between it follows the fitted curve, scaled
to pass through both ends. Placing the cells uniformly, or at either end,
would instead miss the curve by 2-3x in BER.
"""

from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["GaussianFit", "Placement", "fit_gaussian", "place_fail_voltages"]


@dataclass(frozen=True)
class GaussianFit:
    """Per-cell fail voltages ``~ N(mu_v, sigma_v)`` fitted to a measured BER curve.

    Attributes
    ----------
    mu_v, sigma_v : float
        Mean and standard deviation of the fail voltage, in volts.
    residuals : tuple of float
        Measured minus fitted probit of the BER at each measured voltage, in
        standard deviations; NaN where no cell was faulty (not fitted).
    """

    mu_v: float
    sigma_v: float
    residuals: tuple

    def ber(self, vdd_v):
        """Fitted fraction of cells faulty at ``vdd_v`` (volts)."""
        return special.ndtr((self.mu_v - np.asarray(vdd_v, dtype=np.float64)) / self.sigma_v)


@dataclass(frozen=True, eq=False)
class Placement:
    """Fail voltages and error probabilities of the measured faulty cells.

    Attributes
    ----------
    v_fail_v : ndarray of float64
        Fail voltage of each cell, in the row order of the observations.
    p_error : ndarray of float64
        1 for a cell seen faulty at every measured voltage up to its highest
        faulty one; otherwise the fraction of those voltages where it was.
    faulty : ndarray of int64
        Cells the profile counts as faulty at each measured voltage: those
        seen faulty there or at any higher measured voltage.
    non_nested : int
        Cells missing at some measured voltage below their highest faulty one.
    fit : GaussianFit or None
        None when fewer than two measured voltages have faults or the BER
        does not fall with voltage; cells are then spread uniformly.
    """

    v_fail_v: np.ndarray
    p_error: np.ndarray
    faulty: np.ndarray
    non_nested: int
    fit: GaussianFit | None


def fit_gaussian(voltages_v, faulty, n_cells):
    """Fit a Gaussian fail-voltage distribution to cumulative faulty counts.

    Weighted least squares of ``probit(BER)`` against voltage, each point
    weighted by the inverse binomial variance of its probit, so that a
    voltage with a single faulty cell barely pulls the fit.

    Parameters
    ----------
    voltages_v : ndarray of float64
        Measured supplies in volts, ascending.
    faulty : ndarray of int64
        Cells faulty at each voltage.
    n_cells : int
        Cells in the chip.

    Returns
    -------
    GaussianFit or None
        None when fewer than two voltages have a BER in (0, 1) or the fitted
        BER does not fall as the voltage rises.
    """
    voltages_v = np.asarray(voltages_v, dtype=np.float64)
    ber = np.asarray(faulty, dtype=np.float64) / n_cells
    fitted = (ber > 0) & (ber < 1)
    if np.count_nonzero(fitted) < 2:
        return None
    z = special.ndtri(ber[fitted])
    std_z = np.sqrt(ber[fitted] * (1 - ber[fitted]) / n_cells) / _normal_pdf(z)
    slope, intercept = np.polyfit(voltages_v[fitted], z, 1, w=1 / std_z)
    # probit(BER) = (mu - V) / sigma: the slope is -1 / sigma.
    if not slope < 0:
        return None
    sigma_v = -1 / slope
    mu_v = intercept * sigma_v
    residuals = np.full(voltages_v.shape, np.nan)
    residuals[fitted] = z - (intercept + slope * voltages_v[fitted])
    return GaussianFit(float(mu_v), float(sigma_v), tuple(residuals.tolist()))


def place_fail_voltages(voltages_v, seen, n_cells, top_v, *, seed=0):
    """Give each measured faulty cell a fail voltage and an error probability.

    Parameters
    ----------
    voltages_v : ndarray of float64
        Measured supplies in volts, strictly ascending, length ``m``.
    seen : ndarray of bool, shape (n, m)
        ``seen[i, k]``: cell ``i`` read wrong at ``voltages_v[k]``; every
        row has at least one True.
    n_cells : int
        Cells in the chip (for the BER of the fit).
    top_v : float
        Upper end of the interval of the cells faulty at the highest measured
        voltage (that voltage plus one step), ``>= voltages_v[-1]``.
    seed : int, optional
        Seeds the order in which the cells of an interval take its evenly
        spaced quantiles, so that no position in the array is favoured.

    Returns
    -------
    Placement
    """
    voltages_v = np.asarray(voltages_v, dtype=np.float64)
    m = voltages_v.size
    highest = m - 1 - np.argmax(seen[:, ::-1], axis=1)
    faulty = np.bincount(highest, minlength=m)[::-1].cumsum()[::-1].astype(np.int64)
    fit = fit_gaussian(voltages_v, faulty, n_cells)
    upper_v = np.append(voltages_v[1:], top_v)
    rng = np.random.default_rng(seed)
    v_fail_v = np.empty(highest.size, dtype=np.float64)
    for k in range(m):
        members = np.flatnonzero(highest == k)
        quantiles = rng.permutation((np.arange(members.size) + 0.5) / max(members.size, 1))
        v_fail_v[members] = _restricted_quantile(quantiles, voltages_v[k], upper_v[k], fit)
    seen_count = np.count_nonzero(seen, axis=1)
    p_error = seen_count / (highest + 1.0)
    return Placement(v_fail_v, p_error, faulty, int(np.count_nonzero(p_error < 1)), fit)


def _restricted_quantile(quantiles, low_v, high_v, fit):
    """Voltages at which the restricted tail ``(G(v) - G(high)) / (G(low) - G(high))`` is ``q``.

    ``G(v) = P(v_fail >= v)`` is the fitted tail; a cell with quantile ``q``
    is faulty at a supply ``V`` exactly when ``q`` is below the restricted
    tail at ``V``, so a fraction ``q`` of the interval's cells fails at or
    above the returned voltage. Worked in log space, as ``G`` spans many
    decades in the tail.
    """
    if high_v <= low_v:
        return np.full(quantiles.shape, low_v)
    if fit is None:
        return high_v - quantiles * (high_v - low_v)
    log_tail_low = special.log_ndtr((fit.mu_v - low_v) / fit.sigma_v)
    log_tail_high = special.log_ndtr((fit.mu_v - high_v) / fit.sigma_v)
    log_tail = np.logaddexp(log_tail_high + np.log1p(-quantiles), log_tail_low + np.log(quantiles))
    placed = fit.mu_v - fit.sigma_v * special.ndtri_exp(log_tail)
    return np.clip(placed, low_v, np.nextafter(high_v, -np.inf))


def _normal_pdf(z):
    return np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
