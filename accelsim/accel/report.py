"""Per-component energies of an accelerator: per access and per inference at nominal.

What ``accelsim accel info`` prints, as plain data (no printing here).
"""

from dataclasses import dataclass

__all__ = ["ComponentEnergy", "component_energies"]


@dataclass(frozen=True)
class ComponentEnergy:
    """One row of the energy table.

    Attributes
    ----------
    component : str
        ``weight SRAM (dynamic)``, ``weight SRAM (leakage)``,
        ``activation SRAM``, ``MACs`` or ``total``.
    per_access_j : float or None
        Energy of one access (a ``word_bits`` read; one MAC at the model's
        widths), joules; None for leakage and the total.
    per_inference_j : float or None
        Energy per inference at nominal supply (None without workloads).
    share : float or None
        Share of the total per-inference energy.
    """

    component: str
    per_access_j: float | None
    per_inference_j: float | None
    share: float | None


def component_energies(accelerator, workloads=None, profile_energy=None, vdd_nominal_v=None):
    """The energy table of ``accelerator`` (per access, and per inference of ``workloads``).

    Parameters
    ----------
    accelerator : Accelerator
    workloads : sequence of LayerWorkload, optional
        A model's layers (``QuantizedModel.workloads()``); without them only
        the per-access column is filled.
    profile_energy : accelsim.sram.EnergyModel, optional
        Needed when the weight SRAM's ``energy_source`` is ``"profile"``.
    vdd_nominal_v : float, optional
        Nominal supply (default: the accelerator's ``vdd_nominal_v``).

    Returns
    -------
    list of ComponentEnergy
    """
    vdd = accelerator.vdd_nominal_v if vdd_nominal_v is None else vdd_nominal_v
    weight = accelerator.weight_energy_model(profile_energy)
    word = accelerator.word_bits
    act = accelerator.activation_memory
    if workloads:
        first = workloads[0]
        mac_access = accelerator.mac_energy.mac_energy_j(first.weight_bits, first.act_bits)
    else:
        mac_access = accelerator.mac_energy.mac_energy_j(8, 8)
    per_access = {
        "weight SRAM (dynamic)": weight.read_energy_per_bit_j * word,
        "weight SRAM (leakage)": None,
        "activation SRAM": act.read_energy_per_bit_j * word,
        "MACs": mac_access,
        "total": None,
    }
    if not workloads:
        return [ComponentEnergy(name, value, None, None) for name, value in per_access.items()]
    breakdown = accelerator.energy(workloads, profile_energy, vdd, vdd)
    per_inference = {
        "weight SRAM (dynamic)": breakdown.weight_mem_dynamic_j,
        "weight SRAM (leakage)": breakdown.weight_mem_leakage_j,
        "activation SRAM": breakdown.act_mem_j,
        "MACs": breakdown.mac_j,
        "total": breakdown.total_j,
    }
    return [ComponentEnergy(name, per_access[name], per_inference[name],
                            per_inference[name] / breakdown.total_j)
            for name in per_access]
