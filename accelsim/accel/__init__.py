"""The accelerator: memories, PE array and clock -> energy and latency per inference.

Takes per-layer :class:`LayerWorkload` records (from the engine) and a
profile's :class:`accelsim.sram.EnergyModel`; knows no torch. The cost model
is documented in :mod:`accelsim.accel.energy`.
"""

from accelsim.accel._validate import AcceleratorError
from accelsim.accel.accelerator import (
    PRESETS,
    Accelerator,
    accelerator_preset,
    default_accelerator,
    load_accelerator,
)
from accelsim.accel.energy import EnergyBreakdown, LayerEnergy
from accelsim.accel.specs import (
    ActivationMemorySpec,
    AlphaPower,
    MacEnergies,
    PEArray,
    WeightMemorySpec,
)
from accelsim.accel.workload import LayerWorkload

__all__ = [
    "Accelerator",
    "AcceleratorError",
    "ActivationMemorySpec",
    "AlphaPower",
    "EnergyBreakdown",
    "LayerEnergy",
    "LayerWorkload",
    "MacEnergies",
    "PEArray",
    "WeightMemorySpec",
    "PRESETS",
    "accelerator_preset",
    "default_accelerator",
    "load_accelerator",
]
