"""Synthetic chips: Gaussian fail voltages (a chip-like profile) and uniform rates.

Both build a ``generated`` :class:`~accelsim.sram.profile.Profile` that stores
only its model, seed and fingerprint; the cells are drawn on load, sparsely and
deterministically (see :mod:`accelsim.sram._chip_models`).

The defaults of :func:`gaussian_profile` describe the 14 nm SRAM of
Chandramoorthy et al. (HPCA 2019) as plotted by Stutz et al. (MLSys 2021,
Fig. 1): nominal 0.80 V, Vmin 0.68 V (first failures ~15% below nominal, as
on 14 nm FinFET test chips, Ganapathy et al., DAC 2017), and a fail voltage
N(0.7125, 0.0534) x Vmin, which reproduces the measured BER from 0.958 to
0.75 Vmin within 25%.
"""

from accelsim.sram._chip_models import ChipGenerator, GaussianModel, UniformModel
from accelsim.sram._meta import ProfileMeta
from accelsim.sram.energy import EnergyModel
from accelsim.sram.profile import Profile

__all__ = ["gaussian_profile", "uniform_profile", "GaussianModel", "UniformModel"]

# 14 nm calibration, in units of Vmin (see the module docstring).
_MU_REL_14NM, _SIGMA_REL_14NM, _VMIN_14NM_V = 0.7125, 0.0534, 0.68


def gaussian_profile(mu_v=_MU_REL_14NM * _VMIN_14NM_V, sigma_cell_v=_SIGMA_REL_14NM * _VMIN_14NM_V,
                     *, sigma_array_v=0.0, weak_column_share=0.0, weak_columns=0,
                     sa1_to_sa0=1.0, flip_share=0.0, intermittent_share=0.0,
                     p_error_min=0.1, p_error_max=0.9, seed=0, name="gaussian",
                     description=None, technology="14nm", temperature_k=300.0,
                     arrays=32, rows=512, cols=64, vdd_nominal_v=0.80, vdd_min_v=_VMIN_14NM_V,
                     vdd_floor_v=0.50, energy=None, source=None, notes=None):
    """A generated chip whose cells fail at Gaussian-distributed voltages.

    Parameters
    ----------
    mu_v, sigma_cell_v : float
        Mean and within-array spread of a cell's fail voltage, in volts.
    sigma_array_v : float
        Spread of a per-array shift of the mean, in volts (the population BER
        sees ``hypot(sigma_cell_v, sigma_array_v)``).
    weak_column_share : float
        Share of each array's faults moved onto ``weak_columns`` columns.
    weak_columns : int
        Weak columns per array.
    sa1_to_sa0 : float
        Ratio of stuck-at-1 to stuck-at-0 cells (a 0->1 to 1->0 error bias).
    flip_share : float
        Share of faulty cells that flip the stored bit.
    intermittent_share : float
        Share of faulty cells that err only sometimes, with an error
        probability uniform in ``[p_error_min, p_error_max]``.
    seed : int
        Seed of the random stream (chip ``c``, array ``a``: ``SeedSequence([seed, c, a])``).
    name, description, technology, notes : str
        Provenance written to the meta.
    temperature_k : float
        Temperature the profile describes, in kelvin.
    arrays, rows, cols : int
        Declared geometry (a chip may be drawn with more arrays).
    vdd_nominal_v, vdd_min_v, vdd_floor_v : float
        Nominal supply, declared Vmin and the lowest voltage described, in volts.
    energy : EnergyModel, optional
        SRAM energy parameters (default: ``EnergyModel()``).
    source : str, optional
        How the profile was made (default: this call with its parameters).

    Returns
    -------
    Profile
        A ``generated`` profile, fingerprinted.
    """
    model = GaussianModel(mu_v, sigma_cell_v, sigma_array_v, weak_column_share, weak_columns,
                          sa1_to_sa0, flip_share, intermittent_share, p_error_min, p_error_max)
    if description is None:
        description = (f"Gaussian fail voltages N({model.mu_v:g} V, {model.sigma_total_v:g} V) "
                       f"over {arrays} arrays of {rows} x {cols} cells")
    return _generated_profile(model, seed, name, description, technology, temperature_k,
                              (arrays, rows, cols), (vdd_nominal_v, vdd_min_v, vdd_floor_v),
                              energy, source, notes)


def uniform_profile(p_max, *, seed=0, name="uniform", description=None, technology="rate-based",
                    temperature_k=300.0, arrays=32, rows=512, cols=64, vdd_nominal_v=1.0,
                    vdd_floor_v=0.5, energy=None, source=None, notes=None):
    """A generated chip of random bit flips at a rate set by the voltage.

    Every cell flips when its uniform draw ``u < p(V)``, with
    ``p(V) = p_max * (vdd_nominal_v - V) / (vdd_nominal_v - vdd_floor_v)``:
    ``profile.voltage_for_ber(p)`` gives the voltage of rate ``p``, and the
    flips at a lower rate are a subset of those at a higher one (Stutz et
    al.'s "random bit errors at rate p"). ``vdd_min_v`` is the nominal
    voltage: any voltage below it has errors.

    Parameters
    ----------
    p_max : float
        Bit error rate at ``vdd_floor_v``, in (0, 1].
    seed : int
        Seed of the random stream.
    name, description, technology, notes : str
        Provenance written to the meta.
    temperature_k : float
        Temperature the profile describes, in kelvin.
    arrays, rows, cols : int
        Declared geometry.
    vdd_nominal_v, vdd_floor_v : float
        Voltages of rate 0 and rate ``p_max``, in volts (floor < nominal).
    energy : EnergyModel, optional
        SRAM energy parameters (default: ``EnergyModel()``).
    source : str, optional
        How the profile was made (default: this call with its parameters).

    Returns
    -------
    Profile
    """
    model = UniformModel(p_max)
    if description is None:
        description = (f"uniform random bit flips, rate 0 at {vdd_nominal_v:g} V rising "
                       f"linearly to {model.p_max:g} at {vdd_floor_v:g} V")
    return _generated_profile(model, seed, name, description, technology, temperature_k,
                              (arrays, rows, cols), (vdd_nominal_v, vdd_nominal_v, vdd_floor_v),
                              energy, source, notes)


def _generated_profile(model, seed, name, description, technology, temperature_k, geometry,
                       voltages, energy, source, notes):
    generator = ChipGenerator(model, seed)
    if source is None:
        params = generator.to_dict()["params"]
        params = ", ".join(f"{key}={value!r}" for key, value in params.items())
        source = f"generated: accelsim.sram.{model.name}_profile({params}, seed={generator.seed})"
    arrays, rows, cols = geometry
    vdd_nominal_v, vdd_min_v, vdd_floor_v = voltages
    meta = ProfileMeta(name=name, description=description, technology=technology,
                       temperature_k=temperature_k, arrays=arrays, rows=rows, cols=cols,
                       vdd_nominal_v=vdd_nominal_v, vdd_min_v=vdd_min_v, vdd_floor_v=vdd_floor_v,
                       energy=EnergyModel() if energy is None else energy, source=source,
                       kind="generated", generator=generator, notes=notes)
    return Profile(meta)
