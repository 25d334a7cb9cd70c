"""The weight SRAM: profiles of faulty cells, synthetic chips, simulated reads, energy.

This layer stores bits and knows no network and no quantization.
"""

from accelsim.sram.cells import FLIP, SA0, SA1, CellTable
from accelsim.sram.energy import EnergyModel
from accelsim.sram.generators import gaussian_profile, uniform_profile
from accelsim.sram.memory import (
    Placement,
    ReadResult,
    SimulatedMemory,
    SimulatedMemoryError,
    SparseRead,
)
from accelsim.sram.profile import Profile, ProfileError, list_profiles, load_profile

__all__ = [
    "load_profile",
    "list_profiles",
    "Profile",
    "ProfileError",
    "gaussian_profile",
    "uniform_profile",
    "SimulatedMemory",
    "ReadResult",
    "SparseRead",
    "Placement",
    "SimulatedMemoryError",
    "EnergyModel",
    "CellTable",
    "SA0",
    "SA1",
    "FLIP",
]
