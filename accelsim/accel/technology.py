"""Energy of arithmetic and SRAM from Horowitz (ISSCC 2014), and how it scales.

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
]

ADD_8B_J = 0.03e-12
ADD_32B_J = 0.1e-12
MULT_8B_J = 0.2e-12
MULT_32B_J = 3.1e-12
#: (capacity in bits, energy of one 64-bit read in joules)
SRAM_READ_64B_J = ((8 * 8192, 10e-12), (32 * 8192, 20e-12), (1024 * 8192, 100e-12))


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
