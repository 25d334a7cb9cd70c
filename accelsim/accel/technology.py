"""Energy of arithmetic and SRAM from Horowitz (ISSCC 2014), and how it scales.

One model, one technology: every SRAM of an accelerator (weight SRAM,
activation SRAM, any buffer) and its MACs take their energies from the
functions here at the accelerator's node and nominal supply
(:func:`sram_energy_model`, :func:`node_scale`), so that components are never
priced at different nodes.

M. Horowitz, "Computing's energy problem (and what we can do about it)",
ISSCC 2014, 45 nm at 0.9 V:

- integer add: 0.03 pJ at 8 bits, 0.1 pJ at 32 bits;
- integer multiply: 0.2 pJ at 8 bits, 3.1 pJ at 32 bits;
- SRAM read of 64 bits: 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ (1 MB).

Between and beyond these points energies follow power laws fitted exactly
through them: a multiplier's energy grows with its area, about the product
of its operand widths (the exponent fitted through 8 and 32 bits is 1.98 in
the width, close to 2); an adder's grows about linearly (0.87); an SRAM read
grows with the bit-line and word-line length, i.e. a power of the capacity
(log-log interpolation between the three sizes, end segments extended).

Word width: Horowitz's SRAM figures are 64-bit accesses. An access of ``w``
bits costs ``E64(C) * (f + (1 - f) * w / 64)``: a share ``f`` =
:data:`SRAM_PERIPHERY_SHARE` (decoder, word line, control; an assumption in
the range CACTI reports for such banks, not a Horowitz figure) is paid per
access whatever its width, the rest per bit read. Per bit, narrow words cost
more and wide words less; at 64 bits the figure is Horowitz's exactly.
Writes are priced as reads (Horowitz gives no write figure).

Leakage: :data:`SRAM_LEAKAGE_45NM_W_PER_BIT` (50 pW per 6T cell at 45 nm,
0.9 V, room temperature; the order of magnitude CACTI-P gives for
high-performance 45 nm cells, not a measured figure), scaling with the supply
as in :class:`accelsim.sram.EnergyModel` (``leakage_k_per_v = 2``).

Node and supply: first-order constant-field (Dennard) scaling, switched
capacitance proportional to the feature size, so a dynamic energy at node
``L`` and nominal supply ``V`` is the 45 nm, 0.9 V figure times
``(L / 45 nm) * (V / 0.9 V) ** 2`` (:func:`node_scale`); leakage power per
cell scales as ``(L / 45 nm) * (V / 0.9 V)``. From 45 nm to 14 nm at 0.8 V
this gives 0.25x, 65 nm at 1.0 V gives 1.78x. It is a first-order model:
measured node-to-node factors (e.g. Stillmaker and Baas, Integration 58,
2017) depart from it, FinFET nodes in particular; what it guarantees is that
all components of one accelerator are priced at the same node.
"""

import math

import numpy as np

__all__ = [
    "ADD_8B_J",
    "ADD_32B_J",
    "MULT_8B_J",
    "MULT_32B_J",
    "SRAM_READ_64B_J",
    "width_energy_j",
    "sram_read_energy_per_bit_j",
    "sram_energy_model",
    "node_scale",
    "REFERENCE_NODE_NM",
    "REFERENCE_VDD_V",
    "SRAM_PERIPHERY_SHARE",
    "SRAM_LEAKAGE_45NM_W_PER_BIT",
]

ADD_8B_J = 0.03e-12
ADD_32B_J = 0.1e-12
MULT_8B_J = 0.2e-12
MULT_32B_J = 3.1e-12
#: (capacity in bits, energy of one 64-bit read in joules)
SRAM_READ_64B_J = ((8 * 8192, 10e-12), (32 * 8192, 20e-12), (1024 * 8192, 100e-12))
#: Node and supply of Horowitz's figures.
REFERENCE_NODE_NM = 45.0
REFERENCE_VDD_V = 0.9
#: Share of a 64-bit SRAM access paid per access rather than per bit (assumed).
SRAM_PERIPHERY_SHARE = 0.25
#: Leakage power of one SRAM cell at 45 nm, 0.9 V (assumed, CACTI-P order of magnitude).
SRAM_LEAKAGE_45NM_W_PER_BIT = 50e-12
#: Exponent of the leakage's fall with supply, 1/V (see accelsim.sram.EnergyModel).
SRAM_LEAKAGE_K_PER_V = 2.0


