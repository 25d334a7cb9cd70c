"""accelsim: energy and accuracy of DNN accelerators with under-volted weight SRAM.

The public names are resolved lazily, so ``import accelsim`` stays cheap and
compiles nothing; the torch-based layers load on first use.
"""

import importlib

from accelsim._version import __version__

__all__ = [
    "__version__",
    "load_profile",
    "Profile",
    "ProfileError",
    "uniform_profile",
    "SimulatedMemory",
    "EnergyModel",
    "QuantizedModel",
    "ModelImportError",
    "load_model",
    "load_dataset",
    "sweep",
    "optimize",
    "zoo",
    "attack",
]

_LAZY = {
    "load_profile": "accelsim.sram",
    "Profile": "accelsim.sram",
    "ProfileError": "accelsim.sram",
    "uniform_profile": "accelsim.sram",
    "SimulatedMemory": "accelsim.sram",
    "EnergyModel": "accelsim.sram",
    "QuantizedModel": "accelsim.engine",
    "ModelImportError": "accelsim.engine",
    "load_model": "accelsim.models",
    "load_dataset": "accelsim.data",
    "zoo": "accelsim.models",
}


def __getattr__(name):
    if name in ("sweep", "optimize", "attack"):  # callable packages
        return importlib.import_module(f"accelsim.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'accelsim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