def width_energy_j(width_bits, energy_8b_j, energy_32b_j):
    """Energy of an operator ``width_bits`` wide, power law through 8 and 32 bits.

    ``E(w) = E8 * (w / 8) ** g`` with ``g = log(E32 / E8) / log(4)``, exact at
    both points. For a multiplier of unequal operands pass the geometric
    mean of the two widths, so the energy follows the product of the widths.

    Parameters
    ----------
    width_bits : float
        Operator width in bits (positive).
    energy_8b_j, energy_32b_j : float
        Energies at 8 and 32 bits in joules (positive).

    Returns
    -------
    float
        Energy in joules.
    """
    exponent = math.log(energy_32b_j / energy_8b_j) / math.log(4.0)
    return energy_8b_j * (width_bits / 8.0) ** exponent


def sram_read_energy_per_bit_j(capacity_bits):
    """Read energy per bit of an SRAM of ``capacity_bits``, after Horowitz.

    Log-log interpolation of :data:`SRAM_READ_64B_J` in the capacity,
    divided by the 64 bits of an access; below 8 KB and above 1 MB the end
    segments are extended.

    Parameters
    ----------
    capacity_bits : float
        SRAM capacity in bits (positive).

    Returns
    -------
    float
        Energy per bit read, in joules (at 45 nm, 0.9 V).
    """
    log_capacity = np.log([size for size, _ in SRAM_READ_64B_J])
    log_energy = np.log([energy for _, energy in SRAM_READ_64B_J])
    x = math.log(capacity_bits)
    segment = int(np.clip(np.searchsorted(log_capacity, x) - 1, 0, len(log_capacity) - 2))
    slope = ((log_energy[segment + 1] - log_energy[segment])
             / (log_capacity[segment + 1] - log_capacity[segment]))
    return math.exp(log_energy[segment] + slope * (x - log_capacity[segment])) / 64.0


def node_scale(node_nm, vdd_nominal_v):
    """Factor from Horowitz's 45 nm, 0.9 V dynamic energies to ``node_nm`` at ``vdd_nominal_v``.

    ``(node_nm / 45) * (vdd_nominal_v / 0.9) ** 2`` (constant-field scaling,
    see the module docs): 0.246 at 14 nm, 0.8 V; 1.78 at 65 nm, 1.0 V.
    """
    return (node_nm / REFERENCE_NODE_NM) * (vdd_nominal_v / REFERENCE_VDD_V) ** 2


def sram_energy_model(capacity_bits, word_bits, node_nm, vdd_nominal_v):
    """Per-bit read, write and leakage of an SRAM at a node, at its nominal supply.

    Parameters
    ----------
    capacity_bits : float
        SRAM capacity in bits.
    word_bits : int
        Bits per access (port width).
    node_nm : float
        Technology node in nanometres.
    vdd_nominal_v : float
        Nominal supply of that node, volts; the energies hold there.

    Returns
    -------
    accelsim.sram.EnergyModel
        Read and write energy per bit (joules), leakage per bit (watts).
    """
    from accelsim.sram.energy import EnergyModel

    per_access_64 = sram_read_energy_per_bit_j(capacity_bits) * 64.0
    access = per_access_64 * (SRAM_PERIPHERY_SHARE + (1.0 - SRAM_PERIPHERY_SHARE) * word_bits / 64.0)
    read = access / word_bits * node_scale(node_nm, vdd_nominal_v)
    leakage = (SRAM_LEAKAGE_45NM_W_PER_BIT * (node_nm / REFERENCE_NODE_NM)
               * (vdd_nominal_v / REFERENCE_VDD_V))
    return EnergyModel(read_energy_per_bit_j=read, write_energy_per_bit_j=read,
                       leakage_power_per_bit_w=leakage, leakage_k_per_v=SRAM_LEAKAGE_K_PER_V)
